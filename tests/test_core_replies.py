"""Odd replies a hostile loopback server sends: each is survived with the answer, or a clear error."""

from __future__ import annotations

import json

import pytest
from conftest import SENTINEL_KEY
from core_support import HostileServer, Request, collect, http_reply, of_type, sse_chunk, text_of

from openai_magic.core import errors, providers
from openai_magic.core.responses import FinishReason, ProviderInfo

DEEP = "[" * 2000 + "]" * 2000
HELLO = sse_chunk("Hello")
WORLD_STOP = sse_chunk(" world", finish="stop").rstrip(b"\n")  # no line break after it
REPLY = {
    "model": "m",
    "choices": [{"index": 0, "message": {"content": "Hello world"}, "finish_reason": "stop"}],
}


def respond(request: Request) -> bytes:
    mode = request.path.split("/")[1]
    replies = {
        # 11: the last event ends with one line break, then the body ends
        "no-final-blank-line": http_reply(200, HELLO + WORLD_STOP + b"\n", "text/event-stream"),
        "no-final-line-break": http_reply(200, HELLO + WORLD_STOP, "text/event-stream"),
        # 12: content types that lie
        "sse-as-json": http_reply(200, HELLO + WORLD_STOP + b"\n\ndata: [DONE]\n\n", "application/json"),
        "json-as-sse": http_reply(200, REPLY, "text/event-stream"),
        "sse-unlabelled": http_reply(200, b"\n\n" + HELLO + WORLD_STOP + b"\n\n", ""),
        # 10: JSON nested 2,000 levels deep
        "deep-event": http_reply(200, HELLO + b"data: " + DEEP.encode() + b"\n\n", "text/event-stream"),
        "deep-chunk": http_reply(
            200,
            HELLO + b'data: {"choices": [{"delta": {"content": ' + DEEP.encode() + b"}}]}\n\n",
            "text/event-stream",
        ),
        "deep-reply": http_reply(200, DEEP),
        "deep-error": http_reply(400, '{"error": ' + DEEP + "}"),
        "deep-error-event": http_reply(
            200, HELLO + b'data: {"error": ' + DEEP.encode() + b"}\n\n", "text/event-stream"
        ),
        # 13: redirects
        "moved": http_reply(301, "", location="https://api.example.com/v2/chat/completions"),
        "moved-relative": http_reply(308, "", location="/new/v1/chat/completions"),
        "moved-with-key": http_reply(
            302, "", location=f"https://user:{SENTINEL_KEY}@elsewhere/v1?key={SENTINEL_KEY}"
        ),
        "moved-nowhere": http_reply(307, ""),
    }
    return replies[mode]


@pytest.fixture(scope="module")
async def server():
    async with HostileServer(respond) as hostile:
        yield hostile


def provider(server: HostileServer, mode: str, **attrs):
    return providers.custom(f"{server.root}/{mode}/v1", max_retries=0, default_model="m", **attrs)


@pytest.mark.parametrize("mode", ["no-final-blank-line", "no-final-line-break"])
async def test_last_event_without_its_blank_line_is_delivered(server, mode):
    items = await collect(provider(server, mode).create_async_generator("m", "hi", stream=True))
    assert text_of(items) == "Hello world"  # was: " world" dropped and a false "ended early" error
    assert of_type(items, FinishReason) == [FinishReason("stop")]


@pytest.mark.parametrize("mode", ["sse-as-json", "json-as-sse", "sse-unlabelled"])
@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
async def test_the_body_is_parsed_by_what_it_is_not_by_its_label(server, mode, stream):
    items = await collect(provider(server, mode).create_async_generator("m", "hi", stream=stream))
    assert text_of(items) == "Hello world"
    assert isinstance(items[0], ProviderInfo)


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
@pytest.mark.parametrize("mode", ["deep-event", "deep-chunk", "deep-error-event"])
async def test_deeply_nested_stream_events_are_response_errors_with_the_partial_text(server, mode, stream):
    with pytest.raises(errors.ProviderError) as info:
        await collect(provider(server, mode).create_async_generator("m", "hi", stream=stream))
    assert not isinstance(info.value.__context__, RecursionError)
    assert isinstance(info.value, errors.ResponseError | errors.ServerError)
    assert info.value.partial_text == "Hello"


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
async def test_deeply_nested_bodies_are_typed_errors(server, stream):
    with pytest.raises(errors.ResponseError, match="nested too deeply"):
        await collect(provider(server, "deep-reply").create_async_generator("m", "hi", stream=stream))
    with pytest.raises(errors.BadRequestError, match=r"HTTP 400") as info:
        await collect(provider(server, "deep-error").create_async_generator("m", "hi", stream=stream))
    assert len(json.dumps(info.value.body)) < 20_000


async def test_a_long_stream_keeps_every_character_for_partial_text():
    pieces = [f"{n}," for n in range(3000)]  # more than one compacted block

    def cut(request: Request) -> bytes:
        body = b"".join(sse_chunk(piece) for piece in pieces) + b'data: {"oops\n\n'
        return http_reply(200, body, "text/event-stream")

    async with HostileServer(cut) as hostile:
        P = providers.custom(hostile.base_url, max_retries=0)
        with pytest.raises(errors.ResponseError, match="malformed") as info:
            await collect(P.create_async_generator("m", "hi", stream=True))
    assert info.value.partial_text == "".join(pieces)


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
async def test_a_redirect_names_the_new_location_and_the_base_url_to_use(server, stream):
    with pytest.raises(errors.ResponseError) as info:
        await collect(provider(server, "moved").create_async_generator("m", "hi", stream=stream))
    message = str(info.value)
    assert info.value.status_code == 301
    assert "https://api.example.com/v2/chat/completions" in message
    assert message.endswith("update the base URL to https://api.example.com/v2")
    assert len(server.requests) >= 1 and not any("example.com" in r.path for r in server.requests)


async def test_relative_and_empty_redirects(server):
    with pytest.raises(errors.ResponseError) as info:
        await collect(provider(server, "moved-relative").create_async_generator("m", "hi"))
    assert f"update the base URL to {server.root}/new/v1" in str(info.value)
    with pytest.raises(
        errors.ResponseError, match=r"redirect \(HTTP 307\) but no location: check the base URL"
    ):
        await collect(provider(server, "moved-nowhere").create_async_generator("m", "hi"))


async def test_a_redirect_never_shows_credentials(server):
    P = provider(server, "moved-with-key", api_key=SENTINEL_KEY)
    with pytest.raises(errors.ResponseError) as info:
        await collect(P.create_async_generator("m", "hi"))
    assert SENTINEL_KEY not in str(info.value) and SENTINEL_KEY not in repr(info.value.args)
    assert "https://elsewhere/v1" in str(info.value)


async def test_model_listing_redirect_is_explained_too(server):
    with pytest.raises(errors.ResponseError, match="listing models: the server redirects"):
        await provider(server, "moved").get_models_async()
