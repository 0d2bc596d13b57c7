"""One answer in the panel's transcript: Markdown blocks, reasoning, images, footer and error as widgets."""

from __future__ import annotations

import html
import time

import ipywidgets as widgets

THROTTLE_SECONDS = 1 / 15


class AnswerView(widgets.VBox):
    """Widgets for one streamed answer; completed Markdown blocks are set once, only the last is updated."""

    def __init__(self, title: str = "", **kwargs) -> None:
        self.title = widgets.HTML(f"<b>{html.escape(title)}</b>" if title else "")
        self.status = widgets.HTML("<i>thinking…</i>")
        self.reasoning = widgets.HTML(layout=widgets.Layout(display="none"))
        self.blocks = widgets.VBox()
        self.images = widgets.HTML(layout=widgets.Layout(display="none"))
        self.footer = widgets.HTML()
        self.error = widgets.HTML()
        for child, cls in (
            (self.blocks, "openai-magic-answer"),
            (self.footer, "openai-magic-footer"),
            (self.error, "openai-magic-error"),
            (self.reasoning, "openai-magic-reasoning"),
        ):
            child.add_class(cls)
        children = [self.title] if title else []
        children += [self.status, self.reasoning, self.blocks, self.images, self.footer, self.error]
        super().__init__(children=children, **kwargs)
        self._last_push = 0.0
        self.block_updates = 0

    # -- the sink: what the streaming renderer calls ------------------------------------------

    def set_block(self, index: int, block_html: str) -> None:
        """Show block `index` (appending it when new); earlier blocks are left alone."""
        self.status.value = ""
        children = self.blocks.children
        if index < len(children):
            if children[index].value != block_html:
                children[index].value = block_html
                self.block_updates += 1
            return
        self.blocks.children = (*children, widgets.HTML(block_html))
        self.block_updates += 1

    def set_reasoning(self, reasoning_html: str) -> None:
        """Show the reasoning collapsed in a <details> block."""
        self.reasoning.value = reasoning_html
        self.reasoning.layout.display = ""

    def add_images(self, images_html: str) -> None:
        """Append images (already rendered as <img> tags)."""
        self.status.value = ""
        self.images.value += images_html
        self.images.layout.display = ""

    def set_footer(self, text: str) -> None:
        """The one-line usage footer after the answer."""
        self.status.value = ""
        self.footer.value = f"<small>{html.escape(text)}</small>"

    def set_error(self, text: str) -> None:
        """One clear error line, not a traceback."""
        self.status.value = ""
        self.error.value = f"<span style='color:#b00'>{html.escape(text)}</span>"

    def due(self) -> bool:
        """Throttle: True at most ~15 times per second."""
        now = time.monotonic()
        if now - self._last_push >= THROTTLE_SECONDS:
            self._last_push = now
            return True
        return False

    @property
    def text_html(self) -> str:
        """All answer blocks' HTML, joined (for tests and export)."""
        return "".join(child.value for child in self.blocks.children)
