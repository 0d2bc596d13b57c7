"""One exception hierarchy for every provider, mapped from HTTP status and error body.

Names avoid shadowing Python built-ins (`RequestTimeoutError`, not `TimeoutError`). Messages carry
the server's own error text; the API key is never part of a message (see `redact`).
"""

from __future__ import annotations

from typing import Any


class ProviderError(Exception):
    """Base of every error openai_magic raises for a provider request.

    `partial_text` holds the answer text received before a stream failed, so nothing is lost.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: Any = None,
        partial_text: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.partial_text = partial_text

    def __str__(self) -> str:
        return self.message


class MissingAuthError(ProviderError):
    """The provider needs an API key and none is configured (raised before any request)."""


class AuthenticationError(ProviderError):
    """401/403: the key is missing, wrong or lacks permission."""


class ModelNotFoundError(ProviderError):
    """404 for a model; `suggestions` lists close matches when they were cheap to find."""

    def __init__(self, message: str, *, suggestions: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.suggestions = suggestions or []


class RateLimitError(ProviderError):
    """429; `retry_after` is the server's Retry-After in seconds, when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class BadRequestError(ProviderError):
    """400/422: the server rejected the request; the message is the server's."""


class ServerError(ProviderError):
    """5xx from the server."""


class ResponseError(ProviderError):
    """A malformed body, an unexpected content type, or a stream that ended too early."""


class RequestTimeoutError(ProviderError):
    """Connect, read or pool timeout."""


class APIConnectionError(ProviderError):
    """The server could not be reached or dropped the connection."""


def redact(text: str, *secrets: str | None) -> str:
    """Replace every secret (API keys) in `text` with a fixed marker."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


__all__ = [
    "APIConnectionError",
    "AuthenticationError",
    "BadRequestError",
    "MissingAuthError",
    "ModelNotFoundError",
    "ProviderError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseError",
    "ServerError",
    "redact",
]
