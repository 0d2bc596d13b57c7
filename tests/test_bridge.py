"""The sync bridge: async iterators and coroutines from sync code, with or without a running loop."""

from __future__ import annotations

import _thread
import asyncio
import os
import signal
import threading
import time

import pytest

from openai_magic.core import bridge


class Boom(Exception):
    pass


pytestmark = pytest.mark.timing  # interrupts and threads


async def numbers(n: int, finished: threading.Event | None = None):
    try:
        for i in range(n):
            await asyncio.sleep(0)
            yield i
    finally:
        if finished is not None:
            finished.set()


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


def test_iterate_yields_all_items():
    assert list(bridge.iterate(numbers(100))) == list(range(100))


def test_run_returns_result():
    assert bridge.run(add(2, 3)) == 5


def test_same_loop_reused_across_calls():
    async def current_loop():
        return asyncio.get_running_loop()

    first = bridge.run(current_loop())
    second = bridge.run(current_loop())
    assert first is second is bridge.loop()


def test_iterate_accepts_awaitable_of_async_iterable():
    async def make():
        return numbers(3)

    assert list(bridge.iterate(make())) == [0, 1, 2]


async def test_works_inside_a_running_loop():
    # pytest-asyncio runs this test on a loop in this thread, like an IPython kernel runs a cell.
    assert asyncio.get_running_loop() is not bridge.loop()
    assert list(bridge.iterate(numbers(5))) == [0, 1, 2, 3, 4]
    assert bridge.run(add(1, 1)) == 2


def test_exceptions_propagate_with_their_type():
    async def failing():
        yield 1
        raise Boom("bad thing")

    items = []
    with pytest.raises(Boom, match="bad thing"):
        for item in bridge.iterate(failing()):
            items.append(item)
    assert items == [1]

    async def failing_coro():
        raise Boom("coro")

    with pytest.raises(Boom, match="coro"):
        bridge.run(failing_coro())


def test_early_break_cancels_async_generator():
    finished = threading.Event()
    cancelled = threading.Event()

    async def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
                await asyncio.sleep(0.001)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finally:
            finished.set()

    iterator = bridge.iterate(endless())
    for item in iterator:
        if item == 3:
            break
    iterator.close()
    assert finished.is_set()
    assert cancelled.is_set()


def _stuck_generator(finished: threading.Event, interrupt, consumed: threading.Event):
    async def gen():
        try:
            yield "first"
            while not consumed.is_set():  # interrupt only once the caller holds the first item
                await asyncio.sleep(0.001)
            interrupt()
            await asyncio.Event().wait()  # never set: only cancellation ends this
            yield "never"
        finally:
            finished.set()

    return gen()


def test_keyboard_interrupt_via_interrupt_main_cancels_generator():
    finished, consumed = threading.Event(), threading.Event()
    iterator = bridge.iterate(_stuck_generator(finished, _thread.interrupt_main, consumed))
    received = []
    with pytest.raises(KeyboardInterrupt):
        for item in iterator:
            received.append(item)
            consumed.set()
    iterator.close()
    assert received == ["first"]
    assert finished.is_set()


def test_keyboard_interrupt_via_sigint_cancels_generator():
    finished, consumed = threading.Event(), threading.Event()
    main = threading.main_thread().ident
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        iterator = bridge.iterate(
            _stuck_generator(finished, lambda: signal.pthread_kill(main, signal.SIGINT), consumed)
        )
        with pytest.raises(KeyboardInterrupt):
            for _ in iterator:
                consumed.set()
        iterator.close()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert finished.is_set()


def test_keyboard_interrupt_during_run_cancels_coroutine():
    finished = threading.Event()

    async def stuck():
        try:
            _thread.interrupt_main()
            await asyncio.Event().wait()
        finally:
            finished.set()

    with pytest.raises(KeyboardInterrupt):
        bridge.run(stuck())
    assert finished.is_set()


def test_usable_from_many_threads_at_once():
    results: dict[int, list[int]] = {}

    def worker(k: int) -> None:
        results[k] = list(bridge.iterate(numbers(50)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(v == list(range(50)) for v in results.values()) and len(results) == 4


def test_blocking_on_portal_thread_is_refused():
    async def nested():
        return bridge.run(add(1, 2))

    with pytest.raises(RuntimeError, match="own event loop"):
        bridge.run(nested())


def test_pid_is_stable():
    # Sanity: the portal is a thread in this process, not a subprocess.
    assert bridge.run(_getpid()) == os.getpid()


async def _getpid() -> int:
    return os.getpid()


def test_unused_iterator_starts_nothing():
    started = threading.Event()

    async def gen():
        started.set()
        yield 1

    iterator = bridge.iterate(gen())
    bridge.run(add(0, 0))  # give the portal loop a turn
    assert not started.is_set()
    assert list(iterator) == [1] and started.is_set()


# --- in_caller: sync functions shipped back to the waiting thread ---------------------------------


def where() -> threading.Thread:
    return threading.current_thread()


def test_in_caller_runs_on_the_waiting_thread_under_run_and_iterate():
    async def ask() -> tuple[threading.Thread, threading.Thread, bool]:
        return await bridge.in_caller(where), threading.current_thread(), bridge.driven()

    caller, loop_thread, driven = bridge.run(ask())
    assert caller is threading.current_thread() and loop_thread is not caller and driven

    async def several():
        for n in range(3):
            yield n, await bridge.in_caller(where)

    assert list(bridge.iterate(several())) == [(n, threading.current_thread()) for n in range(3)]


def test_in_caller_from_another_thread_runs_there():
    seen: list[threading.Thread] = []

    async def ask() -> threading.Thread:
        return await bridge.in_caller(where)

    worker = threading.Thread(target=lambda: seen.append(bridge.run(ask())))
    worker.start()
    worker.join()
    assert seen == [worker]


def test_in_caller_passes_arguments_and_sends_exceptions_back():
    def divide(a: int, b: int = 1) -> float:
        return a / b

    async def ask() -> tuple[float, str]:
        try:
            await bridge.in_caller(divide, 1, b=0)
        except ZeroDivisionError as exc:
            return await bridge.in_caller(divide, 6, b=3), type(exc).__name__
        raise AssertionError("no error")

    assert bridge.run(ask()) == (2.0, "ZeroDivisionError")


def test_in_caller_without_the_bridge_runs_inline_on_the_loop_thread():
    async def ask() -> tuple[threading.Thread, threading.Thread, bool]:
        return await bridge.in_caller(where), threading.current_thread(), bridge.driven()

    caller, loop_thread, driven = asyncio.run(ask())
    assert caller is loop_thread is threading.current_thread() and not driven


def test_keyboard_interrupt_inside_in_caller_cancels_the_job():
    finished, cancelled = threading.Event(), threading.Event()

    def interrupted() -> None:
        raise KeyboardInterrupt

    async def ask():
        try:
            yield "before"
            await bridge.in_caller(interrupted)
            yield "never"
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finally:
            finished.set()

    received = []
    with pytest.raises(KeyboardInterrupt):
        for item in bridge.iterate(ask()):
            received.append(item)
    assert received == ["before"] and cancelled.is_set() and finished.is_set()
    assert bridge.run(add(1, 2)) == 3  # the portal still works


def test_interrupt_main_while_in_caller_function_sleeps_cancels_the_run():
    finished, started = threading.Event(), threading.Event()

    def sleeper() -> None:
        started.set()
        while True:  # only the interrupt ends this (interrupt_main is seen between bytecodes)
            time.sleep(0.005)

    async def ask() -> None:
        try:
            await bridge.in_caller(sleeper)
        finally:
            finished.set()

    def interrupt_when_started() -> None:
        started.wait()
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        bridge.run(ask())
    assert finished.is_set()
