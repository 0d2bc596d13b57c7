"""Retries: a total sleep budget, Retry-After values that make no sense, and the RetryWait notice."""

from __future__ import annotations

import uuid

import httpx
import pytest
from core_support import (
    HostileServer,
    Request,
    collect,
    demo_provider,
    http_reply,
    of_type,
    ok_reply,
    text_of,
)

from openai_magic.core import errors, providers, responses
from openai_magic.core.responses import ImageResponse, ProviderInfo, RetryWait
from openai_magic.core.template import OpenaiTemplate


def throttled(retry_after: str, status: int = 429, times: int = 1_000) -> HostileServer:
    """A server answering `status` with that Retry-After to the first `times` requests."""

    def respond(request: Request) -> bytes:
        if len(server.requests) <= times:  # this request is already counted
            return http_reply(status, {"error": {"message": "slow down"}}, retry_after=retry_after)
        return ok_reply(request)

    server = HostileServer(respond)
    return server


async def test_retry_after_beyond_the_budget_is_raised_at_once_with_retry_after():
    async with throttled("119") as server:
        P = providers.custom(server.base_url, max_retries=2)
        items: list = []
        with pytest.raises(errors.RateLimitError) as info:
            async for item in P.create_async_generator("m", "hi"):
                items.append(item)
    assert info.value.retry_after == 119
    assert len(server.requests) == 1 and items == []  # no retry, no wait announced


async def test_the_budget_covers_all_retries_together():
    async with throttled("1", status=503) as server:
        P = providers.custom(server.base_url, max_retries=5, max_retry_wait=1.5)
        waits: list[RetryWait] = []
        with pytest.raises(errors.ServerError) as info:
            async for item in P.create_async_generator("m", "hi"):
                waits.append(item)
    # 1 s slept, then 1 s more would pass the 1.5 s budget: raised, with the server's wish.
    assert waits == [RetryWait(1.0, "server error 503", 1)]
    assert len(server.requests) == 2 and info.value.retry_after == 1


async def test_max_retry_wait_keyword_per_call():
    async with throttled("1", times=2) as server:
        P = providers.custom(server.base_url, max_retries=2)
        with pytest.raises(errors.RateLimitError):
            await collect(P.create_async_generator("m", "hi", max_retry_wait=0.5))
        assert len(server.requests) == 1
        items = await collect(P.create_async_generator("m", "hi"))  # the default budget: 60 s
    assert items[0] == RetryWait(1.0, "rate limited", 1) and text_of(items) == "ok"
    assert OpenaiTemplate.max_retry_wait == 60


@pytest.mark.parametrize("value", ["nan", "-5", "inf", "soon", "", "1e400"])
async def test_nonsense_retry_after_means_backoff(value):
    async with throttled(value, times=1) as server:
        P = providers.custom(server.base_url, max_retries=1, retry_base_delay=0.02)
        items = await collect(P.create_async_generator("m", "hi"))
    [wait] = of_type(items, RetryWait)
    assert 0.01 <= wait.seconds <= 0.02  # the backoff, not an immediate retry (nor a huge wait)
    assert text_of(items) == "ok"


def test_parse_retry_after_treats_nonsense_as_absent():
    for value in ("nan", "-5", "inf", "-inf", "1e400", "soon", "NaN"):
        assert errors.parse_retry_after(httpx.Headers({"retry-after": value})) is None, value
        assert errors.parse_retry_after(httpx.Headers({"retry-after-ms": value})) is None, value
    assert errors.parse_retry_after(httpx.Headers({"retry-after-ms": "nan", "retry-after": "3"})) == 3
    assert errors.parse_retry_after(httpx.Headers({"retry-after": "0"})) == 0


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
async def test_retry_wait_comes_before_each_retry_in_chat(demo_server, stream):
    P = demo_provider(demo_server.base_url)
    fault = f"429;retry_after=0;times=2;id={uuid.uuid4().hex}"
    items = await collect(
        P.create_async_generator("demo-chat", "hi", stream=stream, headers={"X-Demo-Fault": fault})
    )
    assert items[:2] == [RetryWait(0.0, "rate limited", 1), RetryWait(0.0, "rate limited", 2)]
    assert isinstance(items[2], ProviderInfo) and text_of(items)


async def test_retry_wait_in_images_and_for_connection_failures(demo_server):
    P = demo_provider(demo_server.base_url)
    fault = f"503;retry_after=0;times=1;id={uuid.uuid4().hex}"
    items = await collect(P.create_async_generator("demo-image", "a cat", headers={"X-Demo-Fault": fault}))
    assert items[0] == RetryWait(0.0, "server error 503", 1) and of_type(items, ImageResponse)
    Closed = providers.custom("http://127.0.0.1:9/v1", max_retries=1, retry_base_delay=0.01)
    seen: list = []
    with pytest.raises(errors.APIConnectionError):
        async for item in Closed.create_async_generator("m", "hi"):
            seen.append(item)
    assert [w.reason for w in seen] == ["connection failed (ConnectError)"]


async def test_chat_async_and_chat_ignore_the_notice(demo_server):
    P = demo_provider(demo_server.base_url)
    fault = f"429;retry_after=0;times=1;id={uuid.uuid4().hex}"
    assert await P.chat_async("[demo echo] hi", headers={"X-Demo-Fault": fault}) == "[demo echo] hi"
    assert "RetryWait" in responses.__all__
