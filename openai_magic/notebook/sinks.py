"""Where a streamed answer is shown: the `Sink` interface, IPython display and terminal implementations.

A sink implements `status`, `reasoning`, `block` (blockwise sinks) or `delta`, `image`, `final`,
`footer`, `error`, `notice`. `DisplaySink` publishes with IPython display handles, `TextSink` writes
plain text to a stream (terminal IPython); the panel's `AnswerView` is a sink made of widgets.
`deferred_interrupts` holds Ctrl-C while something is published, so no message is half-sent.
"""

from __future__ import annotations

import contextlib
import html
import json
import signal
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any, TextIO

from .render_parts import METADATA_KEY, image_bytes, reasoning_html


class Sink:
    """Where a `StreamRenderer` shows things; every method is optional to override."""

    blockwise = True  # receive Markdown blocks (else raw text deltas)
    throttled = True  # non-blockwise deltas are batched to the throttle rate

    def status(self, text: str | None) -> None:
        """Show (or with None, clear) the "thinking..." indicator."""

    def reasoning(self, text: str, done: bool) -> None:
        """Show the reasoning so far, collapsed."""

    def block(self, index: int, source: str) -> None:
        """Show block `index` (new or updated open block)."""

    def delta(self, text: str) -> None:
        """Raw answer text as it arrives (non-blockwise sinks)."""

    def final(self, answer: str) -> None:
        """The whole answer once the stream ended (non-blockwise sinks)."""

    def image(self, src: str, alt: str, metadata: dict[str, Any]) -> None:
        """Show one generated image (URL or data URI)."""

    def footer(self, text: str, metadata: dict[str, Any]) -> None:
        """The one-line footer; `metadata` goes under METADATA_KEY."""

    def error(self, text: str) -> None:
        """One clear error line."""

    def notice(self, text: str) -> None:
        """A short informational line."""


class DisplaySink(Sink):
    """Rich front ends: IPython display handles; `fmt` markdown/code stream blocks, html/json at the end."""

    def __init__(self, fmt: str = "markdown") -> None:
        self.fmt = fmt
        self.blockwise = fmt in ("markdown", "code")
        self._prefix = uuid.uuid4().hex[:12]
        self._slot: str | None = None  # "thinking..." / reasoning display
        self._slot_is_reasoning = False
        self._blocks: list[str] = []
        self._received = 0
        self._count = 0

    def _id(self) -> str:
        self._count += 1
        return f"{self._prefix}-{self._count}"

    @staticmethod
    def _show(bundle: dict[str, Any], display_id: str, update: bool = False, metadata: Any = None) -> None:
        from IPython.display import display, update_display

        if update:
            update_display(bundle, raw=True, display_id=display_id, metadata=metadata)
        else:
            display(bundle, raw=True, display_id=display_id, metadata=metadata)

    def status(self, text: str | None) -> None:
        if text is None:
            if self._slot and not self._slot_is_reasoning:
                self._show({"text/markdown": ""}, self._slot, update=True)
            return
        if self._slot is None:
            self._slot = self._id()
            self._show({"text/markdown": text}, self._slot)
        elif not self._slot_is_reasoning:
            self._show({"text/markdown": text}, self._slot, update=True)

    def reasoning(self, text: str, done: bool) -> None:
        bundle = {"text/html": reasoning_html(text, done), "text/plain": "[reasoning]"}
        if self._slot is None:
            self._slot = self._id()
            self._show(bundle, self._slot)
        else:
            self._show(bundle, self._slot, update=True)
        self._slot_is_reasoning = True

    def block(self, index: int, source: str) -> None:
        bundle = {"text/markdown": source}
        if index < len(self._blocks):
            self._show(bundle, self._blocks[index], update=True)
            return
        if not self._blocks and self._slot is not None and not self._slot_is_reasoning:
            display_id, self._slot = self._slot, None  # the indicator becomes the first block
            self._show(bundle, display_id, update=True)
        else:
            display_id = self._id()
            self._show(bundle, display_id)
        self._blocks.append(display_id)

    def delta(self, text: str) -> None:
        self._received += len(text)
        self.status(f"_receiving... {self._received} characters_")

    def final(self, answer: str) -> None:
        if self.fmt == "html":
            bundle: dict[str, Any] = {"text/html": answer, "text/plain": answer}
        elif self.fmt == "json":
            try:
                bundle = {"application/json": json.loads(answer), "text/plain": answer}
            except ValueError:
                bundle = {"text/plain": answer}
        else:
            bundle = {"text/plain": answer}
        if self._slot is not None and not self._slot_is_reasoning:
            self._show(bundle, self._slot, update=True)
            self._slot = None
        else:
            self._show(bundle, self._id())

    def image(self, src: str, alt: str, metadata: dict[str, Any]) -> None:
        from IPython.display import Image, display

        self.status(None)
        data = image_bytes(src)
        picture = Image(data=data, alt=alt) if data is not None else Image(url=src, alt=alt)
        display(picture, metadata={METADATA_KEY: metadata})

    def footer(self, text: str, metadata: dict[str, Any]) -> None:
        self.status(None)
        bundle = {
            "text/html": f"<small style='opacity:.65'>{html.escape(text)}</small>",
            "text/plain": text,
        }
        self._show(bundle, self._id(), metadata={METADATA_KEY: metadata})

    def error(self, text: str) -> None:
        self.status(None)
        print(text, file=sys.stderr, flush=True)

    def notice(self, text: str) -> None:
        print(text, flush=True)


class TextSink(Sink):
    """Terminal IPython and plain Python: the answer streams as plain text to a stream."""

    blockwise = False
    throttled = False

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._wrote = False
        self._thinking = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def reasoning(self, text: str, done: bool) -> None:
        if not self._thinking:
            self._thinking = True
            self._write("[thinking...]\n")

    def delta(self, text: str) -> None:
        self._wrote = True
        self._write(text)

    def final(self, answer: str) -> None:
        if self._wrote and not answer.endswith("\n"):
            self._write("\n")

    def image(self, src: str, alt: str, metadata: dict[str, Any]) -> None:
        data = image_bytes(src)
        size = f"{len(data)} bytes" if data is not None else src
        self._write(f"[image: {alt or 'generated'} ({size})]\n")

    def footer(self, text: str, metadata: dict[str, Any]) -> None:
        self._write(f"-- {text}\n")

    def error(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def notice(self, text: str) -> None:
        self._write(text + "\n")


_deferring: list[bool] = []


@contextlib.contextmanager
def deferred_interrupts(reraise: bool = True) -> Iterator[None]:
    """Hold Ctrl-C / kernel interrupts while publishing, so no message is half-sent; re-raise after."""
    if threading.current_thread() is not threading.main_thread() or _deferring:
        yield  # nested: the outermost block decides
        return
    received: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except ValueError:  # not allowed here (e.g. embedded interpreters)
        yield
        return
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
        signal.signal(signal.SIGINT, previous)
        if received and reraise:
            raise KeyboardInterrupt


class InterruptSafe(Sink):
    """Wraps a sink so every call completes before an interrupt is raised."""

    def __init__(self, sink: Sink) -> None:
        self.inner = sink
        self.blockwise = sink.blockwise
        self.throttled = sink.throttled

    def __getattribute__(self, name: str) -> Any:
        if name in _SINK_METHODS:
            method = getattr(object.__getattribute__(self, "inner"), name)

            def call(*args: Any, **kwargs: Any) -> Any:
                with deferred_interrupts():
                    return method(*args, **kwargs)

            return call
        return object.__getattribute__(self, name)


_SINK_METHODS = frozenset(
    ("status", "reasoning", "block", "delta", "final", "image", "footer", "error", "notice")
)


__all__ = ["DisplaySink", "InterruptSafe", "Sink", "TextSink", "deferred_interrupts"]
