"""The key echo server and the leak check shared by the secrets tests."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


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
            scheme, _, token = fields.get("authorization", "").partition(" ")
            if scheme.lower() == "basic":  # credentials from the URL: "user:password"
                token = base64.b64decode(token).decode()
            key = token or fields.get("api-key") or fields.get("x-api-key") or ""
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
