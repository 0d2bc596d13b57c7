"""The demo server's tests share these: SDK and raw HTTP clients on the session server, request and
stream helpers (one test module per server module)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai

from openai_magic.server import DemoServer

USER = [{"role": "user", "content": "Explain Python list comprehensions"}]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "f"]}},
            "required": ["city"],
        },
    },
}

TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def sdk_client(demo_server: DemoServer) -> openai.OpenAI:
    """The official SDK on the session's demo server (a test module makes it its `sdk` fixture)."""
    return openai.OpenAI(base_url=demo_server.base_url, api_key="x", max_retries=0)


def http_client(demo_server: DemoServer) -> Iterator[httpx.Client]:
    """Raw httpx on the session's demo server (a test module makes it its `http` fixture)."""
    with httpx.Client(base_url=demo_server.base_url, timeout=60) as client:
        yield client


def chat_body(content: str = "Explain Python list comprehensions", **extra: Any) -> dict[str, Any]:
    return {"model": "demo-chat", "messages": [{"role": "user", "content": content}], **extra}


def sse_payloads(raw: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, whatever its line endings."""
    lines = re.split(rb"\r\n|\r|\n", raw)
    return [line[5:].strip().decode() for line in lines if line.startswith(b"data:")]


def stream_raw(http: httpx.Client, body: dict[str, Any], headers: dict[str, str] | None = None) -> bytes:
    with http.stream("POST", "/chat/completions", json={**body, "stream": True}, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return response.read()


def chunks_of(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(p) for p in sse_payloads(raw) if p != "[DONE]"]


def content_deltas(chunks: list[dict[str, Any]]) -> list[str]:
    return [
        c["choices"][0]["delta"]["content"]
        for c in chunks
        if c.get("choices") and (c["choices"][0].get("delta") or {}).get("content")
    ]


def tool_prompt() -> list[dict[str, Any]]:
    return [{"role": "user", "content": "What's the weather in 'Paris'? Call get_weather."}]


def unique(fault: str) -> str:
    return f"{fault};id={uuid.uuid4().hex}"
