"""Where a streamed answer is shown: the `Sink` interface, the terminal sink, interrupt safety.

A sink implements `status`, `reasoning`, `block` / `show_blocks` (blockwise sinks: Markdown parts while
streaming) or
`delta` (raw text), `image`, `final` (the whole answer once it is complete), `footer`, `error`,
`notice`. `display_sink.DisplaySink` publishes to notebook front ends, `TextSink` writes plain text
(terminal IPython), the panel's `AnswerView` is a sink made of widgets. `deferred_interrupts` holds
Ctrl-C while something is published, so no message is half-sent.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from .render_parts import image_bytes, tool_text


class Sink:
    """Where a `StreamRenderer` shows things; every method is optional to override."""

    blockwise = True  # receive Markdown blocks (else raw text deltas)
    throttled = True  # non-blockwise deltas are batched to the throttle rate

    def status(self, text: str | None) -> None:
        """Show (or with None, clear) the "thinking..." indicator."""

    def waiting(self, text: str) -> None:
        """Say, until the answer comes, why there is none yet ("rate limited, retrying in 12 s")."""
        self.status(f"_{text}_")

    def tool_call(self, call: Any) -> None:
        """A tool call is about to run (`responses.ToolCall`): show it as a block."""

    def tool_result(self, result: Any) -> None:
        """The call with `result.id` returned (`responses.ToolResult`): complete its block."""

    def reasoning(self, text: str, done: bool) -> None:
        """Show the reasoning so far, collapsed."""

    def block(self, index: int, source: str) -> None:
        """Show block `index` (new or updated open block)."""

    def show_blocks(self, changes: list[tuple[int, str]]) -> None:
        """Everything one update changed, in index order: the new indices are contiguous at the end and
        all but the last of them are settled. Sinks that can show several blocks as one part (the panel:
        one widget, not one per block, when a fast server settles many at once) override this."""
        for index, source in changes:
            self.block(index, source)

    def delta(self, text: str) -> None:
        """Raw answer text as it arrives (non-blockwise sinks)."""

    def final(self, answer: str, metadata: dict[str, Any]) -> None:
        """The whole answer once the stream ended ("" when none came); `metadata` belongs on it."""

    def image(self, src: str, alt: str, metadata: dict[str, Any]) -> None:
        """Show one generated image (URL or data URI)."""

    def footer(self, text: str, metadata: dict[str, Any]) -> None:
        """The one-line footer; `metadata` goes under METADATA_KEY."""

    def error(self, text: str) -> None:
        """One clear error line."""

    def notice(self, text: str) -> None:
        """A short informational line."""


class TextSink(Sink):
    """Terminal IPython and plain Python: the answer streams as plain text to a stream."""

    blockwise = False
    throttled = False

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._wrote = False
        self._thinking = False
        self._calls: dict[str, Any] = {}

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def waiting(self, text: str) -> None:
        self._write(f"[{text}]\n")

    def tool_call(self, call: Any) -> None:
        self._calls[call.id] = call
        self._write(tool_text(call) + "\n")

    def tool_result(self, result: Any) -> None:
        call = self._calls.get(result.id)
        if call is not None:
            self._write(tool_text(call, result) + "\n")

    def reasoning(self, text: str, done: bool) -> None:
        if not self._thinking:
            self._thinking = True
            self._write("[thinking...]\n")

    def delta(self, text: str) -> None:
        self._wrote = True
        self._write(text)

    def final(self, answer: str, metadata: dict[str, Any]) -> None:
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
    (
        "status",
        "waiting",
        "reasoning",
        "tool_call",
        "tool_result",
        "block",
        "show_blocks",
        "delta",
        "final",
        "image",
        "footer",
        "error",
        "notice",
    )
)


__all__ = ["InterruptSafe", "Sink", "TextSink", "deferred_interrupts"]
