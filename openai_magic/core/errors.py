"""One exception hierarchy for every provider, mapped from HTTP status and error body.

Names avoid shadowing Python built-ins (`RequestTimeoutError`, not `TimeoutError`). Messages carry
the server's own error text; the API key is never part of a message (see `redact`).
"""

from __future__ import annotations

import math
import traceback
from typing import Any

from .secret import MASK, Secret

# A server's error text is quoted in the message up to this many characters (a 5 MB `message`
# must not become a 5 MB exception text printed into the notebook); `exc.body` keeps strings up
# to BODY_TEXT_LIMIT and containers down to BODY_DEPTH_LIMIT levels.
MESSAGE_LIMIT = 1000
BODY_TEXT_LIMIT = 10_000
BODY_DEPTH_LIMIT = 32


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
    """5xx from the server; `retry_after` is its Retry-After in seconds, when it sent one (503)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ResponseError(ProviderError):
    """A malformed body, an unexpected content type, or a stream that ended too early."""


class APIConnectionError(ProviderError):
    """The server could not be reached or dropped the connection."""


class RequestTimeoutError(APIConnectionError):
    """Connect, read or write timeout; like the openai SDK's, a kind of `APIConnectionError`."""


class ReplayMissError(ProviderError):
    """Replay mode has no recorded answer for a request (`path` is the replay file); nothing was sent."""

    def __init__(self, message: str, *, path: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.path = path


def redact(text: str, *secrets: str | Secret | None) -> str:
    """Replace every secret (API keys, credentials) in `text` with a fixed marker, longest first."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret.reveal() if isinstance(secret, Secret) else secret, MASK)
    return text


def redact_value(value: Any, *secrets: str | Secret | None, depth: int = 0) -> Any:
    """`redact` applied to every string inside a JSON-like value (dicts, lists, tuples).

    Levels below BODY_DEPTH_LIMIT are replaced by a marker: a hostile body nested thousands of
    levels deep must not raise RecursionError here.
    """
    if isinstance(value, str):
        return redact(value, *secrets)
    if isinstance(value, dict | list | tuple) and depth >= BODY_DEPTH_LIMIT:
        return "[nested too deeply]"
    if isinstance(value, dict):
        return {
            redact_value(k, *secrets, depth=depth + 1): redact_value(v, *secrets, depth=depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item, *secrets, depth=depth + 1) for item in value)
    return value


def clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to `limit` characters, saying how much was cut (redact before clipping)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit:,} more characters cut]"


def bounded(value: Any, depth: int = 0) -> Any:
    """A JSON-like value with long strings clipped and deep levels replaced, for `exc.body`."""
    if isinstance(value, str):
        return clip(value, BODY_TEXT_LIMIT)
    if isinstance(value, dict | list | tuple) and depth >= BODY_DEPTH_LIMIT:
        return "[nested too deeply]"
    if isinstance(value, dict):
        return {k: bounded(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(bounded(item, depth + 1) for item in value)
    return value


def scrub(error: ProviderError, *secrets: str | Secret | None) -> ProviderError:
    """Remove the secrets from an error's message, args and body, and cut its exception chain.

    The chained exception is an httpx error whose `request` carries the Authorization header. The
    frames the error came through lose their local variables (which held request headers and the
    server's unredacted text): `%xmode Verbose` and `capture_locals=True` print those.
    """
    error.message = redact(error.message, *secrets)
    error.args = tuple(redact_value(arg, *secrets) for arg in error.args)
    error.body = redact_value(error.body, *secrets)
    clear_locals(error)
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error


def clear_locals(error: BaseException) -> None:
    """Clear the local variables of every finished frame `error` (and its chain) came through.

    Frames still running (the caller's) are kept as they are.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


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
    """The server's own error text from any common error body shape (OpenAI, FastAPI, plain).

    Cut to MESSAGE_LIMIT characters: it becomes an exception text, printed into the notebook.
    """
    return clip(_server_text(body) or fallback)


def _server_text(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            for key in ("message", "msg", "detail"):
                text = error.get(key)
                if isinstance(text, str) and text:
                    return text
            code = error.get("code") or error.get("type")
            if code:
                return f"error code {code}"
        elif isinstance(error, str) and error:
            return error
        detail = body.get("detail")
        if isinstance(detail, str) and detail:
            return detail
        if isinstance(detail, list) and detail:
            return "; ".join(_detail_item(item) for item in detail[:20])
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    elif isinstance(body, str) and body.strip():
        text = " ".join(body[: 2 * MESSAGE_LIMIT].split())
        return text if len(text) <= 300 else text[:297] + "..."
    return ""


def _detail_item(item: Any) -> str:
    # FastAPI/pydantic validation errors: {"loc": [...], "msg": "...", "type": "..."}
    if isinstance(item, dict):
        loc = item.get("loc")
        where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
        msg = str(item.get("msg") or item.get("message") or item)
        return f"{where}: {msg}" if where else msg
    return str(item)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms` / `Retry-After` (seconds or an HTTP date).

    A value that is not a finite, non-negative number or a date counts as absent (`nan`, `-5`,
    `soon`), so the caller falls back to its own backoff instead of retrying at once.
    """
    if headers is None:
        return None
    seconds = _seconds(headers.get("retry-after-ms"), scale=1000)
    if seconds is not None:
        return seconds
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _seconds(value)
    if seconds is not None or _is_number(value):
        return seconds
    try:
        import email.utils
        import time

        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _seconds(value: str | None, scale: float = 1) -> float | None:
    if not value:
        return None
    try:
        number = float(value) / scale
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def from_status(
    status: int,
    body: Any,
    *,
    headers: Any = None,
    partial_text: str = "",
    secrets: tuple[str | Secret | None, ...] = (),
    context: str = "",
) -> ProviderError:
    """Build the typed error for an HTTP error reply (`body` is parsed JSON or the raw text)."""
    cls = error_class(status)
    body = redact_value(body, *secrets)  # before any text is cut short, which could halve a key
    text = error_message(body, fallback=f"HTTP {status}")
    message = redact(f"{context}{text} (HTTP {status})", *secrets)
    kwargs: dict[str, Any] = {"status_code": status, "body": bounded(body), "partial_text": partial_text}
    if cls is RateLimitError or cls is ServerError:
        kwargs["retry_after"] = parse_retry_after(headers)
    if cls is RateLimitError:
        kwargs["insufficient_quota"] = _is_quota_error(body)
    return cls(message, **kwargs)


def _is_quota_error(body: Any) -> bool:
    """OpenAI's billing 429: `{"error": {"code" or "type": "insufficient_quota"}}`."""
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and "insufficient_quota" in (error.get("code"), error.get("type"))


def from_stream_error(
    error: Any, *, partial_text: str = "", secrets: tuple[str | Secret | None, ...] = ()
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
    return cls(message, status_code=status, body=bounded(body), partial_text=partial_text, **extra)


__all__ = [
    "APIConnectionError",
    "AuthenticationError",
    "BadRequestError",
    "MissingAuthError",
    "ModelNotFoundError",
    "ProviderError",
    "RateLimitError",
    "ReplayMissError",
    "RequestTimeoutError",
    "ResponseError",
    "ServerError",
    "clear_locals",
    "error_class",
    "error_message",
    "from_status",
    "from_stream_error",
    "parse_retry_after",
    "redact",
    "redact_value",
    "scrub",
]
