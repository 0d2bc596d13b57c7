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
    """404 for a model; `suggestions` lists close matches and `available` the listed models, when
    they were cheap to find (`describe` in the notebook layer turns them into a hint)."""

    def __init__(
        self,
        message: str,
        *,
        suggestions: list[str] | None = None,
        available: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.suggestions = suggestions or []
        self.available = available or []


class RateLimitError(ProviderError):
    """429; `retry_after` is the server's Retry-After in seconds, when it sent one.

    `insufficient_quota` marks OpenAI's "out of credit" 429, which waiting does not fix.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        insufficient_quota: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.insufficient_quota = insufficient_quota


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


def redact_value(value: Any, *secrets: str | None) -> Any:
    """`redact` applied to every string inside a JSON-like value (dicts, lists, tuples)."""
    if isinstance(value, str):
        return redact(value, *secrets)
    if isinstance(value, dict):
        return {redact_value(k, *secrets): redact_value(v, *secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item, *secrets) for item in value)
    return value


def scrub(error: ProviderError, *secrets: str | None) -> ProviderError:
    """Remove the secrets from an error's message, args and body, and cut its exception chain.

    The chained exception is an httpx error whose `request` carries the Authorization header.
    """
    error.message = redact(error.message, *secrets)
    error.args = tuple(redact_value(arg, *secrets) for arg in error.args)
    error.body = redact_value(error.body, *secrets)
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error


# --- mapping HTTP replies and in-stream error objects to the hierarchy above -----------------------

_BY_TYPE: dict[str, type[ProviderError]] = {
    "invalid_api_key": AuthenticationError,
    "authentication_error": AuthenticationError,
    "permission_error": AuthenticationError,
    "model_not_found": ModelNotFoundError,
    "not_found_error": ModelNotFoundError,
    "rate_limit_exceeded": RateLimitError,
    "rate_limit_error": RateLimitError,
    "insufficient_quota": RateLimitError,
    "invalid_request_error": BadRequestError,
    "server_error": ServerError,
    "api_error": ServerError,
    "overloaded_error": ServerError,
    "timeout": RequestTimeoutError,
}


def error_class(status: int | None) -> type[ProviderError]:
    """The exception class for an HTTP status code."""
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return ModelNotFoundError
    if status == 408:
        return RequestTimeoutError
    if status == 429:
        return RateLimitError
    if status is not None and status >= 500:
        return ServerError
    if status is not None and 400 <= status < 500:
        return BadRequestError
    return ResponseError


def error_message(body: Any, fallback: str = "") -> str:
    """The server's own error text from any common error body shape (OpenAI, FastAPI, plain)."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            for key in ("message", "msg", "detail"):
                if isinstance(error.get(key), str) and error[key]:
                    return error[key]
            code = error.get("code") or error.get("type")
            if code:
                return f"error code {code}"
        elif isinstance(error, str) and error:
            return error
        detail = body.get("detail")
        if isinstance(detail, str) and detail:
            return detail
        if isinstance(detail, list) and detail:
            return "; ".join(_detail_item(item) for item in detail)
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    elif isinstance(body, str) and body.strip():
        text = " ".join(body.split())
        return text if len(text) <= 300 else text[:297] + "..."
    return fallback


def _detail_item(item: Any) -> str:
    # FastAPI/pydantic validation errors: {"loc": [...], "msg": "...", "type": "..."}
    if isinstance(item, dict):
        loc = item.get("loc")
        where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
        msg = str(item.get("msg") or item.get("message") or item)
        return f"{where}: {msg}" if where else msg
    return str(item)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms` / `Retry-After` (seconds or an HTTP date)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils
        import time

        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def from_status(
    status: int,
    body: Any,
    *,
    headers: Any = None,
    partial_text: str = "",
    secrets: tuple[str | None, ...] = (),
    context: str = "",
) -> ProviderError:
    """Build the typed error for an HTTP error reply (`body` is parsed JSON or the raw text)."""
    cls = error_class(status)
    body = redact_value(body, *secrets)  # before any text is cut short, which could halve a key
    text = error_message(body, fallback=f"HTTP {status}")
    message = redact(f"{context}{text} (HTTP {status})", *secrets)
    kwargs: dict[str, Any] = {"status_code": status, "body": body, "partial_text": partial_text}
    if cls is RateLimitError:
        kwargs["retry_after"] = parse_retry_after(headers)
        kwargs["insufficient_quota"] = _is_quota_error(body)
    return cls(message, **kwargs)


def _is_quota_error(body: Any) -> bool:
    """OpenAI's billing 429: `{"error": {"code" or "type": "insufficient_quota"}}`."""
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and "insufficient_quota" in (error.get("code"), error.get("type"))


def from_stream_error(
    error: Any, *, partial_text: str = "", secrets: tuple[str | None, ...] = ()
) -> ProviderError:
    """Build the typed error for an `error` object (or `event: error`) inside a 200 stream."""
    status: int | None = None
    cls: type[ProviderError] = ServerError
    if isinstance(error, dict):
        for key in ("status", "status_code", "code"):
            value = error.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                status = value
            elif isinstance(value, str) and value.isdigit():
                status = int(value)
            if status is not None:
                break
        if status is not None and status >= 400:
            cls = error_class(status)
        else:
            kind = error.get("type") or error.get("code")
            cls = _BY_TYPE.get(kind, ServerError) if isinstance(kind, str) else ServerError
        body = {"error": error}
    else:
        body = error
    body = redact_value(body, *secrets)
    text = error_message(body, fallback="the server reported an error mid-stream")
    message = redact(f"stream error: {text}", *secrets)
    extra = {"insufficient_quota": _is_quota_error(body)} if cls is RateLimitError else {}
    return cls(message, status_code=status, body=body, partial_text=partial_text, **extra)


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
    "error_class",
    "error_message",
    "from_status",
    "from_stream_error",
    "parse_retry_after",
    "redact",
    "redact_value",
    "scrub",
]
