"""`DisplaySink`: a streamed answer in a notebook cell, saved as one clean output per answer.

While the answer streams, its Markdown parts are separate display outputs (so only the open part is
re-sent). When it is complete the cell gets the answer as ONE Markdown output, identical to rendering
the whole text, carrying the `openai_magic` metadata, then its images, then a plain-text footer: what
a saved notebook, a copy of the answer and `nbconvert` see.

How the parts become one output depends on whether the cell is the magic's own (`owned`: a `%%chat`
cell, or a cell that is nothing but one `%chat` line). Then `clear_output(wait=True)` replaces them
without flicker (the front end clears only when the next output arrives) and everything this sink had
shown (notices, images) is shown again in order. In a cell that also holds other code, clearing would
take that code's output with it, so the first part's display is updated to the whole answer and the
other parts to empty instead.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import sys
import uuid
from collections.abc import Iterator
from typing import Any

from .render_parts import METADATA_KEY, image_bytes, reasoning_html, tool_html, tool_text
from .sinks import Sink

_EMPHASIS_BREAKERS = re.compile(r"([\\`*_<\[\]])")

# nbconvert's HTML template sets `font-family: inherit` on every <pre> in an output, and JupyterLab's
# Markdown styles paint it the page colour, so a code block in an exported answer loses its monospace
# font and its background. This restores both, for Markdown outputs only. It goes with every answer
# that has a code block, as an output of its own just before it (the answer stays pure Markdown for
# the notebook and `--to markdown`): once per kernel would be lost when that one cell is re-run.
EXPORT_STYLE = (
    "<style>.jp-OutputArea-output.jp-RenderedMarkdown pre{"
    "font-family:var(--jp-code-font-family,monospace);"
    "background:var(--jp-cell-editor-background,#f5f5f5);padding:4px 6px}"
    ".jp-OutputArea-output.jp-RenderedMarkdown .highlight{"
    "background:var(--jp-cell-editor-background,#f5f5f5)}"
    ".jp-OutputArea-output.jp-RenderedMarkdown pre code{background:transparent}"
    "</style>"
)
_CODE_BLOCK = re.compile(r"^(?: {0,3}(?:```|~~~)| {4}|\t)", re.MULTILINE)


class DisplaySink(Sink):
    """IPython display outputs; `fmt` markdown/code stream Markdown parts, html/json show at the end."""

    _publishing = False  # set while this module publishes (the capture hook lets those pass)

    def __init__(self, fmt: str = "markdown", *, owned: bool = False) -> None:
        self.fmt = fmt
        self.owned = owned
        self.blockwise = fmt in ("markdown", "code")
        self._prefix = uuid.uuid4().hex[:12]
        self._count = 0
        self._slot: str | None = None  # the "thinking..." indicator, then the reasoning
        self._slot_is_reasoning = False
        self._reasoning = ""
        self._parts: list[str] = []  # display ids of the streamed parts
        self._replay: list[tuple[str, Any, Any]] = []  # what to show again after clear_output
        self._calls: dict[str, tuple[Any, str]] = {}  # tool call id -> (call, display id)
        self._streams: tuple[Any, Any] = (sys.stdout, sys.stderr)  # where this sink itself prints
        self._received = 0

    def _id(self) -> str:
        self._count += 1
        return f"{self._prefix}-{self._count}"

    @staticmethod
    def _show(
        bundle: dict[str, Any], display_id: str | None, update: bool = False, metadata: Any = None
    ) -> None:

        DisplaySink._publishing = True
        try:
            DisplaySink._publish(bundle, display_id, update, metadata)
        finally:
            DisplaySink._publishing = False

    @staticmethod
    def _publish(bundle: dict[str, Any], display_id: str | None, update: bool, metadata: Any) -> None:
        from IPython.display import display, update_display

        if update:
            update_display(bundle, raw=True, display_id=display_id, metadata=metadata)
        else:
            display(bundle, raw=True, display_id=display_id, metadata=metadata)

    # -- while streaming ------------------------------------------------------------------------

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
        self._reasoning = text
        bundle = {"text/html": reasoning_html(text, done), "text/plain": "[reasoning]"}
        if self._slot is None:
            self._slot = self._id()
            self._show(bundle, self._slot)
        else:
            self._show(bundle, self._slot, update=True)
        self._slot_is_reasoning = True

    def block(self, index: int, source: str) -> None:
        bundle = {"text/markdown": source}
        if index < len(self._parts):
            self._show(bundle, self._parts[index], update=True)
            return
        if not self._parts and self._slot is not None and not self._slot_is_reasoning:
            display_id, self._slot = self._slot, None  # the indicator becomes the first part
            self._show(bundle, display_id, update=True)
        else:
            display_id = self._id()
            self._show(bundle, display_id)
        self._parts.append(display_id)

    def delta(self, text: str) -> None:
        self._received += len(text)
        self.status(f"_receiving... {self._received} characters_")

    def image(self, src: str, alt: str, metadata: dict[str, Any]) -> None:
        self.status(None)
        bundle, md = _image_bundle(src, alt), {METADATA_KEY: metadata}
        self._replay.append(("image", bundle, md))
        self._show(bundle, None, metadata=md)

    def tool_call(self, call: Any) -> None:
        self.status(None)
        display_id = self._id()
        self._calls[call.id] = (call, display_id)
        bundle = {"text/html": tool_html(call), "text/plain": tool_text(call)}
        self._replay.append(("tool", call.id, bundle))
        self._show(bundle, display_id)

    def tool_result(self, result: Any) -> None:
        if result.id not in self._calls:
            return
        call, display_id = self._calls[result.id]
        bundle = {"text/html": tool_html(call, result), "text/plain": tool_text(call, result)}
        # In place: the stdout/stderr tees append to this very list.
        self._replay[:] = [
            (k, v, bundle if k == "tool" and v == result.id else md) for k, v, md in self._replay
        ]
        self._show(bundle, display_id, update=True)

    def notice(self, text: str) -> None:
        self._replay.append(("stdout", text + "\n", None))
        self._write(self._streams[0], text + "\n")

    def error(self, text: str) -> None:
        self.status(None)
        self._replay.append(("stderr", text + "\n", None))
        self._write(self._streams[1], text + "\n")

    @staticmethod
    def _write(stream: Any, text: str) -> None:
        stream.write(text)
        stream.flush()

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        """While the turn runs, keep what else the cell shows (a tool's prints and plots) to show it
        again after `clear_output`: stdout/stderr through a tee (as IPython's `capture_output`
        does), displays through ipykernel's display-publisher hook (as ipywidgets' Output does)."""
        if not self.owned:
            yield
            return
        from IPython import get_ipython

        publisher = getattr(get_ipython(), "display_pub", None)
        hooks = getattr(publisher, "register_hook", None)
        self._streams = (sys.stdout, sys.stderr)
        tees = (_Tee(sys.stdout, "stdout", self._replay), _Tee(sys.stderr, "stderr", self._replay))
        hook = self._foreign_display
        try:
            sys.stdout, sys.stderr = tees
            if hooks is not None:
                hooks(hook)
            yield
        finally:
            sys.stdout, sys.stderr = self._streams
            if publisher is not None and hooks is not None:
                publisher.unregister_hook(hook)

    def _foreign_display(self, msg: Any) -> Any:
        """A display this sink did not make (e.g. a tool's plot): remember it for after the clear."""
        if not self._publishing and msg.get("msg_type") == "display_data":
            content = msg.get("content", {})
            self._replay.append(("display", content.get("data", {}), content.get("metadata", {})))
        return msg

    # -- the end --------------------------------------------------------------------------------

    def final(self, answer: str, metadata: dict[str, Any]) -> None:
        bundle = self._answer_bundle(answer)
        if self.owned:
            self._replace_all(bundle, metadata, answer)
        elif self._parts:
            self._export_style(answer)
            self._show(bundle, self._parts[0], update=True, metadata=metadata)
            for display_id in self._parts[1:]:
                self._show({"text/markdown": ""}, display_id, update=True)
        elif self._slot is not None and not self._slot_is_reasoning:
            if bundle:
                self._show(bundle, self._slot, update=True, metadata=metadata)
            else:  # nothing came (a failure): the indicator goes, no empty answer stays
                self._show({"text/plain": ""}, self._slot, update=True)
            self._slot = None
        elif bundle:
            self._show(bundle, self._id(), metadata=metadata)
        self._parts = []

    def _replace_all(self, bundle: dict[str, Any], metadata: dict[str, Any], answer: str) -> None:
        """One clean set of outputs: what was said, the reasoning, the answer, the images."""
        from IPython.display import clear_output

        clear_output(wait=True)
        for kind, value, md in self._replay:
            if kind in ("stdout", "stderr"):
                self._write(self._streams[kind == "stderr"], value)
            elif kind == "display":
                self._show(value, None, metadata=md)
        if self._reasoning:
            self._show(
                {"text/html": reasoning_html(self._reasoning, True), "text/plain": "[reasoning]"}, None
            )
        for kind, _, tool_bundle in self._replay:
            if kind == "tool":  # the calls, as they ended, before the answer they led to
                self._show(tool_bundle, None)
        if bundle:
            self._export_style(answer)
            self._show(bundle, None, metadata=metadata)
        for kind, value, md in self._replay:
            if kind == "image":
                self._show(value, None, metadata=md)
        self._slot = None

    def _export_style(self, answer: str) -> None:
        if self.fmt == "code" or (self.fmt == "markdown" and _CODE_BLOCK.search(answer)):
            self._show({"text/html": EXPORT_STYLE, "text/plain": ""}, None)

    def _answer_bundle(self, answer: str) -> dict[str, Any]:
        if not answer:
            return {}
        if self.fmt == "html":
            return {"text/html": answer, "text/plain": answer}
        if self.fmt == "json":
            try:
                return {"application/json": json.loads(answer), "text/plain": answer}
            except ValueError:
                return {"text/plain": answer}
        return {"text/markdown": answer, "text/plain": answer}

    def footer(self, text: str, metadata: dict[str, Any]) -> None:
        """Plain words in small italics: it reads right in the notebook and in `nbconvert --to markdown`."""
        self.status(None)
        escaped = _EMPHASIS_BREAKERS.sub(r"\\\g<1>", text)
        self._show({"text/markdown": f"*{escaped}*", "text/plain": text}, None, metadata=metadata)


def _image_bundle(src: str, alt: str) -> dict[str, Any]:
    """An image as front ends take it: its bytes under its own MIME type, or an <img> for a URL."""
    from ..core.media import sniff_mime

    data = image_bytes(src)
    plain = f"[image: {alt or 'generated'}]"
    if data is None:
        return {"text/html": f"<img src='{html.escape(src)}' alt='{html.escape(alt)}'>", "text/plain": plain}
    mime = sniff_mime(data)
    return {
        mime if mime.startswith("image/") else "image/png": base64.b64encode(data).decode(),
        "text/plain": plain,
    }


class _Tee:
    """A text stream that writes through to `stream` and records what it wrote, in order."""

    def __init__(self, stream: Any, name: str, record: list[tuple[str, Any, Any]]) -> None:
        self.stream, self.name, self.record = stream, name, record

    def write(self, text: str) -> int:
        if text:
            self.record.append((self.name, text, None))
        return int(self.stream.write(text) or 0)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


__all__ = ["DisplaySink"]
