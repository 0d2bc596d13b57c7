"""Helpers of the record/replay tests: a server that counts connections, a port nothing listens on,
the lines of a replay file, and items compared without what legitimately differs between runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from core_support import HostileServer, Request, http_reply, sse_chunk

from openai_magic import replay
from openai_magic.core.responses import Replayed, ToolResult


@pytest.fixture(autouse=True)
def no_outside_settings(monkeypatch):
    """No replay settings from the environment, and the replay module reset after the test: autouse,
    so it applies to every test of a module that imports it."""
    for name in (replay.ENV_PATH, replay.ENV_MODE, replay.ENV_SPEED):
        monkeypatch.delenv(name, raising=False)
    yield
    for name in (replay.ENV_PATH, replay.ENV_MODE, replay.ENV_SPEED):
        monkeypatch.delenv(name, raising=False)
    replay.configure()


class CountingServer(HostileServer):
    """A loopback server answering `answer N` (N counts the chat requests) and listing model `m`;
    `connections` counts every TCP connection accepted, `requests` every request read."""

    def __init__(self) -> None:
        super().__init__(self._answer)
        self.connections = 0
        self.answers = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await super()._handle(reader, writer)

    def _answer(self, request: Request) -> bytes:
        if request.method == "GET":
            return http_reply(200, {"data": [{"id": "m"}, {"id": "m-image"}]})
        self.answers += 1
        text = f"answer {self.answers}"
        if request.json().get("stream"):
            body = sse_chunk(text) + sse_chunk(finish="stop") + b"data: [DONE]\n\n"
            return http_reply(200, body, "text/event-stream")
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return http_reply(200, {"model": "m", "choices": [choice]})

    @property
    def traffic(self) -> tuple[int, int]:
        return self.connections, len(self.requests)


@contextlib.contextmanager
def dead_base_url() -> Iterator[str]:
    """A loopback base URL whose port is bound but never listened on: a connection is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # held, so no other process can start listening there meanwhile
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        sock.close()


def lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a replay file, parsed (each must be JSON)."""
    return [json.loads(line) for line in path.read_bytes().split(b"\n") if line.strip()]


def texts(path: Path) -> list[str]:
    """The answer text of each exchange in a replay file, in file order."""
    return ["".join(value for _, kind, value in line["items"] if kind == "text") for line in lines(path)]


def comparable(items: list[Any]) -> list[Any]:
    """Items as they must agree between a recorded and a replayed run: no `Replayed`, and tool
    results without the seconds their function ran."""
    kept: list[Any] = []
    for item in items:
        if isinstance(item, Replayed):
            continue
        if isinstance(item, ToolResult):
            item = (item.id, item.name, item.output, item.error)
        kept.append(item)
    return kept
