"""Shared httpx clients (one per event loop and endpoint) and request retries with backoff.

httpx clients are bound to the event loop that first used them, and the core runs on two kinds of
loop (the bridge's private loop and, in notebooks, the kernel's), so clients are pooled per
(running loop, api_base, proxy, ssl). `trust_env` stays on, so HTTPS_PROXY, NO_PROXY and
SSL_CERT_FILE work as with any httpx program.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl as _ssl
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import httpx

from . import bridge, errors

log = logging.getLogger("openai_magic")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_CONNECT_TIMEOUT = 10.0

_lock = threading.Lock()
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def make_timeout(timeout: float | tuple[float, float] | httpx.Timeout | None) -> httpx.Timeout:
    """A connect/read split: a number is the read (and write/pool) limit, connect is capped at 10 s."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return httpx.Timeout(None, connect=DEFAULT_CONNECT_TIMEOUT)
    if isinstance(timeout, tuple):
        connect, read = timeout
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(float(timeout), connect=min(float(timeout), DEFAULT_CONNECT_TIMEOUT))


def get_client(api_base: str, proxy: str | None = None, ssl: bool | str = True) -> httpx.AsyncClient:
    """The shared keep-alive client for the running event loop and this endpoint.

    `ssl`: True verifies TLS (with $SSL_CERT_FILE when set), False does not, a string is a CA bundle.
    """
    loop = asyncio.get_running_loop()
    key = (api_base, proxy, ssl)
    with _lock:
        per_loop = _clients.get(loop)
        if per_loop is None:
            per_loop = _clients[loop] = {}
        client = per_loop.get(key)
        if client is None or client.is_closed:
            client = per_loop[key] = httpx.AsyncClient(
                proxy=proxy,
                verify=_verify(ssl),
                trust_env=True,
                timeout=make_timeout(120),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30),
            )
    return client


def _verify(ssl: bool | str) -> bool | _ssl.SSLContext:
    # httpx 0.28 deprecates `verify=<path>`: a CA bundle path becomes an SSLContext.
    if isinstance(ssl, str):
        return _ssl.create_default_context(cafile=ssl)
    return ssl


async def aclose() -> None:
    """Close every client that belongs to the running event loop (call before closing the loop)."""
    with _lock:
        per_loop = _clients.pop(asyncio.get_running_loop(), {})
    for client in per_loop.values():
        await client.aclose()


def close() -> None:
    """Close the clients of the bridge's private loop (sync; notebooks and scripts at the end)."""
    if bridge.in_portal_thread():
        raise RuntimeError("use `await transport.aclose()` on the bridge loop")
    bridge.run(aclose())


bridge.on_shutdown(aclose)


@dataclass
class RetryPolicy:
    """How often and how long to retry 429/5xx replies and connect errors."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        delay = min(self.max_delay, self.base_delay * 2**attempt)
        return delay / 2 + random.uniform(0, delay / 2)


def transport_error(
    exc: Exception, *, partial_text: str = "", secrets: tuple[str | None, ...] = (), what: str = "request"
) -> errors.ProviderError:
    """Map an httpx exception to the hierarchy (timeouts vs connection problems)."""
    detail = errors.redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, *secrets)
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for data",
            httpx.WriteTimeout: "sending",
            httpx.PoolTimeout: "waiting for a free connection",
        }.get(type(exc), "waiting")
        return errors.RequestTimeoutError(
            f"{what} timed out while {kind} ({detail})", partial_text=partial_text
        )
    return errors.APIConnectionError(f"{what} failed: {detail}", partial_text=partial_text)


def _retryable_transport(exc: Exception) -> bool:
    # Nothing reached the server (or a stale keep-alive connection was closed under us).
    return isinstance(
        exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.RemoteProtocolError | httpx.ReadError
    )


def unexpected_body(
    raw: bytes, response: httpx.Response, problem: str, secrets: tuple[str | None, ...] = ()
) -> errors.ResponseError:
    """A 2xx whose body is not what was asked for, as an error quoting the server's text.

    The text is redacted before it is cut short: a cut could leave half a key that no longer matches.
    """
    whole = errors.redact(raw.decode("utf-8", "replace"), *secrets)
    text = errors.error_message(whole, "an empty body")
    return errors.ResponseError(
        errors.redact(f"{problem}: {text}", *secrets), status_code=response.status_code, body=whole[:2000]
    )


async def read_json(response: httpx.Response, *, label: str, secrets: tuple[str | None, ...] = ()) -> Any:
    """The reply's JSON body; an unreadable or non-JSON body (an HTML proxy page...) is a typed error."""
    try:
        raw = await response.aread()
    except httpx.HTTPError as exc:
        raise transport_error(exc, secrets=secrets) from None
    try:
        return json.loads(raw)
    except ValueError:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        problem = "malformed JSON" if "json" in kind else f"{kind} instead of JSON"
        raise unexpected_body(raw, response, f"{label} sent {problem}", secrets) from None


async def read_error_body(response: httpx.Response) -> Any:
    """The parsed JSON error body, or its text when it is not JSON."""
    try:
        raw = await response.aread()
    except httpx.HTTPError:
        return ""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


async def send(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    secrets: tuple[str | None, ...] = (),
    context: str = "",
) -> httpx.Response:
    """Send with retries and return a successful response whose body is not read yet.

    The caller must `aclose()` it. Error replies become typed errors with the server's message.
    """
    attempt = 0
    while True:
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            if _retryable_transport(exc) and attempt < policy.max_retries:
                delay = policy.backoff(attempt)
                log.info("retrying in %.2fs after %s", delay, type(exc).__name__)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            raise transport_error(exc, secrets=secrets) from None
        if response.is_success:
            return response
        body = await read_error_body(response)
        await response.aclose()
        error = errors.from_status(
            response.status_code, body, headers=response.headers, secrets=secrets, context=context
        )
        if response.status_code not in RETRY_STATUSES or attempt >= policy.max_retries:
            raise error
        if getattr(error, "insufficient_quota", False):
            raise error  # out of credit: retrying only repeats the bill's answer
        retry_after = errors.parse_retry_after(response.headers)
        if retry_after is not None and retry_after > policy.max_retry_after:
            raise error  # minutes or hours: tell the user instead of hanging the cell
        delay = retry_after if retry_after is not None else policy.backoff(attempt)
        log.info("retrying in %.2fs after HTTP %s", delay, response.status_code)
        attempt += 1
        await asyncio.sleep(delay)


__all__ = [
    "RETRY_STATUSES",
    "RetryPolicy",
    "aclose",
    "close",
    "get_client",
    "make_timeout",
    "read_error_body",
    "read_json",
    "send",
    "transport_error",
    "unexpected_body",
]
