"""The demo server's streams (server/sse.py) follow OpenAI's chunk format, read by the SDK and raw."""

from __future__ import annotations

import httpx
import openai
import pytest
from server_support import (
    USER,
    chat_body,
    chunks_of,
    content_deltas,
    http_client,
    sdk_client,
    sse_payloads,
    stream_raw,
)

from openai_magic.server import DemoServer

sdk = pytest.fixture(scope="module")(sdk_client)
http = pytest.fixture(scope="module")(http_client)


def test_stream_has_role_content_finish_usage_and_done(http: httpx.Client) -> None:
    raw = stream_raw(http, chat_body(stream_options={"include_usage": True}))
    payloads = sse_payloads(raw)
    assert payloads[-1] == "[DONE]"
    chunks = chunks_of(raw)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    finish = chunks[-2]
    assert finish["choices"][0]["finish_reason"] == "stop"
    usage = chunks[-1]
    assert usage["choices"] == []
    deltas = content_deltas(chunks)
    assert usage["usage"]["completion_tokens"] == len(deltas)
    full = http.post("/chat/completions", json=chat_body()).json()
    assert "".join(deltas) == full["choices"][0]["message"]["content"]


def test_stream_without_include_usage_has_no_usage_chunk(http: httpx.Client) -> None:
    chunks = chunks_of(stream_raw(http, chat_body()))
    assert all(c["choices"] for c in chunks)
    assert all("usage" not in c for c in chunks)


async def test_async_sdk_streams_the_same_text(demo_server: DemoServer, sdk: openai.OpenAI) -> None:
    client = openai.AsyncOpenAI(base_url=demo_server.base_url, api_key="x", max_retries=0)
    async with client:
        stream = await client.chat.completions.create(model="demo-chat", messages=USER, stream=True)
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    expected = sdk.chat.completions.create(model="demo-chat", messages=USER).choices[0].message.content
    assert len(parts) > 20
    assert "".join(parts) == expected


def test_hundred_thousand_chunks_stream_completely(http: httpx.Client) -> None:
    raw = stream_raw(http, chat_body("[demo tokens=100000]"))
    payloads = sse_payloads(raw)
    assert payloads[-1] == "[DONE]"
    assert len(payloads) == 100_000 + 3  # role chunk, content, finish chunk, [DONE]
