"""Shared httpx clients (one per event loop and server), timeouts, and httpx errors mapped to ours.

httpx clients are bound to the event loop that first used them, and the core runs on two kinds of
loop (the bridge's private loop and, in notebooks, the kernel's), so clients are pooled per
(running loop, origin, proxy, ssl, pool size). `trust_env` stays on, so HTTPS_PROXY, NO_PROXY and
SSL_CERT_FILE work as with any httpx program.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl as _ssl
import threading
import weakref
from typing import Any

import httpx

from . import bridge, errors
from .secret import Secret, Secrets

DEFAULT_CONNECT_TIMEOUT = 10.0
# As many connections per server as a notebook may sensibly stream at once (the openai SDK's
# limit too): with fewer, requests queue inside httpcore, whose queue handling makes 1,000
# concurrent streams superlinearly slow.
DEFAULT_MAX_CONNECTIONS = 1000
MAX_KEEPALIVE_CONNECTIONS = 100

_lock = threading.Lock()
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def make_timeout(timeout: float | tuple[float, float] | httpx.Timeout | None) -> httpx.Timeout:
    """A connect/read split: a number is the read (and write) limit, connect is capped at 10 s.

    Waiting for a free pooled connection has no limit of its own: a request queued behind other
    streams is not a server that stopped answering (pass an `httpx.Timeout` to bound it).
    """
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return httpx.Timeout(None, connect=DEFAULT_CONNECT_TIMEOUT)
    if isinstance(timeout, tuple):
        connect, read = timeout
        return httpx.Timeout(read, connect=connect, pool=None)
    return httpx.Timeout(float(timeout), connect=min(float(timeout), DEFAULT_CONNECT_TIMEOUT), pool=None)


def get_client(
    url: str,
    proxy: str | Secret | None = None,
    ssl: bool | str = True,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> httpx.AsyncClient:
    """The shared keep-alive client for the running event loop and the server of `url`.

    `ssl`: True verifies TLS (with $SSL_CERT_FILE when set), False does not, a string is a CA bundle.
    """
    loop = asyncio.get_running_loop()
    target = httpx.URL(url)
    proxy = Secret.wrap(proxy)  # a proxy URL may carry a password: the pool's keys never show it
    key = (target.scheme, target.host, target.port, proxy, ssl, max_connections)
    with _lock:
        per_loop = _clients.get(loop)
        if per_loop is None:
            per_loop = _clients[loop] = {}
        client = per_loop.get(key)
        if client is None or client.is_closed:
            client = per_loop[key] = httpx.AsyncClient(
                proxy=proxy.reveal() if proxy else None,
                verify=tls_context(ssl, needed=target.scheme == "https"),
                trust_env=True,
                timeout=make_timeout(120),
                limits=httpx.Limits(
                    max_connections=max_connections,
                    max_keepalive_connections=min(max_connections, MAX_KEEPALIVE_CONNECTIONS),
                    keepalive_expiry=30,
                ),
            )
    return client


def tls_context(ssl: bool | str, needed: bool = True) -> _ssl.SSLContext:
    """The TLS context for a client: built once per process and setting, and only when `needed`.

    Loading the CA bundle takes 20-40 ms, which every new httpx client would otherwise pay, even
    for `http://` loopback servers that never use it. Those get a context without CAs (any TLS
    use of it would fail verification, never pass unverified).
    """
    if not needed:
        return _bare_context()
    env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    return _verifying_context(ssl, env)


@functools.cache
def _bare_context() -> _ssl.SSLContext:
    return _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)


@functools.cache
def _verifying_context(ssl: bool | str, env: tuple[str | None, str | None]) -> _ssl.SSLContext:
    # `env` is part of the cache key: SSL_CERT_FILE / SSL_CERT_DIR set later still take effect.
    if isinstance(ssl, str):  # a CA bundle path (httpx 0.28 deprecates `verify=<path>`)
        return _ssl.create_default_context(cafile=ssl)
    return httpx.create_ssl_context(verify=ssl, trust_env=True)


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


def transport_error(
    exc: Exception, *, partial_text: str = "", secrets: Secrets = (), what: str = "request"
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


__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "aclose",
    "close",
    "get_client",
    "make_timeout",
    "tls_context",
    "transport_error",
]
