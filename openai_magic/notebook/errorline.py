"""One clear line for a provider error, shared by the magics and the panel (no traceback, no key)."""

from __future__ import annotations

import math


def describe(exc: BaseException, secrets: tuple[str | None, ...] = ()) -> str:
    """Type, the server's message, and what to do next; any of `secrets` is redacted."""
    from ..core import errors

    text = f"{type(exc).__name__}: {exc}"
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
    if isinstance(exc, errors.MissingAuthError):
        text += " - set it with %chat_key or the provider's environment variable"
    return errors.redact(text, *secrets)
