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
import html
import json
import re
import sys
import uuid
from typing import Any

from .render_parts import METADATA_KEY, image_bytes, reasoning_html
from .sinks import Sink

_EMPHASIS_BREAKERS = re.compile(r"([\\`*_<\[\]])")

# nbconvert's HTML template sets `font-family: inherit` on every <pre> in an output, and JupyterLab's
# Markdown styles paint it the page colour, so a code block in an exported answer loses its monospace
# font and its background. This restores both, for Markdown outputs only; it is sent once per kernel,
# as an output of its own (the answer stays pure Markdown for the notebook and `--to markdown`).
EXPORT_STYLE = (
    "<style>.jp-OutputArea-output.jp-RenderedMarkdown pre{"
    "font-family:var(--jp-code-font-family,monospace);"
    "background:var(--jp-cell-editor-background,#f5f5f5);padding:4px 6px}"
    ".jp-OutputArea-output.jp-RenderedMarkdown .highlight{"
    "background:var(--jp-cell-editor-background,#f5f5f5)}"
    ".jp-OutputArea-output.jp-RenderedMarkdown pre code{background:transparent}"
    "</style>"
)
_state = {"style_sent": False}


class DisplaySink(Sink):
    """IPython display outputs; `fmt` markdown/code stream Markdown parts, html/json show at the end."""

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
        self._received = 0

    def _id(self) -> str:
        self._count += 1
        return f"{self._prefix}-{self._count}"

    @staticmethod
    def _show(
        bundle: dict[str, Any], display_id: str | None, update: bool = False, metadata: Any = None
    ) -> None:
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

    def notice(self, text: str) -> None:
        self._replay.append(("notice", text, None))
        print(text, flush=True)

    def error(self, text: str) -> None:
        self.status(None)
        self._replay.append(("error", text, None))
        print(text, file=sys.stderr, flush=True)

    # -- the end --------------------------------------------------------------------------------

    def final(self, answer: str, metadata: dict[str, Any]) -> None:
        bundle = self._answer_bundle(answer)
        if self.owned:
            self._replace_all(bundle, metadata)
        elif self._parts:
            self._export_style()
            self._show(bundle, self._parts[0], update=True, metadata=metadata)
            for display_id in self._parts[1:]:
                self._show({"text/markdown": ""}, display_id, update=True)
        elif self._slot is not None and not self._slot_is_reasoning:
            self._show(bundle or {"text/markdown": ""}, self._slot, update=True, metadata=metadata)
            self._slot = None
        elif bundle:
            self._show(bundle, self._id(), metadata=metadata)
        self._parts = []

    def _replace_all(self, bundle: dict[str, Any], metadata: dict[str, Any]) -> None:
        """One clean set of outputs: what was said, the reasoning, the answer, the images."""
        from IPython.display import clear_output

        clear_output(wait=True)
        for kind, value, _ in self._replay:
            if kind == "notice":
                print(value, flush=True)
            elif kind == "error":
                print(value, file=sys.stderr, flush=True)
        if self._reasoning:
            self._show(
                {"text/html": reasoning_html(self._reasoning, True), "text/plain": "[reasoning]"}, None
            )
        if bundle:
            self._export_style()
            self._show(bundle, None, metadata=metadata)
        for kind, value, md in self._replay:
            if kind == "image":
                self._show(value, None, metadata=md)
        self._slot = None

    def _export_style(self) -> None:
        if not _state["style_sent"] and self.fmt in ("markdown", "code"):
            _state["style_sent"] = True
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


__all__ = ["DisplaySink"]
