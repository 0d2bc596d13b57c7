"""Run async code from sync code, with or without a running event loop in the calling thread.

One long-lived private event loop runs in a daemon thread (a "portal", like anyio's BlockingPortal),
so httpx connection pools bound to that loop are reused across calls, and asyncio is never patched
(no nest_asyncio). Results cross back to the caller through a thread-safe queue; the caller waits
in short slices so a kernel interrupt (KeyboardInterrupt) is raised promptly in its own thread,
after which the async side is cancelled and given a moment to run its cleanup.

The async side can also hand a sync function back to the waiting thread (`in_caller`): tools and
confirm callbacks then run like the user's own code, in a notebook on the kernel's main thread where
the stop button interrupts them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import inspect
import os
import queue
import threading
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

# Waiting in slices keeps the calling thread responsive to `_thread.interrupt_main()`, which only
# sets a flag that is checked between bytecodes; a real SIGINT interrupts the wait immediately.
_POLL_SECONDS = 0.05
# How long a cancelled job may take to run its `finally` blocks before the caller moves on.
_CANCEL_GRACE_SECONDS = 5.0

_ITEM, _DONE, _ERROR, _CALL = 0, 1, 2, 3

_lock = threading.Lock()
_portal: _Portal | None = None
_shutdown_hooks: list[Callable[[], Awaitable[None]]] = []


class _Portal:
    """A private event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(
            target=self._main, args=(started,), name="openai_magic-portal", daemon=True
        )
        self.thread.start()
        started.wait()

    def _main(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(started.set)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def stop(self) -> None:
        """Run shutdown hooks, cancel leftover tasks, and stop the loop (used at exit)."""

        async def finish() -> None:
            for hook in list(_shutdown_hooks):
                with contextlib.suppress(Exception):  # best effort at interpreter exit
                    await hook()
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        if self.loop.is_closed() or not self.thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(finish(), self.loop)
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            future.result(timeout=_CANCEL_GRACE_SECONDS)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=_CANCEL_GRACE_SECONDS)


def _get_portal() -> _Portal:
    global _portal
    portal = _portal
    if portal is not None and portal.thread.is_alive():
        return portal
    with _lock:
        if _portal is None or not _portal.thread.is_alive():
            _portal = _Portal()
        return _portal


def _reset_after_fork() -> None:
    # The portal thread does not exist in a forked child; start a fresh one on demand.
    global _portal, _lock
    _portal = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def shutdown() -> None:
    """Stop the portal loop after running the registered async shutdown hooks (also at exit)."""
    global _portal
    with _lock:
        portal, _portal = _portal, None
    if portal is not None:
        portal.stop()


atexit.register(shutdown)


def on_shutdown(hook: Callable[[], Awaitable[None]]) -> None:
    """Register an async callable to run on the portal loop before it stops (e.g. closing clients)."""
    if hook not in _shutdown_hooks:
        _shutdown_hooks.append(hook)


def loop() -> asyncio.AbstractEventLoop:
    """The portal's event loop (started on first use)."""
    return _get_portal().loop


def in_portal_thread() -> bool:
    """True when called from the portal's own thread (where blocking on it would deadlock)."""
    portal = _portal
    return portal is not None and threading.current_thread() is portal.thread


class _CallerRequest:
    """A sync function the portal side wants run on the caller's thread, and where its outcome goes."""

    __slots__ = ("args", "fn", "future", "kwargs", "loop")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        future: asyncio.Future[Any],
    ) -> None:
        self.fn, self.args, self.kwargs, self.future = fn, args, kwargs, future
        self.loop = future.get_loop()

    def serve(self) -> None:
        """Run the function here; its result or exception goes back to the awaiting coroutine.

        A `BaseException` (KeyboardInterrupt from the kernel's stop button) is not sent back: it
        propagates in this thread, whose handler cancels the whole job like any interrupt.
        """
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Exception as exc:
            self._settle(exc, failed=True)
        else:
            self._settle(result, failed=False)

    def _settle(self, value: Any, failed: bool) -> None:
        def settle() -> None:
            if self.future.done():  # the job was cancelled meanwhile
                return
            if not failed:
                self.future.set_result(value)
            elif isinstance(value, StopIteration):  # a Future refuses it; keep its meaning readable
                self.future.set_exception(RuntimeError(f"StopIteration raised: {value}"))
            else:
                self.future.set_exception(value)

        with contextlib.suppress(RuntimeError):  # the loop was already closed (interpreter exit)
            self.loop.call_soon_threadsafe(settle)


class _Job:
    """One task on the portal loop whose results flow to the caller's thread through a queue."""

    def __init__(self, body: Callable[[Callable[[Any], None]], Coroutine[Any, Any, Any]]) -> None:
        if in_portal_thread():
            raise RuntimeError("openai_magic.core.bridge cannot block on its own event loop thread")
        self._portal = _get_portal()
        self._queue: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self._finished = threading.Event()
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False
        self._body = body

    def start(self) -> None:
        """Schedule the task (call inside the `try` whose handler calls `cancel`).

        The task runs in a copy of the caller's context: context variables set around a sync call
        (`replay.use(...)`) hold on the portal thread too, for this job only.
        """
        context = contextvars.copy_context()
        self._portal.loop.call_soon_threadsafe(self._start, self._body, context=context)

    def _start(self, body: Callable[[Callable[[Any], None]], Coroutine[Any, Any, Any]]) -> None:
        if self._cancelled:
            self._finished.set()
            return
        put = self._queue.put
        self._task = self._portal.loop.create_task(self._wrap(body, lambda item: put((_ITEM, item))))
        # A done-callback (not a `finally`) also fires when the task is cancelled before it starts.
        self._task.add_done_callback(lambda _task: self._finished.set())

    async def _wrap(
        self,
        body: Callable[[Callable[[Any], None]], Coroutine[Any, Any, Any]],
        emit: Callable[[Any], None],
    ) -> None:
        _current_job.set(self)  # the task runs in its own context copy: visible to it and its children
        try:
            result = await body(emit)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._queue.put((_ERROR, exc))
        else:
            self._queue.put((_DONE, result))

    def get(self) -> tuple[int, Any]:
        """Wait for the next message, in short slices so interrupts are raised promptly.

        Functions shipped by `in_caller` run here, in the waiting thread, as they arrive.
        """
        get = self._queue.get
        while True:
            try:
                kind, value = get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if self._finished.is_set() and self._queue.empty():
                    raise RuntimeError("the async task ended without a result") from None
                continue
            if kind != _CALL:
                return kind, value
            value.serve()

    def ask(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Future[Any]:
        """From the portal loop: have the waiting thread run `fn(*args, **kwargs)`."""
        future: asyncio.Future[Any] = self._portal.loop.create_future()
        self._queue.put((_CALL, _CallerRequest(fn, args, kwargs, future)))
        return future

    def cancel(self) -> None:
        """Cancel the task on the portal loop and wait (bounded) for its cleanup to finish."""
        if self._finished.is_set():
            return

        def cancel_on_loop() -> None:
            self._cancelled = True
            if self._task is not None:
                self._task.cancel()
            else:
                # `_start` would have run first (same-thread callbacks keep their order): it was
                # never scheduled, so nothing will ever finish.
                self._finished.set()

        try:
            self._portal.loop.call_soon_threadsafe(cancel_on_loop)
        except RuntimeError:  # the loop was already closed (interpreter exit)
            return
        if not in_portal_thread():
            waited = 0.0
            while not self._finished.wait(_POLL_SECONDS) and waited < _CANCEL_GRACE_SECONDS:
                waited += _POLL_SECONDS


_current_job: contextvars.ContextVar[_Job | None] = contextvars.ContextVar(
    "openai_magic_bridge_job", default=None
)


def driven() -> bool:
    """True inside a coroutine that `run` or `iterate` drives for a waiting sync caller."""
    job = _current_job.get()
    return job is not None and not job._finished.is_set() and in_portal_thread()


async def in_caller(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run the sync `fn(*args, **kwargs)` on the thread that waits for this coroutine.

    Under `run` / `iterate` that is the sync caller's thread (a notebook's main thread, where a
    kernel interrupt raises KeyboardInterrupt inside `fn` and cancels the job). Anywhere else
    (`asyncio.run`, a kernel's running loop) `fn` runs inline on the current loop's thread.
    """
    job = _current_job.get()
    if job is None or not driven():
        return fn(*args, **kwargs)
    result: T = await job.ask(fn, args, kwargs)
    return result


def run(coro: Awaitable[T]) -> T:
    """Run an awaitable to completion on the portal loop and return its result (blocking)."""

    if in_portal_thread() and inspect.iscoroutine(coro):
        coro.close()  # avoid a "never awaited" warning on top of the error below

    async def body(_emit: Callable[[Any], None]) -> T:
        return await coro

    job = _Job(body)
    try:
        job.start()
        kind, value = job.get()
    except BaseException:  # KeyboardInterrupt included: stop the coroutine, then re-raise
        job.cancel()
        raise
    if kind == _ERROR:
        raise value
    result: T = value
    return result


def iterate(aiter: AsyncIterable[T] | Awaitable[AsyncIterable[T]]) -> Iterator[T]:
    """Iterate an async iterable from sync code; closing or interrupting it cancels the async side.

    Also accepts an awaitable that resolves to an async iterable (e.g. a coroutine function's result).
    """

    async def body(emit: Callable[[Any], None]) -> None:
        source: Any = aiter
        if not hasattr(source, "__aiter__") and inspect.isawaitable(source):
            source = await source
        iterator = source.__aiter__()
        try:
            async for item in iterator:
                emit(item)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    return _iterate_job(body)


def _iterate_job(body: Callable[[Callable[[Any], None]], Coroutine[Any, Any, Any]]) -> Iterator[Any]:
    # The job starts on the first `next()`: an iterator that is never used starts nothing.
    job = _Job(body)
    try:
        job.start()
        while True:
            kind, value = job.get()
            if kind == _ITEM:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return
    finally:
        # Runs on normal end, on error, on KeyboardInterrupt, and on close()/garbage collection
        # after an early `break`.
        job.cancel()


__all__ = ["driven", "in_caller", "in_portal_thread", "iterate", "loop", "on_shutdown", "run", "shutdown"]
