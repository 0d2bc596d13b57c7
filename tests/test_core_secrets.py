"""The API key never shows in an error: a loopback server echoes it into every kind of failure."""

from __future__ import annotations

import socket

import pytest
from conftest import SENTINEL_KEY
from core_support import collect
from secrets_support import KeyEchoServer, echo_server_thread, leaks, no_key_in_logs

from openai_magic.core import errors, providers, transport

CASES = [
    ("401", False, errors.AuthenticationError),
    ("403-text", True, errors.AuthenticationError),
    ("404", False, errors.ModelNotFoundError),
    ("422", True, errors.BadRequestError),
    ("429", False, errors.RateLimitError),
    ("500", True, errors.ServerError),
    ("text-200", False, errors.ResponseError),
    ("text-200", True, errors.ResponseError),
    ("no-choices", False, errors.ResponseError),
    ("bad-json", False, errors.ResponseError),
    ("stream-error", True, errors.AuthenticationError),
    ("event-error", True, errors.ServerError),
    ("malformed", True, errors.ResponseError),
    ("odd-chunk", True, errors.ResponseError),
    ("500-long", False, errors.ServerError),
    ("text-long", False, errors.ResponseError),
    ("text-long", True, errors.ResponseError),
    ("malformed-long", True, errors.ResponseError),
    ("error-long", False, errors.BadRequestError),
]


all_logs = pytest.fixture(autouse=True)(no_key_in_logs)


@pytest.mark.parametrize(("mode", "stream", "error_type"), CASES)
async def test_chat_errors_never_carry_the_key(mode, stream, error_type):
    async with KeyEchoServer() as server:
        P = providers.custom(server.base(mode), api_key=SENTINEL_KEY, max_retries=0)
        with pytest.raises(error_type) as info:
            await collect(P.create_async_generator("m", "hi", stream=stream))
    assert info.value.message  # the server's text is still there, minus the key
    assert leaks(info.value, SENTINEL_KEY, SENTINEL_KEY[:10]) == []


async def test_the_server_really_quoted_the_key():
    # Without redaction the texts above would contain the key (so the test can fail).
    async with KeyEchoServer() as server:
        P = providers.custom(server.base("401"), api_key=SENTINEL_KEY, max_retries=0)
        with pytest.raises(errors.AuthenticationError) as info:
            await collect(P.create_async_generator("m", "hi"))
    assert "Incorrect API key: ***" in str(info.value)
    assert info.value.body == {"error": {"message": "Incorrect API key: ***", "param": "***"}}


@pytest.mark.parametrize("mode", ["image-no-data", "image-error"])
async def test_image_errors_never_carry_the_key(mode):
    async with KeyEchoServer() as server:
        P = providers.custom(server.base(mode), api_key=SENTINEL_KEY, image_models=["img"])
        with pytest.raises(errors.ProviderError) as info:
            await collect(P.create_async_generator("img", "a cat"))
    assert leaks(info.value, SENTINEL_KEY) == []


@pytest.mark.parametrize(("mode", "error_type"), [("models-text", errors.ResponseError), ("401", None)])
async def test_model_listing_errors_never_carry_the_key(mode, error_type):
    async with KeyEchoServer() as server:
        P = providers.custom(server.base(mode), api_key=SENTINEL_KEY)
        with pytest.raises(error_type or errors.AuthenticationError) as info:
            await P.get_models_async()
    assert "could not list models" in str(info.value)
    assert leaks(info.value, SENTINEL_KEY) == []


async def test_connection_errors_drop_the_request_that_holds_the_key():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        P = providers.custom(f"http://127.0.0.1:{closed.getsockname()[1]}/v1", api_key=SENTINEL_KEY)
        with pytest.raises(errors.APIConnectionError) as info:
            await collect(P.create_async_generator("m", "hi", max_retries=0))
    assert leaks(info.value, SENTINEL_KEY) == []
    assert info.value.__context__ is None


async def test_timeouts_never_carry_the_key():
    async with KeyEchoServer() as server:
        P = providers.custom(server.base("stall"), api_key=SENTINEL_KEY, max_retries=0)
        with pytest.raises(errors.RequestTimeoutError) as info:
            await collect(P.create_async_generator("m", "hi", timeout=(5, 0.2)))
    assert leaks(info.value, SENTINEL_KEY) == []


@pytest.mark.parametrize(
    "bad", [SENTINEL_KEY + "\u2019", SENTINEL_KEY.replace("-", " ", 1), SENTINEL_KEY + "\x00"]
)
async def test_unsendable_key_is_refused_without_showing_it(bad):
    # httpx would raise UnicodeEncodeError (and h11 an "Illegal header value") quoting the key.
    P = providers.custom("http://127.0.0.1:9/v1", api_key=bad)
    with pytest.raises(errors.AuthenticationError, match="check how it was copied") as info:
        await collect(P.create_async_generator("m", "hi"))
    assert leaks(info.value, bad, SENTINEL_KEY, SENTINEL_KEY[:12]) == []


async def test_surrounding_whitespace_is_stripped_from_the_key():
    async with KeyEchoServer() as server:
        P = providers.custom(server.base("401"), api_key=f"  {SENTINEL_KEY}\n", max_retries=0)
        with pytest.raises(errors.AuthenticationError) as info:
            await collect(P.create_async_generator("m", "hi"))
    assert "Incorrect API key: ***" in str(info.value)  # the server got the clean key
    assert leaks(info.value, SENTINEL_KEY) == []


def test_sync_chat_errors_never_carry_the_key():
    with echo_server_thread() as server:  # `chat()` runs on the bridge's loop, the server on its own
        P = providers.custom(server.base("stream-error"), api_key=SENTINEL_KEY)
        with pytest.raises(errors.AuthenticationError) as info:
            P.chat("hi", model="m", stream=True)
    assert info.value.partial_text == "hi"
    assert leaks(info.value, SENTINEL_KEY) == []


def test_reprs_and_caches_never_show_the_key(demo_server):
    from openai_magic.core import models as listing

    P = providers.custom(demo_server.base_url, api_key=SENTINEL_KEY, default_model="demo-chat")
    assert P.get_models()
    for shown in (repr(P), repr(P(api_key=SENTINEL_KEY)), repr(listing.cache), repr(transport._clients)):
        assert SENTINEL_KEY not in shown
    assert SENTINEL_KEY not in repr(providers.custom(f"http://user:{SENTINEL_KEY}@127.0.0.1:9/v1").label)


async def test_non_ascii_caller_header_is_refused_without_showing_it(demo_server):
    P = providers.custom(demo_server.base_url)
    secret = "tok\u00e9n-" + SENTINEL_KEY
    with pytest.raises(errors.BadRequestError, match="non-ASCII") as info:
        await collect(P.create_async_generator("demo-chat", "hi", headers={"X-Token": secret}))
    assert leaks(info.value, secret, SENTINEL_KEY) == []
