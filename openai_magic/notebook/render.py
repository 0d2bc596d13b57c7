"""The renderer: provider items in, sink calls out (throttled blocks, reasoning, images, footer, metadata).

Rendering cost grows linearly with the answer: completed Markdown blocks (`blocks.BlockStream`) are
shown once; only the open last block is updated, at most `throttle` times a second. A block counts
as shown only once its sink call returned, so an interrupt between two calls loses nothing.

    renderer = StreamRenderer(DisplaySink(), metadata={"provider": "Demo"})
    renderer.start()                       # "thinking..." indicator
    for item in items:                     # str deltas and core.responses items
        renderer.add(item)
    renderer.finish()                      # last block, footer line, metadata["openai_magic"]
"""

from __future__ import annotations

import time
from typing import Any

from ..core.responses import FinishReason, ImageResponse, ProviderInfo, Reasoning, Usage
from .blocks import BlockStream
from .render_parts import THINKING, footer_text
from .sinks import Sink

THROTTLE_SECONDS = 1 / 15


class StreamRenderer:
    """Turns provider items into sink calls: throttled blocks, reasoning, images, footer, metadata."""

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
        self._last_flush = 0.0
        self._reasoning_dirty = False
        self._pending = ""
        self._shown: list[str] = []  # what the sink has shown of each block

    @property
    def answer(self) -> str:
        """The answer text received so far."""
        return "".join(self._parts)

    @property
    def reasoning_text(self) -> str:
        return "".join(self._reasoning)

    def start(self) -> None:
        """Show the "thinking..." indicator."""
        self.started = time.monotonic()
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
            self.usage = item
        elif isinstance(item, FinishReason):
            self.finish_reason = item.reason
        elif isinstance(item, ProviderInfo):
            self.model = item.model or self.model
        elif isinstance(item, ImageResponse):
            self._mark_first()
            for src in item.images:
                self.images.append(src)
                self.sink.image(src, item.alt, {**self.base_metadata, "model": self.model})

    def text(self, delta: str) -> None:
        """Handle an answer text delta."""
        if not delta:
            return
        self._mark_first()
        self._parts.append(delta)
        if self.blocks is not None:
            self.blocks.feed(delta)
            self._maybe_flush()
        else:
            if self.sink.throttled:
                self._throttled_delta(delta)
            else:
                self.sink.delta(delta)

    def tick(self) -> None:
        """No item for a while: show text still held back by the throttle."""
        if self.blocks is not None:
            self._maybe_flush()
        elif self._pending and self.sink.throttled:
            self._last_flush = time.monotonic()
            self.sink.delta(self._pending)
            self._pending = ""

    def extend(self, text: str) -> None:
        """Append text an error carried beyond what was streamed (`ProviderError.partial_text`)."""
        answer = self.answer
        if text and len(text) > len(answer) and text.startswith(answer):
            self.text(text[len(answer) :])

    def _mark_first(self) -> None:
        if self.first is None:
            self.first = time.monotonic()

    def _throttled_delta(self, delta: str) -> None:
        self._pending += delta
        now = time.monotonic()
        if now - self._last_flush >= self.throttle:
            self._last_flush = now
            self.sink.delta(self._pending)
            self._pending = ""

    def _maybe_flush(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= self.throttle:
            self._last_flush = now
            self.flush()

    def flush(self, done: bool = False) -> None:
        """Send what changed: reasoning preview and new or updated blocks."""
        if self._reasoning_dirty or (done and self._reasoning):
            self._reasoning_dirty = False
            self.sink.reasoning(self.reasoning_text, done or bool(self._parts))
        if self.blocks is not None:
            if done:
                self.blocks.close()
            current = self.blocks.blocks
            shown = self._shown
            for index, source in enumerate(current):
                if index >= len(shown) or (shown[index] is not source and shown[index] != source):
                    self.sink.block(index, source)
                    if index < len(shown):
                        shown[index] = source
                    else:
                        shown.append(source)
            for index in range(len(current), len(shown)):  # collapsed by close(): clear the rest
                if shown[index]:
                    self.sink.block(index, "")
                    shown[index] = ""

    def finish(self, *, interrupted: bool = False, error: str | None = None) -> dict[str, Any]:
        """Final blocks, footer and metadata; returns the metadata."""
        self.ended = time.monotonic()
        self.flush(done=True)
        if self.blocks is None:
            if self._pending:
                self.sink.delta(self._pending)
                self._pending = ""
            if self._parts or not self.images:
                self.sink.final(self.answer)
        metadata = self.metadata(interrupted=interrupted, error=error)
        if not self._parts and not self.images and not self._reasoning:
            self.sink.status(None)
        if error is None or self._parts:
            self.sink.footer(
                footer_text(self.model, self.usage, self.started, self.first, self.ended), metadata
            )
        return metadata

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
        return data


__all__ = ["THROTTLE_SECONDS", "StreamRenderer"]
