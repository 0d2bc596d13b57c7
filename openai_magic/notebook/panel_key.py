"""The panel's API key field: a typed key moves into kernel memory at once and never stays in widget state."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from traitlets import Unicode

from ..core.secret import Secret
from . import keys


class KeyBox(widgets.Password):
    """A Password box whose typed value is not echoed back to the front ends (ipywidgets 8 echoes)."""

    value = Unicode("", help="Always reset to '' at once by KeyField.").tag(sync=True, echo_update=False)


class KeyField:
    """A Password box whose value is taken out on submit and cleared, plus a status line.

    A Password widget's value is synced to the front end and saved with widget state, so the key is
    stored here in a private attribute and the widget is reset to "" in the same callback.
    """

    def __init__(self, api_key: str | Secret | None = None) -> None:
        self.__key = Secret.wrap(api_key) or None  # masked in any repr or traceback
        self.__key_for: str | None = None  # keys.key_id of the provider the key was given for
        self._source = "passed to ChatPanel" if api_key else ""
        self._provider: Any = None
        self.on_change: Callable[[], object] | None = None  # called after a key is typed
        self.password = KeyBox(
            placeholder="paste a key, press Enter",
            description="key",
            continuous_update=False,
            layout=widgets.Layout(width="260px"),
        )
        self.password.add_class("openai-magic-key")
        self.status = widgets.HTML()
        self.password.observe(self._on_value, names="value")
        self.box = widgets.HBox([self.password, self.status])
        self._show()

    def _on_value(self, change: dict) -> None:
        value = (change["new"] or "").strip()
        if not value:
            return
        self.__key = Secret(value)
        self.__key_for = None
        self._source = "typed in panel"
        if self._provider is not None:  # shared with %%chat, like the conversations
            keys.remember(self._provider, self.__key)
            self.__key_for = keys.key_id(self._provider)
        self.password.value = ""
        self._show()
        if self.on_change is not None:
            self.on_change()

    def set_provider(self, provider: Any) -> None:
        """The provider the key is for: where `%chat_key` kept its key and which variable holds it.

        A typed or passed key belongs to the provider it was given for: choosing another provider (or
        another base URL) must not send it to that host."""
        self._provider = provider
        if self.__key is not None and self.__key_for is None:
            self.__key_for = keys.key_id(provider)
        self._show()

    @property
    def _env_name(self) -> str | None:
        return getattr(self._provider, "api_key_env", None)

    @property
    def _stored(self) -> Secret | None:
        return keys.lookup(self._provider) if self._provider is not None else None

    def clear(self) -> None:
        """Forget a typed or passed key."""
        self.__key = None
        self.__key_for = None
        self._source = ""
        self._show()

    @property
    def key(self) -> Secret | None:
        """The key to use: typed or passed in, else one kept by `%chat_key` (else the core reads the
        provider's environment variable itself)."""
        return self._given or self._stored

    @property
    def _given(self) -> Secret | None:
        """The typed or passed key, when it was given for the current provider."""
        if self.__key is None or self._provider is None:
            return None
        return self.__key if self.__key_for == keys.key_id(self._provider) else None

    @property
    def description(self) -> str:
        """What the status line says about the key, never the key itself."""
        if self._given:
            return f"key set ({self._source})"
        if self._stored:
            return "key set (kept in kernel memory by %chat_key)"
        if self._env_name and os.environ.get(self._env_name):
            return f"key set from {self._env_name}"
        if getattr(self._provider, "__name__", "") == "Demo":
            return "no key needed"
        if getattr(self._provider, "needs_auth", None) is False:
            return "no key (optional)"
        return "no key"

    def _show(self) -> None:
        self.status.value = f"<small>{self.description}</small>"

    def __repr__(self) -> str:
        return f"<KeyField {self.description}>"
