"""Odd-but-real server behaviours with X-Demo-Quirk (server/quirks.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from server_support import (
    WEATHER_TOOL,
    chat_body,
    chunks_of,
    content_deltas,
    http_client,
    sse_payloads,
    stream_raw,
    tool_prompt,
)

http = pytest.fixture(scope="module")(http_client)


def quirk_chunks(http: httpx.Client, quirk: str, **extra: Any) -> list[dict[str, Any]]:
    return chunks_of(stream_raw(http, chat_body(**extra), {"X-Demo-Quirk": quirk}))


def test_quirk_error_and_usage_null_on_every_chunk(http: httpx.Client) -> None:
    chunks = quirk_chunks(http, "error-null,usage-null")
    assert all(c["error"] is None and c["usage"] is None for c in chunks)
    body = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Quirk": "error-null"}).json()
    assert body["error"] is None and body["choices"][0]["message"]["content"]


def test_quirk_delta_null_interleaved_and_on_finish(http: httpx.Client) -> None:
    chunks = quirk_chunks(http, "delta-null")
    nulls = [c for c in chunks if c["choices"][0]["delta"] is None]
    assert len(nulls) > 5
    assert chunks[-1]["choices"][0]["delta"] is None
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_quirk_empty_choices_interleaved(http: httpx.Client) -> None:
    chunks = quirk_chunks(http, "empty-choices")
    assert sum(1 for c in chunks if c["choices"] == []) > 5
    assert content_deltas(chunks)


def test_quirk_content_parts(http: httpx.Client) -> None:
    plain = http.post("/chat/completions", json=chat_body()).json()["choices"][0]["message"]["content"]
    body = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Quirk": "content-parts"}).json()
    parts = body["choices"][0]["message"]["content"]
    assert isinstance(parts, list) and all(p["type"] == "text" for p in parts)
    assert "".join(p["text"] for p in parts) == plain


def test_quirk_reasoning_nonstream(http: httpx.Client) -> None:
    body = {**chat_body(), "model": "demo-reasoner"}
    message = http.post(
        "/chat/completions", json=body, headers={"X-Demo-Quirk": "reasoning-nonstream"}
    ).json()
    assert message["choices"][0]["message"]["reasoning_content"]


def test_quirk_tool_no_index(http: httpx.Client) -> None:
    body = {"model": "demo-chat", "messages": tool_prompt(), "tools": [WEATHER_TOOL]}
    chunks = chunks_of(stream_raw(http, body, {"X-Demo-Quirk": "tool-no-index"}))
    calls = [t for c in chunks for t in c["choices"][0]["delta"].get("tool_calls") or []]
    assert len(calls) >= 3
    assert all("index" not in t for t in calls)
    normal = chunks_of(stream_raw(http, body))
    assert all("index" in t for c in normal for t in c["choices"][0]["delta"].get("tool_calls") or [])


@pytest.mark.parametrize(
    ("quirk", "status", "ctype"), [("text-plain", 200, "text/plain"), ("html", 200, "text/html")]
)
def test_quirk_non_json_bodies(http: httpx.Client, quirk: str, status: int, ctype: str) -> None:
    for body in (chat_body(), chat_body(stream=True)):
        response = http.post("/chat/completions", json=body, headers={"X-Demo-Quirk": quirk})
        assert response.status_code == status
        assert response.headers["content-type"].startswith(ctype)
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.text)


def test_quirk_detail_422_and_error_code_only(http: httpx.Client) -> None:
    response = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Quirk": "detail-422"})
    assert response.status_code == 422
    assert set(response.json()["detail"][0]) == {"loc", "msg", "type"}
    response = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Quirk": "error-code-only"})
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid_thing"}}


def test_quirk_huge_line_is_one_data_line(http: httpx.Client) -> None:
    raw = stream_raw(http, chat_body(), {"X-Demo-Quirk": "huge-line"})
    lines = [line for line in raw.split(b"\n") if line.startswith(b"data:")]
    longest = max(lines, key=len)
    assert len(longest) > 3_000_000
    assert len(content_deltas(chunks_of(raw))) == 1


def test_quirk_usage_after_finish(http: httpx.Client) -> None:
    chunks = quirk_chunks(http, "usage-after-finish")
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize(("quirk", "ending"), [("crlf", b"\r\n"), ("cr", b"\r")])
def test_quirk_line_endings(http: httpx.Client, quirk: str, ending: bytes) -> None:
    raw = stream_raw(http, chat_body(), {"X-Demo-Quirk": quirk})
    assert raw.endswith(b"data: [DONE]" + ending + ending)
    assert b"\n" not in raw.replace(b"\r\n", b"") if quirk == "crlf" else b"\n" not in raw
    assert "".join(content_deltas(chunks_of(raw))).startswith("## ")


def test_quirk_comments_interleaved(http: httpx.Client) -> None:
    raw = stream_raw(http, chat_body(), {"X-Demo-Quirk": "comments"})
    assert raw.count(b"\n: keep-alive\n") > 5 or raw.startswith(b": keep-alive")
    assert sse_payloads(raw)[-1] == "[DONE]"


def test_quirk_models_shapes(http: httpx.Client) -> None:
    bare = http.get("/models", headers={"X-Demo-Quirk": "models-list"}).json()
    assert isinstance(bare, list) and {m["id"] for m in bare} >= {"demo-chat"}
    named = http.get("/models", headers={"X-Demo-Quirk": "models-dict"}).json()
    assert {"name": "demo-reasoner"} in named["models"]
