"""One answer in the transcript: a `render.Sink` showing blocks, reasoning, images and footer as widgets."""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle

from .sinks import Sink


def user_turn(prompt: str, images: int = 0) -> widgets.HTML:
    """The user's prompt in the transcript."""
    note = f" <small>(+{images} image{'s' if images > 1 else ''})</small>" if images else ""
    return widgets.HTML(
        f"<div class='openai-magic-user' style='white-space:pre-wrap'><b>you:</b> "
        f"{html.escape(prompt)}{note}</div>"
    )


def highlight_code(code: str, lang: str, _attrs: Any = None) -> str:
    """Pygments spans with inline styles for a fenced block; "" (plain, escaped) for unknown languages.

    JupyterLab highlights code in Markdown outputs, but not inside HTML widgets, so the panel does it.
    Pygments comes with IPython.
    """
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(lang.strip() or "text")
    except ClassNotFound:
        return ""  # markdown-it escapes and shows the code as is
    return highlight(code, lexer, HtmlFormatter(nowrap=True, noclasses=True))


@lru_cache(maxsize=1)
def _safe_parser() -> Any:
    """The shared parser's rules, raw HTML off: an HTML widget (unlike Markdown output) is not sanitized."""
    from markdown_it import MarkdownIt

    options = {"html": False, "highlight": highlight_code}
    return MarkdownIt("commonmark", options).enable(["table", "strikethrough"])


GROUP = 16  # streamed parts per container


class AnswerView(widgets.VBox, Sink):
    """Widgets for one streamed answer: Markdown blocks as HTML parts, only changed parts are set."""

    def __init__(self, title: str = "", **kwargs: Any) -> None:
        self.title = widgets.HTML(f"<b>{html.escape(title)}</b>" if title else "")
        self.status_line = widgets.HTML()
        self.reasoning_box = widgets.HTML(layout=widgets.Layout(display="none"))
        self.tools = widgets.VBox()  # one block per tool call, completed when it returns
        self._calls: dict[str, tuple[Any, widgets.HTML]] = {}
        self.blocks = widgets.VBox()  # the parts while streaming (in groups), then the whole answer
        self._shared: dict[str, Any] = {}
        self._pieces: dict[int, tuple[widgets.HTML, list[str], int]] = {}  # block -> its part, HTML, slot
        self.images = widgets.HTML(layout=widgets.Layout(display="none"))
        self.footer_line = widgets.HTML()
        self.error_line = widgets.HTML()
        self.blocks.add_class("openai-magic-answer")
        self.blocks.add_class("jp-RenderedHTMLCommon")  # JupyterLab's own Markdown styles apply
        self.footer_line.add_class("openai-magic-footer")
        self.error_line.add_class("openai-magic-error")
        children = [self.title] if title else []
        children += [
            self.status_line,
            self.reasoning_box,
            self.tools,
            self.blocks,
            self.images,
            self.footer_line,
            self.error_line,
        ]
        super().__init__(children=children, **kwargs)

    @classmethod
    def of_entry(cls, entry: Any) -> AnswerView:
        """A finished answer from a thread (turns added by `%%chat` or another panel)."""
        view = cls()
        view.final(entry.content, {})
        view.footer(entry.meta.get("model") or "", {})
        if entry.interrupted or entry.error:
            view.error(entry.error or "interrupted")
        return view

    # -- render.Sink ----------------------------------------------------------------------------

    def status(self, text: str | None) -> None:
        self.status_line.value = f"<i>{html.escape(text.strip('_'))}</i>" if text else ""

    def reasoning(self, text: str, done: bool) -> None:
        from .render_parts import reasoning_html

        self.reasoning_box.value = reasoning_html(text, done)
        self.reasoning_box.layout.display = ""

    def block(self, index: int, source: str) -> None:
        """Show block `index` (new, or an update of one shown before)."""
        self.show_blocks([(index, source)])

    def show_blocks(self, changes: list[tuple[int, str]]) -> None:
        """Show what one update changed. The new blocks that are already settled share one widget (a
        fast server settles dozens per update: one widget each would cost ~1 KB of comm state apiece);
        the last new block, the one still growing, gets its own so its updates re-send only itself."""
        self.status(None)
        fresh: list[tuple[int, str]] = []
        for index, source in changes:
            if index in self._pieces:
                self._update_piece(index, source)
            else:
                fresh.append((index, source))
        if len(fresh) > 1:
            self._add_part(fresh[:-1])
        if fresh:
            self._add_part(fresh[-1:])

    def _update_piece(self, index: int, source: str) -> None:
        part, pieces, slot = self._pieces[index]
        pieces[slot] = _safe_parser().render(source) if source else ""
        part.value = "".join(pieces)

    def _add_part(self, blocks: list[tuple[int, str]]) -> None:
        """A new part widget for `blocks`. Parts go into groups of GROUP: a container's `children` are
        re-sent whole on every change, so one flat list of parts would cost quadratic bytes."""
        pieces = [_safe_parser().render(source) if source else "" for _, source in blocks]
        if not self._shared:  # one Layout and Style for every part: not three widgets per part
            self._shared = {"layout": widgets.Layout(), "style": HTMLStyle()}
        part = widgets.HTML("".join(pieces), **self._shared)
        for slot, (index, _) in enumerate(blocks):
            self._pieces[index] = (part, pieces, slot)
        groups = self.blocks.children
        if groups and len(groups[-1].children) < GROUP:
            groups[-1].children = (*groups[-1].children, part)
        else:
            self.blocks.children = (*groups, widgets.VBox([part], layout=self._shared["layout"]))

    def final(self, answer: str, metadata: dict[str, Any]) -> None:
        """The complete answer as one rendering, identical to rendering the whole text at once."""
        self.status(None)
        self._pieces.clear()
        self.blocks.children = (widgets.HTML(_safe_parser().render(answer)),) if answer else ()

    def tool_call(self, call: Any) -> None:
        from .render_parts import tool_html

        self.status(None)
        block = widgets.HTML(tool_html(call))
        self._calls[call.id] = (call, block)
        self.tools.children = (*self.tools.children, block)

    def tool_result(self, result: Any) -> None:
        from .render_parts import tool_html

        if result.id in self._calls:
            call, block = self._calls[result.id]
            block.value = tool_html(call, result)

    def image(self, src: str, alt: str, metadata: dict[str, Any]) -> None:
        self.status(None)
        self.images.value += (
            f"<img src='{html.escape(src)}' alt='{html.escape(alt)}' title='{html.escape(alt)}' "
            "style='max-width:100%'>"
        )
        self.images.layout.display = ""

    def footer(self, text: str, metadata: dict[str, Any]) -> None:
        self.footer_line.value = f"<small style='opacity:.65'>{html.escape(text)}</small>"

    def error(self, text: str) -> None:
        self.status(None)
        self.error_line.value = f"<span style='color:#b00'>{html.escape(text)}</span>"

    def notice(self, text: str) -> None:
        self.status_line.value = f"<small>{html.escape(text)}</small>"

    # -- for tests and export -------------------------------------------------------------------

    @property
    def text_html(self) -> str:
        """All answer blocks' HTML, joined."""
        found: list[str] = []
        for child in self.blocks.children:
            parts = child.children if isinstance(child, widgets.VBox) else (child,)
            found += [part.value for part in parts]
        return "".join(found)
