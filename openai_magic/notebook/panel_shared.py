"""The panel's one seam to what it shares with the magics: providers, conversations and rendering.

Everything here delegates to `core.providers`, `notebook.conversation` and `notebook.render`; the
panel itself never reaches into those modules, so an interface change is mended in one place.
"""

from __future__ import annotations

import html
import itertools
from pathlib import Path
from typing import Any

from ..core import providers

_fresh = itertools.count(1)


def provider_names() -> list[str]:
    """The preset names for the provider dropdown."""
    return list(providers.names())


def _conv() -> Any:
    from . import conversation

    return conversation


def _rend() -> Any:
    from . import render

    return render


# -- conversations ------------------------------------------------------------------------------


def get_conversation(name: str) -> Any:
    return _conv().get_conversation(name)


def conversation_names() -> list[str]:
    return list(_conv().conversation_names())


def fresh_thread_name() -> str:
    names = set(conversation_names())
    return next(f"panel-{n}" for n in _fresh if f"panel-{n}" not in names)


def messages_of(conversation: Any) -> list[dict]:
    return list(conversation.messages)


def request_messages(conversation: Any, prompt: str, system: str | None) -> list[dict]:
    """History plus the new user prompt, as the request's `messages`."""
    return conversation.request_messages(prompt, system=system)


def record_turn(conversation: Any, prompt: str, answer: str, *, interrupted: bool, model: str | None) -> None:
    conversation.add_turn(prompt, answer, interrupted=interrupted, model=model)


def export_conversation(conversation: Any, path: Path) -> None:
    conversation.export(path)


# -- rendering ----------------------------------------------------------------------------------


class StreamRenderer:
    """Feeds the shared block-wise renderer and shows its blocks in an `AnswerView`."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self.answer = ""
        self._reasoning = ""
        self._stream = _rend().BlockStream()

    def text(self, delta: str) -> None:
        self.answer += delta
        self._stream.feed(delta)
        if self.view.due():
            self._push()

    def partial(self, text: str) -> None:
        """Text an error carried that the stream had not yielded yet."""
        if text and text.startswith(self.answer) and len(text) > len(self.answer):
            self.text(text[len(self.answer) :])

    def reasoning(self, delta: str) -> None:
        self._reasoning += delta
        if self.view.due():
            self.view.set_reasoning(_rend().reasoning_html(self._reasoning))

    def images(self, images: list[str], alt: str) -> None:
        self.view.add_images(
            "".join(
                f"<img src='{html.escape(src)}' alt='{html.escape(alt)}' style='max-width:100%'>"
                for src in images
            )
        )

    def finish(self) -> None:
        if self._reasoning:
            self.view.set_reasoning(_rend().reasoning_html(self._reasoning))
        self._stream.close()
        self._push()

    def _push(self) -> None:
        for index, block_html in self._stream.changed_blocks():
            self.view.set_block(index, block_html)


def footer(model: str | None, usage: Any, started: float, first: float | None, ended: float) -> str:
    return _rend().footer_text(model, usage, started, first, ended)
