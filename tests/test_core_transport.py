"""Shared clients per event loop, timeouts, backoff, proxy, clean close."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from core_support import collect, demo_provider, text_of

from openai_magic.core import bridge, errors, transport


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
    policy = transport.RetryPolicy(base_delay=1.0, max_delay=8.0)
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
