"""`--confirm`: ask before each tool call. Allow, deny, or allow every call for the rest of the turn.

The magics ask with a prompt for input: JupyterLab and Notebook 7 show it as a text field in the
cell, terminal IPython as a prompt. They cannot show buttons: while a `%%chat` cell runs, the kernel
handles no widget messages (a button click would only arrive after the cell ended), and making it do
so means replacing ipykernel's message dispatch, as jupyter-ui-poll does. The panel runs on the
kernel's event loop, which stays free while it waits, so it asks with real buttons.
A denied call returns "denied by the user" to the model (the core's `DENIED`).
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from .render_parts import tool_call_text


class AskInput:
    """The magics' confirm (sync; the core runs it on the cell's thread): y / n / a."""

    def __init__(self, notice: Any) -> None:
        self.allow_all = False
        self.notice = notice  # says once why it could not ask (e.g. a headless run)
        self._cannot_ask = False

    def __call__(self, call: Any) -> bool:
        if self.allow_all:
            return True
        if self._cannot_ask:
            return False
        question = f"Allow {tool_call_text(call.name, call.arguments)}? [y]es / [n]o / [a]ll for this cell: "
        try:
            answer = input(question).strip().lower()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # no stdin here (nbclient, a voila page): deny, and say so once
            self._cannot_ask = True
            self.notice(f"Cannot ask before calling tools here ({type(exc).__name__}): calls denied.")
            return False
        if answer in ("a", "all"):
            self.allow_all = True
        return answer in ("y", "yes", "a", "all")


class AskButtons:
    """The panel's confirm (async): three buttons in the answer; the loop waits without blocking."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self.allow_all = False

    async def __call__(self, call: Any) -> bool:
        import ipywidgets as widgets

        if self.allow_all:
            return True
        loop = asyncio.get_running_loop()
        choice: asyncio.Future[str] = loop.create_future()
        question = widgets.HTML(
            f"Allow <code>{html.escape(tool_call_text(call.name, call.arguments))}</code>?"
        )
        buttons = [
            widgets.Button(description=label, button_style=style)
            for label, style in (("allow", "success"), ("deny", "danger"), ("allow all", ""))
        ]

        def choose(button: Any) -> None:
            if not choice.done():
                choice.set_result(button.description)

        for button in buttons:
            button.add_class(f"openai-magic-confirm-{button.description.replace(' ', '-')}")
            button.on_click(choose)
        box = widgets.HBox([question, *buttons])
        box.add_class("openai-magic-confirm")
        self.view.tools.children = (*self.view.tools.children, box)
        try:
            answer = await choice
        finally:
            self.view.tools.children = tuple(c for c in self.view.tools.children if c is not box)
        if answer == "allow all":
            self.allow_all = True
        return answer in ("allow", "allow all")


__all__ = ["AskButtons", "AskInput"]
