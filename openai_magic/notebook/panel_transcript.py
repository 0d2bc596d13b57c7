"""The panel's transcript: one thread shown and followed, wherever its turns come from.

It observes its thread, so a turn added by `%%chat -c NAME` or another panel appears at once, and a
cleared thread empties every transcript showing it. It also keeps the static copy of the thread
(`panel_fallback.py`) current after every change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets

from .conversation import Conversation, Entry, conversation_names, get_conversation
from .options import DEFAULT_CONVERSATION
from .panel_answer import AnswerView, user_turn
from .panel_fallback import snapshot_bundle


class Transcript:
    """The transcript widget's contents, the thread selector and the thread's static copy."""

    def __init__(self, ui: Any, panel_id: str, title: Any) -> None:
        self.ui = ui
        self.thread: Conversation | None = None
        self._own_turn = False  # this panel is adding its own turn (already on screen) to the thread
        self._live: list[widgets.Widget] = []  # the widgets of this panel's turn in progress
        self._snapshot_id = f"openai-magic-panel-{panel_id}"
        self._panel_id = panel_id
        self._title = title  # () -> str
        self.displayed = False

    @property
    def name(self) -> str:
        return self.thread.name if self.thread is not None else DEFAULT_CONVERSATION

    def switch(self, name: str) -> None:
        """Show (and follow) the named thread."""
        thread = get_conversation(name.strip() or DEFAULT_CONVERSATION)
        if thread is not self.thread:
            if self.thread is not None:
                self.thread.unsubscribe(self)
            self.thread = thread
            thread.subscribe(self)
            self.ui.transcript.children = ()
            for entry in thread.entries:
                self.append(entry_widget(entry))
        self.show_status()

    def thread_changed(self, conversation: Conversation, new: list[Entry]) -> None:
        """Observer of the shown thread: show turns added elsewhere; a cleared thread empties."""
        if conversation is not self.thread:
            return
        if not new:
            self.ui.transcript.children = ()
            self._live = []
        elif not self._own_turn:
            # Added elsewhere while this panel's own turn streams: before it, where the thread has it.
            self._insert([entry_widget(entry) for entry in new])
        self.show_status()

    def start_turn(self, *parts: widgets.Widget) -> None:
        """Show this panel's new turn (the prompt, the answer view) at the end."""
        for part in parts:
            self.append(part)
        self._live = list(parts)

    def end_turn(self) -> None:
        self._live = []

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """While the turn adds itself to the thread, the observer does not show it a second time."""
        self._own_turn = True
        try:
            yield
        finally:
            self._own_turn = False

    def append(self, widget: widgets.Widget) -> None:
        self._insert([widget], at_end=True)

    def _insert(self, parts: list[widgets.Widget], at_end: bool = False) -> None:
        # The transcript is a height-capped flex column that scrolls: children must keep their natural
        # height, or the browser squeezes every answer to fit instead of scrolling.
        for part in parts:
            part.layout.flex = "0 0 auto"
        children = list(self.ui.transcript.children)
        live = len(self._live)
        if at_end or not live or children[-live:] != self._live:
            self.ui.transcript.children = (*children, *parts)
        else:
            self.ui.transcript.children = (*children[:-live], *parts, *self._live)

    def show_status(self) -> None:
        """The thread selector, the message count, and the static copy."""
        names = conversation_names()
        if self.name not in names:
            names = [*names, self.name]
        self.ui.thread.options = tuple(names)
        self.ui.thread.value = self.name
        self.ui.thread_status.value = f"<small>{len(get_conversation(self.name))} messages</small>"
        if self.displayed:
            from IPython.display import update_display

            update_display(self.snapshot(), raw=True, display_id=self._snapshot_id)

    def snapshot(self) -> dict[str, str]:
        return snapshot_bundle(get_conversation(self.name), self._panel_id, self._title())

    def display_snapshot(self) -> None:
        """Display the static copy (after the live panel) and keep it current from now on."""
        from IPython.display import display

        display(self.snapshot(), raw=True, display_id=self._snapshot_id)
        self.displayed = True


def entry_widget(entry: Entry) -> widgets.Widget:
    """A thread entry as the transcript shows it."""
    if entry.role == "tool" or entry.meta.get("tool_calls"):
        from .conversation import tool_markdown
        from .panel_answer import _safe_parser

        return widgets.HTML(
            f"<div class='openai-magic-tool-entry'>{_safe_parser().render(tool_markdown(entry))}</div>"
        )
    return user_turn(entry.content) if entry.role == "user" else AnswerView.of_entry(entry)


__all__ = ["Transcript", "entry_widget"]
