"""Helpers shared by the core tests: a provider class bound to the embedded server, item collectors,
a hostile loopback server, and a probe that measures one request's memory in a fresh process."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from openai_magic.core import providers, transport
from openai_magic.core.template import OpenaiTemplate

T = TypeVar("T")


def demo_provider(base_url: str, **attrs: Any) -> type[OpenaiTemplate]:
    """A custom provider for the test server, with quick retries."""
    settings = {
        "label": "Demo",
        "default_model": "demo-chat",
        "image_models": ["demo-image"],
        "retry_base_delay": 0.01,
        **attrs,
    }
    return providers.custom(base_url, **settings)


def on_fresh_loop(scenario: Callable[[], Awaitable[T]]) -> T:
    """Run `scenario` on a new event loop, so httpx clients read the (patched) environment afresh."""

    async def main() -> T:
        try:
            return await scenario()
        finally:
            await transport.aclose()

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


async def collect(result: Any, form: str = "iter") -> list[Any]:
    """All items of a `create_async_generator` result, via `async for` or via `await` first."""
    if form == "await":
        result = await result
    return [item async for item in result]


def text_of(items: list[Any]) -> str:
    return "".join(item for item in items if isinstance(item, str))


def of_type(items: list[Any], cls: type) -> list[Any]:
    return [item for item in items if isinstance(item, cls)]


# --- a loopback HTTP server that answers as badly as a test needs ---------------------------------


@dataclass
class Request:
    """One request as the hostile server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Reply = bytes | AsyncIterator[bytes]


def http_reply(
    status: int, body: bytes | str | Any, content_type: str = "application/json", **headers: str
) -> bytes:
    """A complete HTTP/1.1 response (`body` as given when bytes or str, else as JSON)."""
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    data = body.encode() if isinstance(body, str) else body
    fields = {"content-type": content_type, "content-length": str(len(data))}
    fields.update({name.replace("_", "-"): value for name, value in headers.items()})
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"HTTP/1.1 {status} X\r\n{head}connection: close\r\n\r\n".encode() + data


def stream_head(status: int = 200, content_type: str = "text/event-stream", **headers: str) -> bytes:
    """The start of a response whose body runs until the connection closes (no length)."""
    fields = {"content-type": content_type}
    fields.update({name.replace("_", "-"): value for name, value in headers.items()})
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"HTTP/1.1 {status} X\r\n{head}connection: close\r\n\r\n".encode()


def sse_chunk(content: str | None = None, finish: str | None = None) -> bytes:
    """One `chat.completion.chunk` event."""
    delta = {"content": content} if content is not None else {}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + json.dumps({"model": "m", "choices": [choice]}).encode() + b"\n\n"


class HostileServer:
    """A loopback HTTP/1.1 server answering every request with `respond(request)`: bytes are written
    as they are (status line and headers included), an async iterator's pieces are written one by
    one until the client goes away. Every request is kept in `requests`."""

    def __init__(self, respond: Callable[[Request], Reply]) -> None:
        self.respond = respond
        self.requests: list[Request] = []
        self.server: asyncio.Server | None = None
        self.stopping = asyncio.Event()  # set on exit: a reply that stalls waits for it

    async def __aenter__(self) -> HostileServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.stopping.set()
        self.server.close()

    @property
    def root(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            lines = head.split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Request(method, path, headers, body)
            self.requests.append(request)
            reply = self.respond(request)
            if isinstance(reply, bytes):
                writer.write(reply)
                await writer.drain()
            else:
                async for piece in reply:
                    writer.write(piece)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ok_reply(request: Request) -> bytes:
    """A normal answer "ok", streamed or not as the request asks."""
    if request.body and request.json().get("stream"):
        return http_reply(
            200, sse_chunk("ok") + sse_chunk(finish="stop") + b"data: [DONE]\n\n", "text/event-stream"
        )
    message = {"role": "assistant", "content": "ok"}
    return http_reply(
        200, {"model": "m", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    )


async def probe(base_url: str, **options: Any) -> dict[str, Any]:
    """Run one request in a fresh process (tests/memory_probe.py) and return its report."""
    script = Path(__file__).with_name("memory_probe.py")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        base_url,
        json.dumps(options),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    report: dict[str, Any] = json.loads(out)
    return report
