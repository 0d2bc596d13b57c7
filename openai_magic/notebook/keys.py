"""API keys typed in the kernel (`%chat_key`, the panel): kept in process memory, never in a notebook.

One store shared by the magics and `ChatPanel`, so a key entered once serves both. Optionally backed by
the system keyring (the `keyring` package) when the user asks for it.
"""

from __future__ import annotations

from typing import Any

from ..core.secret import Secret

_KEYS: dict[str, Secret] = {}  # key_id(provider) -> API key (masked wherever it is printed)


def key_id(provider: Any) -> str:
    """Where a provider's key is stored: its class name, or the base URL (no credentials) for custom ones."""
    from ..core.urls import strip_credentials

    name = getattr(provider, "__name__", "")
    return strip_credentials(str(getattr(provider, "api_base", "") or name)) if name == "Custom" else name


def remember(provider: Any, key: str | Secret, *, keyring: bool = False) -> str:
    """Keep `key` for `provider` in memory (and the keyring when asked); say where it went."""
    ident = key_id(provider)
    secret = Secret.wrap(key)
    assert secret is not None
    _KEYS[ident] = secret
    if not keyring:
        return "kernel memory"
    import keyring as system_keyring  # optional dependency: ImportError tells the caller

    system_keyring.set_password("openai_magic", ident, secret.reveal())
    return "kernel memory and the system keyring"


def lookup(provider: Any, *, keyring: bool = False) -> Secret | None:
    """The key stored for `provider`, from memory first, then (when enabled) the system keyring."""
    ident = key_id(provider)
    if ident in _KEYS:
        return _KEYS[ident]
    if keyring:
        try:
            import keyring as system_keyring

            return Secret.wrap(system_keyring.get_password("openai_magic", ident) or None)
        except Exception:  # no keyring package or no backend: behave as if nothing is stored
            return None
    return None
