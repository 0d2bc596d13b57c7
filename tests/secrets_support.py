"""The key echo server, the leak check and the log check shared by the secrets tests."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import threading
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import SENTINEL_KEY
from core_support import HostileServer, Reply, Request, http_reply


class KeyEchoServer(HostileServer):
    """A loopback server whose replies quote the caller's API key; `/MODE/v1/...` picks one."""

    def __init__(self) -> None:
        super().__init__(self._echo)

    def base(self, mode: str) -> str:
        return f"{self.root}/{mode}/v1"

    def _echo(self, request: Request) -> Reply:
        mode, endpoint = request.path.split("/")[1], request.path.rsplit("/", 1)[1]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":  # credentials from the URL: "user:password"
            token = base64.b64decode(token).decode()
        key = token or request.headers.get("api-key") or request.headers.get("x-api-key") or ""
        if mode == "stall":
            return self._stall()
        status, kind, body = reply(mode, endpoint, key)
        return http_reply(status, body, kind, retry_after="0")

    async def _stall(self) -> AsyncIterator[bytes]:
        await self.stopping.wait()
        yield b""


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


def frame_locals(error: BaseException) -> str:
    """What `capture_locals=True` shows of the library's frames (a test's own frames hold the key)."""
    shown = []
    summary: traceback.TracebackException | None = traceback.TracebackException.from_exception(
        error, capture_locals=True
    )
    while summary is not None:
        for frame in summary.stack:
            if f"{os.sep}tests{os.sep}" not in frame.filename:
                shown.append(f"{frame.filename}:{frame.lineno} {frame.name} {frame.locals}")
        summary = summary.__cause__ or summary.__context__
    assert any("openai_magic" in line for line in shown)  # the library's frames are there to check
    return "\n".join(shown)


def leaks(error: BaseException, *secrets: str) -> list[str]:
    """Every place where one of `secrets` can be read off `error` (empty when it is clean)."""
    found = []
    views = {
        "str": str(error),
        "repr": repr(error),
        "args": repr(error.args),
        "attributes": json.dumps(vars(error), default=repr),
        "traceback": "".join(traceback.format_exception(error)),
        "frame locals": frame_locals(error),
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
        found += [
            f"{where}: {text[max(0, text.find(secret) - 300) : text.find(secret) + 50]!r}"
            for secret in secrets
            if secret in text
        ]
    return found


@contextmanager
def echo_server_thread() -> Iterator[KeyEchoServer]:
    """A KeyEchoServer on its own loop in a thread, for sync callers (`chat()`, kernels)."""
    loop = asyncio.new_event_loop()
    ready: asyncio.Future[KeyEchoServer] = loop.create_future()
    done = asyncio.Event()

    async def serve() -> None:
        async with KeyEchoServer() as server:
            ready.set_result(server)
            await done.wait()

    task = loop.create_task(serve())
    server = loop.run_until_complete(ready)
    runner = threading.Thread(target=loop.run_until_complete, args=(task,))
    runner.start()
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(done.set)
        runner.join()
        loop.close()


def no_key_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record of the test at DEBUG, checked for the key afterwards (an autouse fixture)."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert SENTINEL_KEY not in logged
