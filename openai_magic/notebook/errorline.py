"""One clear line for a failed turn, shared by the magics and the panel (no traceback, no key).

The line fits where it is shown: a missing key points to `%chat_key` in the magics and to the key
field in the panel; a connection error names the URL it tried (never its credentials).
"""

from __future__ import annotations

import math
from typing import Any


def describe(
    exc: BaseException,
    secrets: tuple[Any, ...] = (),
    *,
    surface: str = "magic",
    provider: Any = None,
    key: Any = None,
) -> str:
    """Type, the server's message, and what to do next; the key and URL credentials are redacted."""
    from ..core import errors
    from .plan import base_url, provider_label

    name = type(exc).__name__
    if isinstance(exc, errors.MissingAuthError) and provider is not None:
        text = f"{name}: {provider_label(provider)} needs an API key: {_key_hint(provider, surface)}"
    else:
        text = f"{name}: {exc}"
    if isinstance(exc, errors.ModelNotFoundError) and exc.suggestions:
        text += f" - did you mean: {', '.join(exc.suggestions[:5])}?"
    elif isinstance(exc, errors.ModelNotFoundError) and exc.available:
        more = ", ..." if len(exc.available) > 8 else ""
        text += f" (available: {', '.join(exc.available[:8])}{more})"
    if isinstance(exc, errors.RateLimitError) and exc.insufficient_quota:
        text += " - out of credit: check the provider's plan and billing"
    elif isinstance(exc, errors.RateLimitError):
        wait = getattr(exc, "retry_after", None)
        text += f" - retry in {math.ceil(wait)} s" if wait is not None else " - retry later"
    if isinstance(exc, errors.APIConnectionError | errors.RequestTimeoutError) and provider is not None:
        url = base_url(provider)
        if url and url not in text:
            text += f" (at {url})"
    text = " ".join(text.split())  # one line, whatever the server sent
    return errors.redact(text, *secrets, key)


def _key_hint(provider: Any, surface: str) -> str:
    """Where the key goes, in the words of the surface the user is looking at."""
    from ..core.urls import strip_credentials

    env = getattr(provider, "api_key_env", None)
    ident = getattr(provider, "__name__", "")
    name = strip_credentials(getattr(provider, "api_base", "") or "") if ident == "Custom" else ident.lower()
    if surface == "panel":
        return "type it into the key field" + (f" or set {env}" if env else "")
    return (f"set {env} or " if env else "") + f"run %chat_key {name}"
