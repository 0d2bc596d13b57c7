"""Block-wise streaming Markdown rendering with pluggable sinks (IPython display, terminal, widgets).

Rendering cost grows linearly with the answer: markdown-it-py finds the top-level blocks (its
tokens' `.map` line ranges); every block but the last is complete, is shown once and left alone;
only the open last block is updated, at most ~15 times per second. When the stream ends, the
blocks are checked against rendering the whole answer at once (reference-style links defined
later can change earlier blocks); on any difference the answer collapses into one block, so the
final output is always identical to the whole answer rendered in one go.

Usage::

    from openai_magic.notebook.render import BlockStream, DisplaySink, StreamRenderer

    blocks = BlockStream()                 # the splitter alone
    blocks.feed("# Title\\n\\nsome para")
    blocks.changed_sources()               # [(index, source), ...] since the last call
    blocks.close()

    renderer = StreamRenderer(DisplaySink(), metadata={"provider": "Demo"})
    renderer.start()                       # "thinking..." indicator
    for item in items:                     # str deltas and core.responses items
        renderer.add(item)
    renderer.finish()                      # last block, footer line, metadata["openai_magic"]

A sink implements `status`, `reasoning`, `block` (blockwise sinks) or `delta`, `image`, `final`,
`footer`, `error`, `notice`; see `Sink`. `DisplaySink` publishes with IPython display handles,
`TextSink` writes plain text to a stream (terminal IPython), the panel adapts its widgets.
"""

from __future__ import annotations

import base64
import contextlib
import html
import itertools
import json
import re
import signal
import sys
import threading
import time
import uuid
from functools import lru_cache
from typing import Any, TextIO

from ..core.responses import FinishReason, ImageResponse, ProviderInfo, Reasoning, Usage

METADATA_KEY = "openai_magic"
THROTTLE_SECONDS = 1 / 15
THINKING = "_thinking..._"

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@lru_cache(maxsize=1)
def markdown_parser() -> Any:
    """The shared markdown-it-py parser: CommonMark plus GFM tables and strikethrough."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def to_html(text: str) -> str:
    """Markdown source to HTML with the shared parser."""
    return markdown_parser().render(text)


def split_blocks(text: str) -> list[str]:
    """Split Markdown into top-level block sources; `"".join(result) == text`."""
    lines = _LINE.findall(text)
    starts = sorted(
        {t.map[0] for t in markdown_parser().parse(text) if t.level == 0 and t.map and t.nesting >= 0}
    )
    if len(starts) <= 1:
        return [text] if text else []
    starts[0] = 0  # leading blank lines belong to the first block
    bounds = [*starts, len(lines)]
    return ["".join(lines[a:b]) for a, b in itertools.pairwise(bounds)]


class BlockStream:
    """Incremental splitter: `feed` text; every block but the last is complete and never changes."""

    def __init__(self) -> None:
        self._frozen: list[str] = []
        self._parts: list[str] = []
        self._tail = ""
        self._dirty = False
        self._closed = False
        self._shown: list[str] = []

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return "".join(self._frozen) + self._tail + "".join(self._parts)

    def feed(self, delta: str) -> None:
        """Add streamed text (cheap: parsing waits for the next read)."""
        if delta:
            self._parts.append(delta)
            self._dirty = True

    def close(self) -> None:
        """The stream ended: every block is complete; check against a whole-answer render."""
        self._update()
        self._closed = True
        self._frozen.extend(split_blocks(self._tail))
        self._tail = ""
        whole = "".join(self._frozen)
        if len(self._frozen) > 1 and to_html(whole) != "".join(to_html(b) for b in self._frozen):
            self._frozen = [whole]

    def _update(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        tail = self._tail + "".join(self._parts)
        self._parts = []
        blocks = split_blocks(tail)
        if len(blocks) > 1:
            self._frozen.extend(blocks[:-1])
        self._tail = blocks[-1] if blocks else ""

    @property
    def blocks(self) -> list[str]:
        """Current block sources: the complete ones, then the open last one."""
        self._update()
        return self._frozen + ([self._tail] if self._tail else [])

    def changed_sources(self) -> list[tuple[int, str]]:
        """(index, source) of blocks that differ from the last call; "" for blocks that vanished."""
        current = self.blocks
        changed = [(i, s) for i, s in enumerate(current) if i >= len(self._shown) or self._shown[i] != s]
        changed += [(i, "") for i in range(len(current), len(self._shown)) if self._shown[i]]
        self._shown = current + [""] * max(0, len(self._shown) - len(current))
        return changed


# -- small renderings shared with the panel -------------------------------------------------------


def reasoning_html(text: str, done: bool = True) -> str:
    """Reasoning collapsed in a <details> block; while streaming only a short preview is shown."""
    if not done:
        preview = " ".join(text[-80:].split())
        return (
            "<details class='openai-magic-reasoning'><summary>Thinking... "
            f"<small style='opacity:.6'>{html.escape(preview)}</small></summary></details>"
        )
    return (
        "<details class='openai-magic-reasoning'><summary>Reasoning</summary>"
        f"<pre style='white-space:pre-wrap'>{html.escape(text)}</pre></details>"
    )


def footer_text(model: str | None, usage: Any, started: float, first: float | None, ended: float) -> str:
    """One line: model, tokens in/out, time to first token, tokens per second."""
    parts = [model or "unknown model"]
    if usage is not None:
        parts.append(f"{usage.prompt_tokens} in / {usage.completion_tokens} out tokens")
    if first is not None:
        parts.append(f"first token {first - started:.2f} s")
        streamed = ended - first
        if usage is not None and usage.completion_tokens and streamed > 0:
            parts.append(f"{usage.completion_tokens / streamed:.1f} tokens/s")
    else:
        parts.append(f"{ended - started:.2f} s")
    return " · ".join(parts)


def image_bytes(src: str) -> bytes | None:
    """The bytes of a `data:` URI image, None for a plain URL."""
    if src.startswith("data:") and "," in src:
        header, payload = src.split(",", 1)
        if ";base64" in header:
            return base64.b64decode(payload)
    return None


# -- sinks ----------------------------------------------------------------------------------------


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
def deferred_interrupts(reraise: bool = True) -> Any:
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


# -- the renderer ---------------------------------------------------------------------------------


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
            for index, source in self.blocks.changed_sources():
                self.sink.block(index, source)

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


__all__ = [
    "METADATA_KEY",
    "THROTTLE_SECONDS",
    "BlockStream",
    "DisplaySink",
    "InterruptSafe",
    "Sink",
    "StreamRenderer",
    "TextSink",
    "deferred_interrupts",
    "footer_text",
    "image_bytes",
    "markdown_parser",
    "reasoning_html",
    "split_blocks",
    "to_html",
]
