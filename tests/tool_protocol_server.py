"""A loopback chat endpoint of its own that speaks OpenAI's tool-call protocol from a script.

Unlike the demo backend it is strict the way OpenAI is: a request whose history breaks the protocol
(an assistant `tool_calls` message not followed by one `tool` message per call id, arguments that
are not a JSON object, a tool message answering nothing) gets a 400, so a loop that records its
messages wrongly fails here. Replies come from `play(...)`, one per request, streamed or not as
asked, tool calls streamed in fragments (id and name first, then the arguments in pieces).
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """One scripted model reply: text, tool calls as (name, arguments text), or both."""

    text: str = ""
    calls: list[tuple[str, str]] = field(default_factory=list)
    ids: list[str] | None = None  # call ids as sent ("" sends none); default call_<n>_<i>
    stall: bool = False  # stop after the first chunk until the client goes away (streamed only)


def say(text: str) -> Reply:
    return Reply(text=text)


def call(*calls: tuple[str, dict[str, Any] | str], text: str = "", ids: list[str] | None = None) -> Reply:
    """A reply calling each (name, arguments) in one go; a str is sent as the arguments verbatim."""
    encoded = [(name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls]
    return Reply(text=text, calls=encoded, ids=ids)


def protocol_problems(body: dict[str, Any]) -> list[str]:
    """How a chat request breaks the tool-call protocol (empty when it keeps it)."""
    problems: list[str] = []
    waiting: list[str] = []  # call ids the next messages must answer, in order
    for index, message in enumerate(body.get("messages") or []):
        role = message.get("role")
        if role == "tool":
            if not waiting:
                problems.append(f"messages[{index}]: a tool message that answers no tool call")
            elif message.get("tool_call_id") != waiting[0]:
                problems.append(
                    f"messages[{index}]: answers {message.get('tool_call_id')!r}, not {waiting[0]!r}"
                )
            if not isinstance(message.get("content"), str):
                problems.append(f"messages[{index}]: tool content must be a string")
            waiting = waiting[1:]
            continue
        if waiting:
            problems.append(f"messages[{index}]: tool calls {waiting} were not answered")
            waiting = []
        for call_entry in message.get("tool_calls") or [] if role == "assistant" else []:
            function = call_entry.get("function") or {}
            if not call_entry.get("id") or call_entry.get("type") != "function" or not function.get("name"):
                problems.append(f"messages[{index}]: a tool call needs an id, type 'function' and a name")
            try:
                if not isinstance(json.loads(function.get("arguments")), dict):
                    raise ValueError
            except (TypeError, ValueError):
                problems.append(f"messages[{index}]: arguments must be a JSON object as text")
            waiting.append(call_entry.get("id"))
    if waiting:
        problems.append(f"the last tool calls {waiting} were not answered")
    for tool in body.get("tools") or []:
        if tool.get("type") != "function" or not (tool.get("function") or {}).get("name"):
            problems.append(f"bad tool definition {tool!r}")
    return problems


class ToolProtocolServer:
    """The scripted endpoint on a loopback port, served by its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True, name="tool-protocol-server")
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def play(self, *replies: Reply) -> None:
        """The replies to the next requests, in order (forgets earlier requests)."""
        with self._lock:
            self._script = list(replies)
            self.requests.clear()

    def __enter__(self) -> ToolProtocolServer:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop)
        self._thread.join(timeout=10)

    def _stop(self) -> None:
        assert self._stopping is not None
        self._stopping.set()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stopping.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            fields = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
            length = int({k.lower(): v for k, v in fields.items()}.get("content-length", "0"))
            body = json.loads(await reader.readexactly(length))
            with self._lock:
                self.requests.append(body)
                number = len(self.requests)
                problems = protocol_problems(body)
                reply = self._script.pop(0) if self._script and not problems else None
            if problems or reply is None:
                message = "; ".join(problems) or "the script has no reply left"
                error = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
                await self._send(writer, 400 if problems else 500, "application/json", json.dumps(error))
            elif body.get("stream"):
                await self._stream(writer, reply, number, body)
            else:
                await self._send(writer, 200, "application/json", json.dumps(_completion(reply, number)))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, status: int, kind: str, text: str) -> None:
        data = text.encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {len(data)}\r\n"
            "connection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()

    async def _stream(
        self, writer: asyncio.StreamWriter, reply: Reply, number: int, body: dict[str, Any]
    ) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")

        async def event(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> None:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
            chunk = {"id": f"c{number}", "object": "chat.completion.chunk", "model": "scripted"}
            writer.write(f"data: {json.dumps({**chunk, 'choices': choices, **extra})}\n\n".encode())
            await writer.drain()

        await event({"role": "assistant", "content": ""})
        for piece in _pieces(reply.text):
            await event({"content": piece})
            if reply.stall:
                assert self._stopping is not None
                await self._stopping.wait()
                return
        for index, (call_id, name, arguments) in enumerate(_calls(reply, number)):
            first = {"index": index, "type": "function", "function": {"name": name, "arguments": ""}}
            await event({"tool_calls": [{**first, **({"id": call_id} if call_id else {})}]})
            for piece in _pieces(arguments):
                await event({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        await event({}, "tool_calls" if reply.calls else "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            await event(None, usage=_usage(number))
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()


def _calls(reply: Reply, number: int) -> list[tuple[str, str, str]]:
    ids = reply.ids or [f"call_{number}_{i}" for i in range(len(reply.calls))]
    return [(ids[i], name, arguments) for i, (name, arguments) in enumerate(reply.calls)]


def _pieces(text: str) -> list[str]:
    step = max(1, -(-len(text) // 3))
    return [text[i : i + step] for i in range(0, len(text), step)]


def _usage(number: int) -> dict[str, int]:
    return {"prompt_tokens": 10 * number, "completion_tokens": number, "total_tokens": 11 * number}


def _completion(reply: Reply, number: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.calls:
        message["tool_calls"] = [
            {**({"id": i} if i else {}), "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in _calls(reply, number)
        ]
    finish = "tool_calls" if reply.calls else "stop"
    return {
        "id": f"c{number}",
        "object": "chat.completion",
        "model": "scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _usage(number),
    }
