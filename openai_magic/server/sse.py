"""Encode a demo reply as OpenAI `chat.completion.chunk` Server-Sent Events, quirks included.

Content chunks take a fast path: the JSON around the text is encoded once, so each chunk costs one
`json.dumps` of its text (benchmarks stream 100,000 chunks).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from .demo_model import Reply

_MARK = "\u0000MARK\u0000"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class ChunkWriter:
    """Builds the SSE bytes of one streamed completion."""

    def __init__(
        self, reply: Reply, quirks: frozenset[str], reasoning_field: str = "reasoning_content"
    ) -> None:
        self.reply = reply
        self.quirks = quirks
        self.reasoning_field = reasoning_field
        self.eol = "\r\n" if "crlf" in quirks else "\r" if "cr" in quirks else "\n"
        self.base: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": reply.model,
            "system_fingerprint": "fp_demo",
        }
        if "error-null" in quirks:
            self.base["error"] = None
        if "usage-null" in quirks:
            self.base["usage"] = None
        self._content = self._template("content")
        self._reasoning = self._template(reasoning_field)
        extras = []
        if "delta-null" in quirks:
            extras.append(self.event(self.choice(None)))
        if "empty-choices" in quirks:
            extras.append(self.event([]))
        if "comments" in quirks:
            extras.append(f": keep-alive{self.eol}{self.eol}".encode())
        self._extras = b"".join(extras)

    def choice(self, delta: dict | None, finish: str | None = None) -> list[dict]:
        """The `choices` list of one chunk."""
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    def event(self, choices: list[dict], **fields: Any) -> bytes:
        """One complete `data: {...}` event."""
        return f"data: {_dumps({**self.base, 'choices': choices, **fields})}{self.eol}{self.eol}".encode()

    def raw(self, payload: str) -> bytes:
        """A `data:` line with any text (for `[DONE]` and injected faults)."""
        return f"data: {payload}{self.eol}{self.eol}".encode()

    def _template(self, key: str) -> tuple[bytes, bytes]:
        head, tail = self.event(self.choice({key: _MARK})).split(_dumps(_MARK).encode())
        return head, tail

    def text(self, text: str, reasoning: bool = False) -> bytes:
        """A content (or reasoning) delta, followed by any interleaved quirk events."""
        head, tail = self._reasoning if reasoning else self._content
        return head + _dumps(text).encode() + tail + self._extras

    def opening(self) -> bytes:
        """The first chunk, carrying the role."""
        return self.event(self.choice({"role": "assistant", "content": "", "refusal": None}))

    def body(self) -> Iterator[bytes]:
        """The reasoning, content and tool-call chunks (the ones faults count)."""
        for piece in self.reply.reasoning:
            yield self.text(piece, reasoning=True)
        for piece in self.reply.content:
            yield self.text(piece)
        for index, call in enumerate(self.reply.tool_calls):
            first = {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
            for fragment in [None, *call.fragments]:
                item: dict[str, Any] = first if fragment is None else {"function": {"arguments": fragment}}
                if "tool-no-index" not in self.quirks:
                    item = {"index": index, **item}
                yield self.event(self.choice({"tool_calls": [item]})) + self._extras

    def closing(self, include_usage: bool) -> bytes:
        """The finish chunk, the usage chunk when asked (or quirked), and `[DONE]`."""
        delta: dict[str, Any] | None = None if "delta-null" in self.quirks else {}
        out = [self.event(self.choice(delta, self.reply.finish_reason))]
        if include_usage or "usage-after-finish" in self.quirks:
            out.append(self.event([], usage=self.reply.usage()))
        out.append(self.raw("[DONE]"))
        return b"".join(out)


def completion(reply: Reply, quirks: frozenset[str], reasoning_field: str = "reasoning_content") -> dict:
    """The non-streamed `chat.completion` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.tool_calls:
        message["content"] = None
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    elif "content-parts" in quirks:
        text = reply.text
        half = len(text) // 2
        message["content"] = [{"type": "text", "text": text[:half]}, {"type": "text", "text": text[half:]}]
    if reply.reasoning:
        message[reasoning_field] = "".join(reply.reasoning)
    body: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "system_fingerprint": "fp_demo",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
        "usage": reply.usage(),
    }
    if "error-null" in quirks:
        body["error"] = None
    return body
