"""Request validation (server/validate.py): bad input is a 400 in OpenAI's format, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import (
    USER,
    chat_body,
    http_client,
    sdk_client,
)

sdk = pytest.fixture(scope="module")(sdk_client)
http = pytest.fixture(scope="module")(http_client)


@pytest.mark.parametrize(
    "extra",
    [
        {"temperature": 3},
        {"top_p": -1},
        {"max_tokens": 0},
        {"stop": 5},
        {"model": "demo-image"},
        {"messages": []},
        {"messages": [{"role": "wizard", "content": "hi"}]},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [{"role": "user", "content": "[demo tokens=lots]"}]},
        {"tools": [{"type": "function", "function": {"name": ""}}]},
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"properties": []}}}]},
        {"tool_choice": {"type": "function"}},
    ],
)
def test_bad_requests_are_bad_request_errors(sdk: openai.OpenAI, extra: dict[str, Any]) -> None:
    body = {"model": "demo-chat", "messages": USER, **extra}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(**body)
    assert caught.value.body["type"] == "invalid_request_error"
    assert caught.value.body["message"]


@pytest.mark.parametrize(
    ("raw", "headers"),
    [
        (b"{not json", {}),
        (b'{"model": "demo-chat", "messages": [], "temperature": NaN}', {}),
        (b"[1, 2]", {}),
        (b'{"model": "demo-chat"}', {}),
        (b'{"model": 7, "messages": []}', {}),
        (b'{"model": "demo-chat", "messages": "hi"}', {}),
        (b'{"model": "demo-chat", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}', {}),
        (
            b'{"model": "demo-chat", "messages": [{"role": "user", "content": "x"}]}',
            {"X-Demo-Fault": "meteor"},
        ),
        (b'{"model": "demo-chat", "messages": [{"role": "user", "content": "x"}]}', {"X-Demo-Quirk": "odd"}),
        (
            b'{"model": "demo-chat", "messages": [{"role": "user", "content": "x"}]}',
            {"X-Demo-Fault": "drop;after=x"},
        ),
    ],
)
def test_malformed_bodies_are_400_in_openai_format(http: httpx.Client, raw: bytes, headers: dict) -> None:
    response = http.post(
        "/chat/completions", content=raw, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text


KEYS = st.sampled_from(
    ["type", "function", "name", "parameters", "properties", "role", "content", "text", "url"]
)

JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)

FIELDS = [
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "tools",
    "stream",
    "stream_options",
    "response_format",
    "tool_choice",
    "n",
    "seed",
]

PART = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["text", "image_url"]) | JSONISH,
        "text": JSONISH,
        "image_url": JSONISH | st.fixed_dictionaries({"url": JSONISH}),
    }
)

MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "tool", "system"]) | JSONISH,
        "content": JSONISH | st.lists(PART, max_size=2),
    }
)

TOOL = st.fixed_dictionaries(
    {"type": st.just("function"), "function": st.fixed_dictionaries({"name": JSONISH, "parameters": JSONISH})}
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=JSONISH)
def test_no_input_ever_gives_a_500_or_a_traceback(http: httpx.Client, field: str, value: Any) -> None:
    body = {**chat_body(), field: value}
    response = http.post("/chat/completions", json=body)
    assert response.status_code in {200, 400, 404}
    assert "Traceback" not in response.text
    if response.status_code != 200:
        assert response.json()["error"]["message"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=st.lists(MESSAGE, min_size=1, max_size=3),
    tools=st.lists(TOOL, max_size=2),
    tool_choice=JSONISH | st.sampled_from(["auto", "required"]),
)
def test_no_nested_input_gives_a_500(
    http: httpx.Client, messages: list, tools: list, tool_choice: Any
) -> None:
    body = {"model": "demo-reasoner", "messages": messages, "tools": tools, "tool_choice": tool_choice}
    response = http.post("/chat/completions", json=body)
    assert response.status_code in {200, 400}
    assert "Traceback" not in response.text
