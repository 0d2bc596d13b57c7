"""THE turn engine: one prompt, one request, one answer, for the magics and the panel alike.

`Turn(plan, sink)` streams the provider's items into a sink through the renderer (with ticks while
the server stalls), keeps the partial text on an interrupt or an error, records the turn in its
thread and returns a `TurnResult`. The magics drive it with `turn.run_sync()` (through the bridge,
ended by KeyboardInterrupt); the panel awaits `turn.run()` as a task (ended by cancellation); compare
mode runs several at once. Like `llm`'s Response and AsyncResponse, both share every step but the
loop that pulls items, and within `openai_magic/notebook/` only this module calls
`create_async_generator`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from .errorline import describe
from .plan import Plan
from .render import StreamRenderer
from .sinks import InterruptSafe, Sink, deferred_interrupts

DONE, INTERRUPTED, FAILED = "done", "interrupted", "failed"
TICK = object()  # no item for a throttle interval: let the renderer show what it holds back

INTERRUPTED_LINE = {  # by surface, and by whether the partial answer joined the thread
    (
        "magic",
        True,
    ): "Interrupted: kept the partial answer ({n} characters), marked interrupted in the conversation.",
    ("magic", False): "Interrupted: kept the partial answer ({n} characters).",
}
INTERRUPTED_EARLY = {"magic": "Interrupted before any answer came: nothing was added to the conversation."}


@dataclass
class TurnResult:
    """What one turn produced, however it ended."""

    plan: Plan
    answer: str = ""
    reasoning: str = ""
    images: list[str] = field(default_factory=list)
    model: str | None = None
    usage: Any = None
    outcome: str = DONE
    error: str | None = None  # the one line shown
    exception: BaseException | None = field(default=None, repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)
    tool_messages: list[dict[str, Any]] = field(default_factory=list)  # a tool loop's, in order
    in_thread: bool = False  # the turn was added to its conversation thread

    @property
    def ok(self) -> bool:
        return self.outcome == DONE

    def json_value(self) -> Any:
        """The answer parsed as JSON (also from a fenced block), or None."""
        from .blocks import fences

        for candidate in (self.answer, *fences(self.answer)):
            try:
                return json.loads(candidate)
            except ValueError:
                continue
        return None


class Turn:
    """One request and its answer; `run_sync()` for sync callers, `await run()` on an event loop."""

    def __init__(
        self,
        plan: Plan,
        sink: Sink,
        *,
        throttle: float,
        record: bool = True,
        confirm: Any = None,
        surface: str | None = None,
        recording: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
    ) -> None:
        self.plan = plan
        self.surface = surface or plan.surface  # how the log names where the turn came from
        self.confirm = confirm  # asks before each tool call (`--confirm`); the surface supplies it
        self._sink = sink
        self.sink = InterruptSafe(sink)
        self.record = record
        self.throttle = throttle
        self.renderer = StreamRenderer(self.sink, metadata=plan.metadata(), throttle=throttle)
        self._exception: BaseException | None = None
        self._error: str | None = None
        self.recording = recording  # held while the turn adds itself to its thread (a panel skips it)

    # -- the steps both loops share -----------------------------------------------------------------

    def _request(self) -> AsyncIterator[Any]:
        kwargs = self.plan.request_kwargs(confirm=self.confirm)
        return with_ticks(self.plan.provider.create_async_generator(**kwargs), self.throttle)

    def handle(self, item: Any) -> None:
        """One item from the provider (or a TICK during a stall)."""
        if item is TICK:
            self.renderer.tick()
        else:
            self.renderer.add(item)

    def fail(self, exc: BaseException) -> None:
        """The request failed: keep what it carried beyond the streamed text, remember the line."""
        self._exception = exc
        self._error = describe(exc, surface=self.plan.surface, provider=self.plan.provider, key=self.plan.key)
        partial = getattr(exc, "partial_text", "")
        if isinstance(partial, str):
            self.renderer.extend(partial)

    def end(self, outcome: str) -> TurnResult:
        """Show the end of the answer, record the turn (unless `--no-history`) and say how it went."""
        renderer, plan = self.renderer, self.plan
        metadata = renderer.finish(interrupted=outcome == INTERRUPTED, error=self._error)
        result = TurnResult(
            plan=plan,
            answer=renderer.answer,
            tool_messages=list(renderer.tool_messages),
            reasoning=renderer.reasoning_text,
            images=list(renderer.images),
            model=renderer.model,
            usage=renderer.usage,
            outcome=outcome,
            error=self._error,
            exception=self._exception,
            metadata=metadata,
        )
        result.in_thread = bool(
            self.record and plan.options.history and not plan.image and (result.answer or result.ok)
        )
        if self._error:
            self.sink.error(self._error)
        if outcome == INTERRUPTED:
            if result.answer:
                line = INTERRUPTED_LINE.get((plan.surface, result.in_thread), "interrupted")
            else:
                line = INTERRUPTED_EARLY.get(plan.surface, "interrupted")
            self.sink.error(line.format(n=len(result.answer)))
        if result.in_thread:
            with self.recording():
                plan.conversation.add_turn(
                    plan.prompt,
                    renderer.final_reply,  # what the model said before a tool call is in the loop's messages
                    interrupted=outcome == INTERRUPTED,
                    error=self._error,
                    model=result.model,
                    tool_messages=result.tool_messages,
                )
        from . import turn_log

        turn_log.record(result, surface=self.surface, say=self.sink.notice)
        return result

    # -- the two loops ---------------------------------------------------------------------------

    def run_sync(self) -> TurnResult:
        """Stream from sync code (the magics): the bridge runs the request; Ctrl-C interrupts."""

        capture = getattr(self._sink, "capture", contextlib.nullcontext)
        with capture():
            return self._run_sync()

    def _run_sync(self) -> TurnResult:
        from ..core import bridge

        outcome = DONE
        stream = None
        try:
            with deferred_interrupts():
                self.renderer.start()
            stream = bridge.iterate(self._request())
            for item in stream:
                # One item is handled whole or not at all: an interrupt that lands between storing a
                # delta and showing it would make the -o text, the thread and the output disagree.
                # The wait for the next item (inside the bridge) stays interruptible at once.
                with deferred_interrupts():
                    self.handle(item)
        except KeyboardInterrupt:
            outcome = INTERRUPTED
        except Exception as exc:  # provider errors, and e.g. unreadable media: one line, not a traceback
            outcome = FAILED
            with deferred_interrupts(reraise=False):
                self.fail(exc)
        finally:
            if stream is not None:
                with deferred_interrupts(reraise=False):
                    stream.close()  # type: ignore[attr-defined]  # a generator: cancels the request
        with deferred_interrupts(reraise=False):
            return self.end(outcome)

    async def run(self) -> TurnResult:
        """Stream on the running loop (the panel); cancellation is the interrupt and is not re-raised."""
        outcome = DONE
        stream = self._request()
        self.renderer.start()
        try:
            async for item in stream:
                self.handle(item)
        except asyncio.CancelledError:
            outcome = INTERRUPTED
        except Exception as exc:
            outcome = FAILED
            self.fail(exc)
        finally:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await stream.aclose()  # type: ignore[attr-defined]
        return self.end(outcome)


async def compare(turns: list[Turn]) -> list[TurnResult]:
    """Run turns on one prompt at once; cancelling the caller ends each one, keeping its text."""
    tasks = [asyncio.ensure_future(turn.run()) for turn in turns]
    try:
        await asyncio.wait(tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
    # A task cancelled before it started never ran its turn: end that turn here, interrupted.
    pairs = zip(turns, tasks, strict=True)
    return [turn.end(INTERRUPTED) if task.cancelled() else task.result() for turn, task in pairs]


async def with_ticks(source: Any, interval: float) -> AsyncIterator[Any]:
    """Yield `source`'s items, and TICK whenever none arrived for `interval` seconds."""
    if not hasattr(source, "__aiter__"):
        source = await source
    iterator = source.__aiter__()
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=max(interval, 0.01))
            if not done:
                yield TICK
                continue
            finished, pending = pending, None
            try:
                item = finished.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


__all__ = ["DONE", "FAILED", "INTERRUPTED", "TICK", "Turn", "TurnResult", "compare", "with_ticks"]
