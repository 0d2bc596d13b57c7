"""The API key never shows in an error: a loopback server echoes it into every kind of failure."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import traceback
from typing import Any

import pytest
from conftest import SENTINEL_KEY
from core_support import collect

from openai_magic.core import errors, providers, transport


class KeyEchoServer:
    """A raw loopback HTTP server whose replies quote the caller's API key; `/MODE/v1/...` picks one."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.stop = asyncio.Event()

    async def __aenter__(self) -> KeyEchoServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.stop.set()
        self.server.close()

    def base(self, mode: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/{mode}/v1"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            lines = head.split("\r\n")
            fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            fields = {name.lower(): value for name, value in fields.items()}
            await reader.readexactly(int(fields.get("content-length", "0")))
            path = lines[0].split(" ")[1]
            mode, endpoint = path.split("/")[1], path.rsplit("/", 1)[1]
            key = fields.get("authorization", "").partition(" ")[2]
            if mode == "stall":
                await self.stop.wait()
                return
            status, kind, body = reply(mode, endpoint, key)
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {len(body)}\r\n"
                f"retry-after: 0\r\nconnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def reply(mode: str, endpoint: str, key: str) -> tuple[int, str, bytes]:
    """Status, content type and body of each failure, all quoting `key`."""
    as_json = "application/json"
    sse = "text/event-stream"
    shapes: dict[str, tuple[int, str, Any]] = {
        "401": (401, as_json, {"error": {"message": f"Incorrect API key: {key}", "param": key}}),
        "403-text": (403, "text/plain", f"forbidden for {key}"),
        "404": (404, as_json, {"error": {"message": f"no model for {key}", "code": "model_not_found"}}),
        "422": (422, as_json, {"detail": [{"loc": ["header", "authorization"], "msg": f"bad {key}"}]}),
        "429": (429, as_json, {"error": {"message": f"slow down, {key}"}}),
        "500": (500, "text/html", f"<html><body>crashed on {key}</body></html>"),
        "text-200": (200, "text/plain", f"hello {key}"),
        "no-choices": (200, as_json, {"message": f"who is {key}?"}),
        "bad-json": (200, as_json, f'{{"oops": "{key}'),
        "stream-error": (
            200,
            sse,
            'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n'
            + f"data: {json.dumps({'error': {'message': f'revoked {key}', 'code': 401}})}\n\n",
        ),
        "event-error": (200, sse, f"event: error\ndata: {key} is over quota\n\n"),
        "malformed": (200, sse, f'data: {{"oops": "{key}\n\n'),
        "odd-chunk": (200, sse, f'data: ["{key}"]\n\n'),
        "image-no-data": (200, as_json, {"result": key, "error": None}),
        "image-error": (200, as_json, {"error": {"message": f"no images for {key}", "code": 400}}),
        "models-text": (200, "text/plain", f"models for {key}"),
        # The key sits where messages and bodies are cut short: a cut must not leave half of it.
        "500-long": (500, "text/html", "x" * 280 + f" {key} trailing text"),
        "text-long": (200, "text/plain", "y" * 1990 + key),
        "malformed-long": (200, sse, "data: " + "z" * 190 + key + "\n\n"),
        "error-long": (400, as_json, {"error": {"message": "w " * 140 + key}}),
    }
    status, kind, body = shapes[mode]
    text = body if isinstance(body, str) else json.dumps(body)
    return status, kind, text.encode()


def leaks(error: BaseException, *secrets: str) -> list[str]:
    """Every place where one of `secrets` can be read off `error` (empty when it is clean)."""
    found = []
    views = {
        "str": str(error),
        "repr": repr(error),
        "args": repr(error.args),
        "attributes": json.dumps(vars(error), default=repr),
        "traceback": "".join(traceback.format_exception(error)),
    }
    chained: BaseException | None = error
    depth = 0
    while (chained := chained.__cause__ or chained.__context__) is not None and depth < 10:
        depth += 1
        views[f"chain {depth} str/repr/args"] = f"{chained} {chained!r} {chained.args!r}"
        request = getattr(chained, "_request", None)  # an httpx error keeps the request it failed on
        if request is not None:
            views[f"chain {depth} request headers"] = " ".join(request.headers.values())
    for where, text in views.items():
        found += [f"{where}: {text[:200]!r}" for secret in secrets if secret in text]
    return found


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


@pytest.fixture(autouse=True)
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield caplog
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert SENTINEL_KEY not in logged


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
    async def serve_and_wait(ready: asyncio.Future, done: asyncio.Event) -> None:
        async with KeyEchoServer() as server:
            ready.set_result(server.base("stream-error"))
            await done.wait()

    # The server runs on a loop of its own; `chat()` runs on the bridge's.
    loop = asyncio.new_event_loop()
    try:
        ready = loop.create_future()
        done = asyncio.Event()
        task = loop.create_task(serve_and_wait(ready, done))
        base = loop.run_until_complete(ready)
        runner = threading.Thread(target=loop.run_until_complete, args=(task,))
        runner.start()
        try:
            P = providers.custom(base, api_key=SENTINEL_KEY)
            with pytest.raises(errors.AuthenticationError) as info:
                P.chat("hi", model="m", stream=True)
        finally:
            loop.call_soon_threadsafe(done.set)
            runner.join()
    finally:
        loop.close()
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
