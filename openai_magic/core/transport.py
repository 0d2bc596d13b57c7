"""Shared httpx clients (one per event loop and server), timeouts, and httpx errors mapped to ours.

httpx clients are bound to the event loop that first used them, and the core runs on two kinds of
loop (the bridge's private loop and, in notebooks, the kernel's), so clients are pooled per
(running loop, origin, proxy, ssl, pool size). `trust_env` stays on, so HTTPS_PROXY, NO_PROXY and
SSL_CERT_FILE work as with any httpx program.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import ssl as _ssl
import threading
import weakref
from collections.abc import Callable
from typing import Any

import httpx

from . import bridge, errors
from .secret import Secret, Secrets

DEFAULT_CONNECT_TIMEOUT = 10.0
# As many connections per server as a notebook may sensibly stream at once (the openai SDK's
# limit too), in shards of at most SHARD_CONNECTIONS: httpcore 1.0's pool rescans all of its
# connections (quadratically, for idle ones) each time a request starts or ends, which made 1,000
# streams in one pool spend most of their time there (encode/httpcore#1035; fixed in the httpx2
# fork). Small pools keep that cost flat (bench/concurrency.py: 13.5 s for 1,000 paced streams in
# one pool, 3.5 s in shards of 100, 2.5 s in shards of 25), and a shard is only opened when all
# the others are busy, so requests made one at a time always reuse the first shard's connection.
DEFAULT_MAX_CONNECTIONS = 1000
SHARD_CONNECTIONS = 25

_lock = threading.Lock()
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Shards]] = (
    weakref.WeakKeyDictionary()
)


class Lease:
    """One request's use of a shard: `client` sends it; `release()` once its response is closed."""

    __slots__ = ("_index", "_shards", "client")

    def __init__(self, shards: Shards, index: int) -> None:
        self._shards, self._index = shards, index
        self.client = shards.clients[index]

    def release(self) -> None:
        if self._index >= 0:
            self._shards.active[self._index] -= 1
            self._index = -1


class Shards:
    """The keep-alive clients of one server on one event loop: the first that has a free
    connection takes the request (so one-at-a-time requests always reuse the same connection)."""

    def __init__(self, make: Callable[[int], httpx.AsyncClient], max_connections: int) -> None:
        count = max(1, math.ceil(max_connections / SHARD_CONNECTIONS))
        self.per_shard = max(1, math.ceil(max_connections / count))
        self._make = make
        self.clients = [make(self.per_shard)]
        self.active = [0]
        self.count = count

    def primary(self) -> httpx.AsyncClient:
        """The first shard's client (reopened when it was closed)."""
        return self._client(0)

    def _client(self, index: int) -> httpx.AsyncClient:
        if self.clients[index].is_closed:
            self.clients[index] = self._make(self.per_shard)
        return self.clients[index]

    def lease(self) -> Lease:
        """A shard with a free connection, opening one more shard when all are busy."""
        free = next((i for i, active in enumerate(self.active) if active < self.per_shard), None)
        if free is None and len(self.clients) < self.count:
            self.clients.append(self._make(self.per_shard))
            self.active.append(0)
            free = len(self.clients) - 1
        if free is None:  # all full: queue where the fewest requests wait
            free = min(range(len(self.active)), key=self.active.__getitem__)
        self._client(free)
        self.active[free] += 1
        return Lease(self, free)


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


def _shards(url: str, proxy: str | Secret | None, ssl: bool | str, max_connections: int) -> Shards:
    loop = asyncio.get_running_loop()
    target = httpx.URL(url)
    proxy = Secret.wrap(proxy)  # a proxy URL may carry a password: the pool's keys never show it
    key = (target.scheme, target.host, target.port, proxy, ssl, max_connections)

    def make(connections: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            proxy=proxy.reveal() if proxy else None,
            verify=tls_context(ssl, needed=target.scheme == "https"),
            trust_env=True,
            timeout=make_timeout(120),
            limits=httpx.Limits(
                max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=30
            ),
        )

    with _lock:
        per_loop = _clients.get(loop)
        if per_loop is None:
            per_loop = _clients[loop] = {}
        shards = per_loop.get(key)
        if shards is None:
            shards = per_loop[key] = Shards(make, max_connections)
    return shards


def get_client(
    url: str,
    proxy: str | Secret | None = None,
    ssl: bool | str = True,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> httpx.AsyncClient:
    """The shared keep-alive client for the running event loop and the server of `url`.

    `ssl`: True verifies TLS (with $SSL_CERT_FILE when set), False does not, a string is a CA bundle.
    """
    return _shards(url, proxy, ssl, max_connections).primary()


def lease(
    url: str,
    proxy: str | Secret | None = None,
    ssl: bool | str = True,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> Lease:
    """A client of the shared pool for one request (`get_client`'s, unless it is busy); call
    `release()` on it once the response is closed."""
    return _shards(url, proxy, ssl, max_connections).lease()


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
    for shards in per_loop.values():
        for client in shards.clients:
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
    "Lease",
    "Shards",
    "aclose",
    "close",
    "get_client",
    "lease",
    "make_timeout",
    "tls_context",
    "transport_error",
]
