"""The panel's provider choice: the dropdown, the custom base URL box, and the provider they name.

Credentials in a base URL (`http://user:KEY@host/v1`) are a key too: the box shows and saves the URL
without them, and they stay in kernel memory for the requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.secret import Secret
from ..core.urls import strip_credentials
from .panel_controls import CUSTOM, DEFAULT, Controls
from .panel_key import KeyField
from .panel_models import ModelList
from .plan import UnknownProviderError, provider_label, resolve_provider


def provider_choices() -> list[tuple[str, str]]:
    """The dropdown: what `%chat` uses by default when that is not a preset, then every preset."""
    from ..core import providers

    default, is_demo = resolve_provider(None)
    choices = [] if is_demo else [(f"{provider_label(default)} (environment)", DEFAULT)]
    return choices + [(name, name) for name in providers.names()]


class UrlCredentials:
    """Base URLs as given, by the URL shown without their credentials."""

    def __init__(self) -> None:
        self.__urls: dict[str, Secret] = {}  # masked in any repr or traceback

    def absorb(self, url: str) -> str:
        """Remember `url`'s credentials (if any); the URL to show."""
        shown = strip_credentials(url)
        if shown != url:
            self.__urls[shown] = Secret(url)
        return shown

    def restore(self, shown: str) -> str:
        """The URL as given, for a URL that was shown without its credentials."""
        given = self.__urls.get(shown)
        return given.reveal() if given is not None else shown

    def __repr__(self) -> str:
        return f"<UrlCredentials for {len(self.__urls)} URLs>"


class ProviderChoice:
    """Keeps the key field and the model list on the provider the dropdown and the URL box name."""

    def __init__(self, ui: Controls, key: KeyField, models: ModelList) -> None:
        self.ui, self._key, self._models = ui, key, models
        self._credentials = UrlCredentials()
        self.on_change: Callable[[], object] | None = None  # after a new selection (reload the models)

    def wire(self) -> None:
        self.ui.provider.observe(lambda _: self.changed(), "value")
        self.ui.base_url.observe(self._hide_credentials, "value")  # before the provider is resolved
        self.ui.base_url.observe(lambda _: self.changed(), "value")

    @property
    def provider(self) -> str | None:
        """What `%%chat -p` would take: a preset name, the base URL as given, or None (the default)."""
        value = self.ui.provider.value
        if value == CUSTOM:
            return self._credentials.restore(self.ui.base_url.value.strip()) or None
        return None if value == DEFAULT else (value or None)

    @property
    def label(self) -> str:
        """The selected preset name, the custom base URL (no credentials), or the default's label."""
        value = self.ui.provider.value
        if value == CUSTOM:
            return strip_credentials(self.ui.base_url.value.strip())
        if value == DEFAULT:
            return provider_label(resolve_provider(None)[0])
        return str(value or "")

    def select(self, provider: str | None) -> None:
        """Show `provider` (a preset name, a base URL, or None for the default) as the selection."""
        ui = self.ui
        values = [value for _, value in ui.provider.options]
        if provider is None:
            ui.provider.value = DEFAULT if DEFAULT in values else "Demo"
        else:
            try:
                cls, _ = resolve_provider(provider)
            except UnknownProviderError:
                cls = None
            name = getattr(cls, "__name__", "")
            if cls is not None and name in values and not str(provider).startswith(("http://", "https://")):
                ui.provider.value = name
            else:
                ui.provider.value = CUSTOM
                ui.base_url.value = self._credentials.absorb(str(provider))
        self.changed(reload=False)

    def changed(self, reload: bool = True) -> None:
        """A new selection: resolve its class once, show the key that applies, reload the models."""
        custom = self.ui.provider.value == CUSTOM
        self.ui.base_url.layout.display = "" if custom else "none"
        provider = self.provider
        try:
            cls = None if custom and not provider else resolve_provider(provider)[0]
            problem = "" if cls is not None else "enter the server's base URL, e.g. http://localhost:8000/v1"
        except UnknownProviderError as exc:
            cls, problem = None, str(exc)
        self._key.set_provider(cls)
        self._models.set_provider(cls, problem)
        if reload and self.on_change is not None:
            self.on_change()

    def _hide_credentials(self, change: dict[str, Any]) -> None:
        shown = self._credentials.absorb(change["new"] or "")
        if shown != change["new"]:
            self.ui.base_url.value = shown


__all__ = ["ProviderChoice", "UrlCredentials", "provider_choices"]
