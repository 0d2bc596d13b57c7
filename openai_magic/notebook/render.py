"""The renderer: provider items in, sink calls out (blocks while streaming, one answer at the end).

While the answer streams, settled Markdown parts (`blocks.BlockStream`) are shown once and only the
open part is updated. Its updates are cost-aware: at most `throttle` times a second, and less often
as the open part grows (so the bytes re-sent per second stay bounded), but never less than every
`MAX_WAIT` seconds, so the view visibly grows. The very first text is shown at once. When the stream
ends the sink gets the whole answer (`final`), to show as one rendering identical to rendering it at
once, then the footer. A block counts as shown only once its sink call returned, so an interrupt
between two calls loses nothing.

    renderer = StreamRenderer(DisplaySink(), metadata={"provider": "Demo"})
    renderer.start()                       # "thinking..." indicator
    for item in items:                     # str deltas and core.responses items
        renderer.add(item)
    renderer.finish()                      # the whole answer, footer line, metadata["openai_magic"]
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from ..core.responses import (
    FinishReason,
    ImageResponse,
    Notice,
    ProviderInfo,
    Reasoning,
    Replayed,
    RetryWait,
    ToolCall,
    ToolMessages,
    ToolResult,
    Usage,
)
from .blocks import BlockStream, markdown_parser
from .render_parts import METADATA_KEY, THINKING, footer_text
from .sinks import Sink

THROTTLE_SECONDS = 1 / 15
MAX_WAIT = 0.25  # the open part is updated at least this often while text arrives (the bound is 0.5 s)
OPEN_BYTES_PER_SECOND = 4096  # cost budget for re-sending the open part


class StreamRenderer:
    """Turns provider items into sink calls: throttled parts, reasoning, images, the answer, the footer."""

    def __init__(
        self,
        sink: Sink,
        *,
        metadata: dict[str, Any] | None = None,
        throttle: float = THROTTLE_SECONDS,
        model: str | None = None,
    ) -> None:
        self.sink = sink
        self.throttle = throttle
        self.base_metadata = dict(metadata or {})
        self.model = model or self.base_metadata.get("model")
        self.blocks = BlockStream() if sink.blockwise else None
        self._parts: list[str] = []
        self._reasoning: list[str] = []
        self.images: list[str] = []
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.started = time.monotonic()
        self.first: float | None = None
        self.ended: float | None = None
        self._last_flush = float("-inf")  # the first text is shown at once
        self._reasoning_dirty = False
        self._pending = ""
        self._shown: list[str] = []  # what the sink has shown of each block
        self._stable = 0  # blocks before this index are settled and shown: never compared again
        self.tool_messages: list[dict[str, Any]] = []  # a tool loop's messages, for the thread
        self._final_from = 0  # where the text after the last tool step starts (the final reply)
        self.replayed: str | None = None  # when the answer came from a replay file: when it was recorded
        self._running: dict[str, ToolCall] = {}  # tool calls shown as running, by id

    @property
    def answer(self) -> str:
        """The answer text received so far."""
        return "".join(self._parts)

    @property
    def final_reply(self) -> str:
        """The text after the last tool step (all of it when no tool ran)."""
        return self.answer[self._final_from :]

    @property
    def reasoning_text(self) -> str:
        return "".join(self._reasoning)

    def start(self) -> None:
        """Show the "thinking..." indicator; get the Markdown parser ready while the request goes out."""
        self.started = time.monotonic()
        if self.blocks is not None:
            # Importing markdown-it-py takes tens of milliseconds: not on the first token's path.
            threading.Thread(target=markdown_parser, name="openai_magic-warmup", daemon=True).start()
        self.sink.status(THINKING)

    def add(self, item: Any) -> None:
        """Handle one item from `create_async_generator`."""
        if isinstance(item, str):
            self.text(item)
        elif isinstance(item, Reasoning):
            self._mark_first()
            self._reasoning.append(item.text)
            self._reasoning_dirty = True
            self._maybe_flush()
        elif isinstance(item, Usage):
            self.usage = item if self.usage is None else self.usage + item  # a tool loop has several
        elif isinstance(item, FinishReason):
            self.finish_reason = item.reason
        elif isinstance(item, ProviderInfo):
            self.model = item.model or self.model
        elif isinstance(item, ToolCall):
            self.flush()  # what the model said before its call is shown before the call
            self._running[item.id] = item
            self.sink.tool_call(item)
        elif isinstance(item, ToolResult):
            self._running.pop(item.id, None)
            self.sink.tool_result(item)
        elif isinstance(item, ToolMessages):
            self.tool_messages.extend(item.messages)
            self._final_from = len(self.answer)
        elif isinstance(item, Replayed):
            self.replayed = item.recorded_at
        elif isinstance(item, Notice):
            self.sink.notice(item.text)
        elif isinstance(item, RetryWait):
            if item.seconds >= 1:  # shorter waits pass unnoticed
                self.sink.waiting(f"{item.reason}, retrying in {math.ceil(item.seconds)} s")
        elif isinstance(item, ImageResponse):
            self._mark_first()
            for src in item.images:
                self.images.append(src)
                self.sink.image(src, item.alt, self._image_metadata())

    def text(self, delta: str) -> None:
        """Handle an answer text delta."""
        if not delta:
            return
        self._mark_first()
        self._parts.append(delta)
        if self.blocks is not None:
            self.blocks.feed(delta)
            self._maybe_flush()
        elif self.sink.throttled:
            self._pending += delta
            self._maybe_flush()
        else:
            self.sink.delta(delta)

    def tick(self) -> None:
        """No item for a while: show what the throttle still holds back."""
        self._maybe_flush()

    def extend(self, text: str) -> None:
        """Append text an error carried beyond what was streamed (`ProviderError.partial_text`)."""
        answer = self.answer
        if text and len(text) > len(answer) and text.startswith(answer):
            self.text(text[len(answer) :])

    def _mark_first(self) -> None:
        if self.first is None:
            self.first = time.monotonic()

    def _interval(self) -> float:
        """How long to wait between updates of the open part: longer as it grows, at most MAX_WAIT."""
        if self.throttle <= 0:
            return 0.0  # no throttling at all (tests, benchmarks of the worst case)
        shown = self._shown[-1] if self._shown and len(self._shown) > self._stable else ""
        return min(MAX_WAIT, max(self.throttle, len(shown) / OPEN_BYTES_PER_SECOND))

    def _maybe_flush(self) -> None:
        now = time.monotonic()
        # The clock moves only when something was sent: a tick while waiting for the first token must
        # not make that token wait a whole interval.
        if now - self._last_flush >= self._interval() and self.flush():
            self._last_flush = now

    def flush(self) -> bool:
        """Send what changed (the reasoning preview, new parts, the open part); whether anything was."""
        sent = False
        if self._reasoning_dirty:
            self._reasoning_dirty = False
            self.sink.reasoning(self.reasoning_text, bool(self._parts))
            sent = True
        if self.blocks is None:
            if self._pending:
                pending, self._pending = self._pending, ""
                self.sink.delta(pending)
                sent = True
            return sent
        current = self.blocks.blocks
        shown = self._shown
        changes = [
            (index, current[index])
            for index in range(self._stable, len(current))
            if index >= len(shown) or shown[index] != current[index]
        ]
        if changes:
            self.sink.show_blocks(changes)  # counted as shown only once the sink returned
            sent = True
            for index, source in changes:
                if index < len(shown):
                    shown[index] = source
                else:
                    shown.append(source)
        self._stable = max(self._stable, min(len(shown), self.blocks.settled))
        return sent

    def finish(self, *, interrupted: bool = False, error: str | None = None) -> dict[str, Any]:
        """The whole answer (one rendering), the footer and the metadata; returns the metadata."""
        self.ended = time.monotonic()
        for call in list(self._running.values()):  # a call the turn never saw return: say how it ended
            reason = "interrupted" if interrupted else "did not finish: the request failed"
            self.add(ToolResult(id=call.id, name=call.name, output="", error=reason))
        if self._reasoning:
            self.sink.reasoning(self.reasoning_text, True)
        if self.blocks is None and self._pending:
            pending, self._pending = self._pending, ""
            self.sink.delta(pending)
        metadata = self.metadata(interrupted=interrupted, error=error)
        self.sink.final(self.answer, {METADATA_KEY: {**metadata, "role": "answer"}})
        if error is None or self._parts:
            text = footer_text(
                self.model,
                self.usage,
                self.started,
                self.first,
                self.ended,
                images=bool(self.images) and not self._parts,
                interrupted=interrupted,
            )
            if self.replayed:
                text += " · replayed"
            self.sink.footer(text, {METADATA_KEY: {**metadata, "role": "footer"}})
        return metadata

    def _image_metadata(self) -> dict[str, Any]:
        return {**self.base_metadata, "model": self.model, "role": "image"}

    def metadata(self, *, interrupted: bool = False, error: str | None = None) -> dict[str, Any]:
        """Provider, model, parameters, usage and timing (never a key)."""
        ended = self.ended or time.monotonic()
        timing: dict[str, Any] = {"total_seconds": round(ended - self.started, 4)}
        if self.first is not None:
            timing["time_to_first_token"] = round(self.first - self.started, 4)
            if self.usage and self.usage.completion_tokens and ended > self.first:
                timing["tokens_per_second"] = round(self.usage.completion_tokens / (ended - self.first), 2)
        data = {
            **self.base_metadata,
            "model": self.model,
            "usage": self.usage.to_dict() if self.usage else None,
            "timing": timing,
            "finish_reason": self.finish_reason,
        }
        if interrupted:
            data["interrupted"] = True
        if error:
            data["error"] = error
        if self.replayed:
            data["replayed"] = True
            data["recorded_at"] = self.replayed
        return data


__all__ = ["MAX_WAIT", "THROTTLE_SECONDS", "StreamRenderer"]
