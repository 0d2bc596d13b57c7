"""Shared clients per event loop, timeouts, backoff, proxy, clean close."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
from typing import Any

import httpx
import pytest
from core_support import collect, demo_provider, on_fresh_loop, text_of

from openai_magic.core import bridge, errors, retry, transport


async def test_client_reused_within_a_loop(demo_server):
    first = transport.get_client(demo_server.base_url)
    assert transport.get_client(demo_server.base_url) is first
    assert transport.get_client(demo_server.base_url, proxy="http://127.0.0.1:9") is not first
    assert transport.get_client(demo_server.base_url, ssl=False) is not first

    async def on_bridge_loop() -> httpx.AsyncClient:
        return transport.get_client(demo_server.base_url)

    other = bridge.run(on_bridge_loop())
    assert other is not first  # clients are bound to their loop
    assert bridge.run(on_bridge_loop()) is other


async def test_keep_alive_connection_is_reused(demo_server):
    P = demo_provider(demo_server.base_url)
    await collect(P.create_async_generator("demo-chat", "[demo echo] one", stream=True))
    pool = transport.get_client(demo_server.base_url)._transport._pool
    connections = list(pool.connections)
    await collect(P.create_async_generator("demo-chat", "[demo echo] two", stream=True))
    assert list(pool.connections) == connections and len(connections) == 1


async def test_aclose_closes_this_loops_clients(demo_server):
    async def scenario() -> tuple[bool, bool]:
        client = transport.get_client(demo_server.base_url)
        await transport.aclose()
        fresh = transport.get_client(demo_server.base_url)
        closed = client.is_closed
        await transport.aclose()
        return closed, fresh is not client

    # A private loop so the session's shared clients stay open for the other tests.
    loop = asyncio.new_event_loop()
    try:
        assert await asyncio.to_thread(loop.run_until_complete, scenario()) == (True, True)
    finally:
        loop.close()


def test_sync_close_then_reuse(demo_server):
    P = demo_provider(demo_server.base_url)
    assert P.chat("[demo echo] a") == "[demo echo] a"
    transport.close()
    assert P.chat("[demo echo] b") == "[demo echo] b"  # a new client is made on demand


def test_timeout_split():
    timeout = transport.make_timeout(120)
    assert (timeout.connect, timeout.read) == (10.0, 120.0)
    assert transport.make_timeout(3).connect == 3.0
    assert (transport.make_timeout((2, 30)).connect, transport.make_timeout((2, 30)).read) == (2, 30)
    assert transport.make_timeout(None).read is None
    custom = httpx.Timeout(5)
    assert transport.make_timeout(custom) is custom


def test_backoff_is_exponential_with_jitter_and_capped():
    policy = retry.RetryPolicy(base_delay=1.0, max_delay=8.0)
    for attempt, full in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)]:
        delays = {policy.backoff(attempt) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays)
        assert len(delays) > 1


async def test_proxy_is_used(demo_server):
    P = demo_provider(demo_server.base_url, max_retries=0)
    with pytest.raises(errors.APIConnectionError):
        await collect(P.create_async_generator("demo-chat", "hi", proxy="http://127.0.0.1:9"))
    assert (
        text_of(await collect(P.create_async_generator("demo-chat", "[demo echo] direct")))
        == "[demo echo] direct"
    )


async def test_impersonate_is_accepted(demo_server):
    P = demo_provider(demo_server.base_url)
    items = await collect(P.create_async_generator("demo-chat", "[demo echo] ua", impersonate="chrome"))
    assert text_of(items) == "[demo echo] ua"


async def test_ca_bundle_path_is_accepted(demo_server):
    import certifi

    client = transport.get_client(demo_server.base_url, ssl=certifi.where())
    assert not client.is_closed


# --- the connection pool: queued requests wait for a connection, not for a read timeout ---------


async def test_waiting_for_a_pooled_connection_is_not_a_read_timeout(demo_server):
    # One connection, two streams of ~1.5 s each, a 1 s read timeout: the second stream waits for
    # the connection longer than the read timeout, while data keeps flowing on the first.
    Narrow = demo_provider(demo_server.base_url, max_connections=1)
    prompt = "[demo pace=0.05] [demo tokens=30] go"

    async def one() -> str:
        return text_of(
            await collect(Narrow.create_async_generator("demo-chat", prompt, stream=True, timeout=1.0))
        )

    first, second = await asyncio.gather(one(), one())
    assert first == second and first
    assert transport.make_timeout(1.0).pool is None and transport.make_timeout((2, 5)).pool is None


def test_the_pool_opens_shards_of_25_connections_only_when_busy():
    # httpcore's pool rescans every connection whenever a request starts or ends: pools of at
    # most 25 connections keep 1,000 concurrent streams from spending their time there.
    url = "http://127.0.0.1:1/v1"

    async def one_at_a_time() -> bool:
        first = transport.lease(url)
        first.release()
        second = transport.lease(url)
        second.release()
        return first.client is second.client is transport.get_client(url)

    async def thousand_at_once() -> tuple[list[int], bool]:
        leases = [transport.lease(url) for _ in range(1001)]  # the last one finds every shard busy
        clients = {id(lease.client): lease.client for lease in leases[:1000]}
        queued = id(leases[1000].client) in clients
        for lease in leases:
            lease.release()
        return [client._transport._pool._max_connections for client in clients.values()], queued

    async def a_150_connection_pool() -> list[int]:
        leases = [transport.lease(url, max_connections=150) for _ in range(150)]
        return sorted(
            {id(lease.client): lease.client._transport._pool._max_connections for lease in leases}.values()
        )

    assert on_fresh_loop(one_at_a_time)  # keep-alive reuse: always the first shard's client
    assert on_fresh_loop(thousand_at_once) == ([25] * 40, True)  # no 41st shard
    assert on_fresh_loop(a_150_connection_pool) == [25] * 6


# --- TLS contexts: built once per process, and only for https ------------------------------------


def test_tls_context_is_built_only_for_https_and_once_per_process():
    async def contexts() -> list[Any]:
        clients = [
            transport.get_client("http://127.0.0.1:1/v1"),
            transport.get_client("https://one.invalid/v1"),
            transport.get_client("https://two.invalid/v1"),
        ]
        return [client._transport._pool._ssl_context for client in clients]

    plain, first, second = bridge.run(contexts())
    assert plain.cert_store_stats()["x509_ca"] == 0  # no CA bundle loaded for http://
    assert plain.verify_mode == ssl.CERT_REQUIRED  # and any TLS use of it would fail, not pass unverified
    assert first is second and first.cert_store_stats()["x509_ca"] > 0
    assert transport.tls_context(True) is first


def test_first_request_in_a_fresh_process_builds_no_tls_context(demo_server):
    # Counts CA bundle loads (the 20-40 ms part of building a TLS context) around a first request.
    code = f"""
import ssl
from openai_magic.core import providers

loads = []
original = ssl.SSLContext.load_verify_locations

def counted(self, *args, **kwargs):
    loads.append(args)
    return original(self, *args, **kwargs)

ssl.SSLContext.load_verify_locations = counted
P = providers.custom({demo_server.base_url!r})
assert P.chat("[demo echo] hi", "demo-chat") == "[demo echo] hi"
print(len(loads))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


# --- sockets: no Nagle delay on the client side either ----------------------------------------------


async def test_client_connections_set_tcp_nodelay(demo_server):
    P = demo_provider(demo_server.base_url)
    await collect(P.create_async_generator("demo-chat", "[demo echo] hi"))
    pool = transport.get_client(demo_server.base_url)._transport._pool
    sockets = [c._connection._network_stream.get_extra_info("socket") for c in pool.connections]
    assert sockets and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)
