"""The embedded demo server, driven over real HTTP by the official `openai` SDK and by raw httpx.

Everything here checks the contract in docs/demo-server.md.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import threading
import uuid
from typing import Any

import httpx
import openai
import pytest
from conftest import SENTINEL_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


@pytest.fixture(scope="module")
def sdk(demo_server: DemoServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=demo_server.base_url, api_key="x", max_retries=0)


@pytest.fixture(scope="module")
def http(demo_server: DemoServer):
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


# --- models -------------------------------------------------------------------------------------


def test_models_lists_every_demo_model(sdk: openai.OpenAI) -> None:
    models = {m.id: m for m in sdk.models.list()}
    assert set(models) == {"demo-chat", "demo-reasoner", "demo-think", "demo-tools", "demo-image"}
    assert models["demo-image"].model_extra["type"] == "image"
    assert sdk.models.retrieve("demo-think").id == "demo-think"


# --- answers ------------------------------------------------------------------------------------


def test_answer_is_rich_markdown_about_the_prompt(sdk: openai.OpenAI) -> None:
    reply = sdk.chat.completions.create(model="demo-chat", messages=USER)
    text = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert re.search(r"^## ", text, re.M), "a heading"
    assert re.search(r"^- ", text, re.M), "a bullet list"
    assert "|---|" in text, "a table"
    assert "```python\n" in text, "a fenced python block"
    assert "Python list comprehensions" in text
    assert "1 message" in text
    assert reply.usage.completion_tokens > 20
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_same_request_same_answer_and_different_prompt_different_answer(sdk: openai.OpenAI) -> None:
    def ask(prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        return (
            sdk.chat.completions.create(model="demo-chat", messages=messages, temperature=1.5)
            .choices[0]
            .message.content
        )

    assert ask("What is a monad?") == ask("What is a monad?")
    assert ask("What is a monad?") != ask("What is a functor?")


def test_history_count_and_system_message_are_acknowledged(sdk: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "Answer like a pirate."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Ahoy"},
        {"role": "user", "content": "And now?"},
    ]
    text = sdk.chat.completions.create(model="demo-chat", messages=messages).choices[0].message.content
    assert "4 messages" in text
    assert "Answer like a pirate." in text


def test_stream_has_role_content_finish_usage_and_done(http: httpx.Client) -> None:
    raw = stream_raw(http, chat_body(stream_options={"include_usage": True}))
    payloads = sse_payloads(raw)
    assert payloads[-1] == "[DONE]"
    chunks = chunks_of(raw)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    finish = chunks[-2]
    assert finish["choices"][0]["finish_reason"] == "stop"
    usage = chunks[-1]
    assert usage["choices"] == []
    deltas = content_deltas(chunks)
    assert usage["usage"]["completion_tokens"] == len(deltas)
    full = http.post("/chat/completions", json=chat_body()).json()
    assert "".join(deltas) == full["choices"][0]["message"]["content"]


def test_stream_without_include_usage_has_no_usage_chunk(http: httpx.Client) -> None:
    chunks = chunks_of(stream_raw(http, chat_body()))
    assert all(c["choices"] for c in chunks)
    assert all("usage" not in c for c in chunks)


async def test_async_sdk_streams_the_same_text(demo_server: DemoServer, sdk: openai.OpenAI) -> None:
    client = openai.AsyncOpenAI(base_url=demo_server.base_url, api_key="x", max_retries=0)
    async with client:
        stream = await client.chat.completions.create(model="demo-chat", messages=USER, stream=True)
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    expected = sdk.chat.completions.create(model="demo-chat", messages=USER).choices[0].message.content
    assert len(parts) > 20
    assert "".join(parts) == expected


def test_reasoner_streams_reasoning_content_before_the_answer(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(model="demo-reasoner", messages=USER, stream=True)
    kinds = []
    for chunk in stream:
        delta = chunk.choices[0].delta
        if getattr(delta, "reasoning_content", None):
            kinds.append("reasoning")
        elif delta.content:
            kinds.append("content")
    assert kinds[0] == "reasoning"
    assert "content" in kinds
    assert kinds.index("content") == kinds.count("reasoning"), "all reasoning comes first"
    message = sdk.chat.completions.create(model="demo-reasoner", messages=USER).choices[0].message
    assert "list comprehensions" in message.model_extra["reasoning_content"]
    assert message.content.startswith("## ")


def test_reasoning_field_header_renames_the_field(http: httpx.Client) -> None:
    body = {**chat_body(), "model": "demo-reasoner"}
    chunks = chunks_of(stream_raw(http, body, {"X-Demo-Reasoning-Field": "reasoning"}))
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert any(d.get("reasoning") for d in deltas)
    assert not any("reasoning_content" in d for d in deltas)
    message = http.post(
        "/chat/completions", json=body, headers={"X-Demo-Reasoning-Field": "reasoning"}
    ).json()
    assert message["choices"][0]["message"]["reasoning"]


def test_think_model_puts_reasoning_inline(sdk: openai.OpenAI) -> None:
    text = sdk.chat.completions.create(model="demo-think", messages=USER).choices[0].message.content
    assert text.startswith("<think>")
    thought, _, answer = text.partition("</think>")
    assert "list comprehensions" in thought
    assert answer.lstrip().startswith("## ")


def test_tokens_directive_gives_exactly_n_chunks_of_many_blocks(http: httpx.Client) -> None:
    chunks = chunks_of(stream_raw(http, chat_body("Long one please [demo tokens=700]")))
    deltas = content_deltas(chunks)
    assert len(deltas) == 700
    text = "".join(deltas)
    assert text.count("\n## ") >= 3
    assert "|---|" in text and "\n- " in text


def test_hundred_thousand_chunks_stream_completely(http: httpx.Client) -> None:
    raw = stream_raw(http, chat_body("[demo tokens=100000]"))
    payloads = sse_payloads(raw)
    assert payloads[-1] == "[DONE]"
    assert len(payloads) == 100_000 + 3  # role chunk, content, finish chunk, [DONE]


def test_echo_returns_the_last_user_message_verbatim(sdk: openai.OpenAI) -> None:
    prompt = "  {braces} stay {{double}}\n\n\ttabs and  spaces [demo echo]  \n"
    messages = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"}]
    messages.append({"role": "user", "content": prompt})
    stream = sdk.chat.completions.create(model="demo-chat", messages=messages, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == prompt


def test_json_directive_and_response_format_give_a_json_object(sdk: openai.OpenAI) -> None:
    text = (
        sdk.chat.completions.create(
            model="demo-chat", messages=[{"role": "user", "content": "Facts [demo json]"}]
        )
        .choices[0]
        .message.content
    )
    assert isinstance(json.loads(text), dict)
    text = (
        sdk.chat.completions.create(model="demo-chat", messages=USER, response_format={"type": "json_object"})
        .choices[0]
        .message.content
    )
    assert json.loads(text)["messages"] == 1


def test_max_tokens_truncates_with_finish_reason_length(sdk: openai.OpenAI, http: httpx.Client) -> None:
    reply = sdk.chat.completions.create(model="demo-chat", messages=USER, max_tokens=5)
    assert reply.choices[0].finish_reason == "length"
    chunks = chunks_of(stream_raw(http, chat_body(max_tokens=5)))
    assert len(content_deltas(chunks)) == 5
    assert "".join(content_deltas(chunks)) == reply.choices[0].message.content
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_stop_cuts_before_the_stop_string(sdk: openai.OpenAI) -> None:
    full = sdk.chat.completions.create(model="demo-chat", messages=USER).choices[0].message.content
    reply = sdk.chat.completions.create(model="demo-chat", messages=USER, stop=["###", "never-there"])
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content == full[: full.index("###")]


def test_attached_image_reported_with_mime_type_and_size(sdk: openai.OpenAI) -> None:
    url = "data:image/png;base64," + base64.b64encode(TINY_PNG).decode()
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    reply = sdk.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": content}])
    text = reply.choices[0].message.content
    assert "2 images" in text
    assert f"image 1 is `image/png`, {len(TINY_PNG)} bytes" in text
    assert "https://example.com/cat.jpg" in text


# --- tools --------------------------------------------------------------------------------------


def tool_prompt() -> list[dict[str, Any]]:
    return [{"role": "user", "content": "What's the weather in 'Paris'? Call get_weather."}]


def test_tool_call_streams_in_fragments(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="demo-chat", messages=tool_prompt(), tools=[WEATHER_TOOL], stream=True
    )
    fragments, finish = [], None
    for chunk in stream:
        choice = chunk.choices[0]
        fragments.extend(choice.delta.tool_calls or [])
        finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert fragments[0].id.startswith("call_")
    assert fragments[0].function.name == "get_weather"
    pieces = [f.function.arguments for f in fragments[1:]]
    assert len(pieces) >= 2
    assert json.loads("".join(pieces)) == {"city": "Paris", "unit": "celsius"}


def test_tool_call_non_stream_and_tool_result_answered(sdk: openai.OpenAI) -> None:
    reply = sdk.chat.completions.create(model="demo-chat", messages=tool_prompt(), tools=[WEATHER_TOOL])
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls"
    call = message.tool_calls[0]
    assert call.function.name == "get_weather"
    history = [*tool_prompt(), message.model_dump(exclude_none=True)]
    history.append({"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'})
    after = sdk.chat.completions.create(model="demo-chat", messages=history, tools=[WEATHER_TOOL])
    assert after.choices[0].finish_reason == "stop"
    assert '{"temp": 21}' in after.choices[0].message.content


def test_tools_not_called_unless_named_or_asked(sdk: openai.OpenAI) -> None:
    reply = sdk.chat.completions.create(model="demo-chat", messages=USER, tools=[WEATHER_TOOL])
    assert reply.choices[0].message.tool_calls is None
    forced = sdk.chat.completions.create(
        model="demo-chat", messages=[{"role": "user", "content": "please use a tool"}], tools=[WEATHER_TOOL]
    )
    assert forced.choices[0].message.tool_calls[0].function.name == "get_weather"
    refused = sdk.chat.completions.create(
        model="demo-chat", messages=tool_prompt(), tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert refused.choices[0].finish_reason == "stop"


# --- images -------------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_image_generation_returns_png_of_requested_size(sdk: openai.OpenAI) -> None:
    result = sdk.images.generate(model="demo-image", prompt="a red fox", size="256x128", n=2)
    images = [base64.b64decode(item.b64_json) for item in result.data]
    assert [png_size(image) for image in images] == [(256, 128), (256, 128)]
    assert images[0] != images[1]
    again = sdk.images.generate(model="demo-image", prompt="a red fox", size="256x128")
    assert base64.b64decode(again.data[0].b64_json) == images[0]


def test_image_png_decodes_with_pillow(sdk: openai.OpenAI) -> None:
    import io

    from PIL import Image

    data = base64.b64decode(sdk.images.generate(prompt="waves", size="64x48").data[0].b64_json)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.size == (64, 48)
    assert len(image.getcolors(64 * 48)) > 10, "a pattern, not a flat colour"


def test_image_url_format_is_a_data_uri(sdk: openai.OpenAI) -> None:
    result = sdk.images.generate(model="demo-image", prompt="a cat", size="32x32", response_format="url")
    url = result.data[0].url
    assert url.startswith("data:image/png;base64,")
    assert png_size(base64.b64decode(url.split(",", 1)[1])) == (32, 32)


@pytest.mark.parametrize("size", ["big", "0x0", "100", "5000x10", "64x64x64"])
def test_image_bad_size_is_a_400(sdk: openai.OpenAI, size: str) -> None:
    with pytest.raises(openai.BadRequestError):
        sdk.images.generate(model="demo-image", prompt="x", size=size)  # type: ignore[arg-type]


# --- errors -------------------------------------------------------------------------------------


def test_wrong_or_missing_key_is_authentication_error(keyed_server: DemoServer) -> None:
    for key in ("sk-wrong", ""):
        client = openai.OpenAI(base_url=keyed_server.base_url, api_key=key or "unused", max_retries=0)
        if not key:
            client = client.with_options(default_headers={"Authorization": ""})
        with pytest.raises(openai.AuthenticationError) as caught:
            client.chat.completions.create(model="demo-chat", messages=USER)
        assert caught.value.code == "invalid_api_key"
        assert SENTINEL_KEY not in str(caught.value.body)
    good = openai.OpenAI(base_url=keyed_server.base_url, api_key=SENTINEL_KEY, max_retries=0)
    assert good.chat.completions.create(model="demo-chat", messages=USER).choices[0].message.content


def test_keyed_server_requires_key_on_every_api_route(keyed_server: DemoServer) -> None:
    with httpx.Client(base_url=keyed_server.base_url) as client:
        for path in ("/models", "/models/demo-chat", "/demo/faults?value=x"):
            response = client.get(path)
            assert response.status_code == 401, path
        assert client.get("/models", headers={"Authorization": f"Bearer {SENTINEL_KEY}"}).status_code == 200


def test_unknown_model_is_not_found(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="gpt-nope", messages=USER)
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        sdk.images.generate(model="dall-nope", prompt="x")


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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["429", "503", "truncate", "error-event", "drop", "x"]),
    params=st.lists(
        st.tuples(
            st.sampled_from(["after", "times", "retry_after", "code", "seconds"]),
            st.sampled_from(["nan", "inf", "-1", "abc", "", "2", "1e99"]),
        ),
        max_size=3,
    ),
)
def test_no_fault_header_gives_an_unplanned_500(http: httpx.Client, kind: str, params: list) -> None:
    value = kind + "".join(f";{name}={v}" for name, v in params) + ";seconds=0"
    try:
        response = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": value})
    except httpx.RemoteProtocolError:
        assert kind == "drop"
        return
    assert response.status_code in {200, 400, 429, 503} or kind == "error-event"
    assert "Traceback" not in response.text


def test_unknown_route_is_a_json_404(http: httpx.Client) -> None:
    response = http.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"


# --- faults -------------------------------------------------------------------------------------


def unique(fault: str) -> str:
    return f"{fault};id={uuid.uuid4().hex}"


def test_fault_429_is_rate_limit_error_with_retry_after(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(
            model="demo-chat", messages=USER, extra_headers={"X-Demo-Fault": "429;retry_after=7"}
        )
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_fault_5xx_is_internal_server_error(sdk: openai.OpenAI, status: int) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(
            model="demo-chat", messages=USER, extra_headers={"X-Demo-Fault": str(status)}
        )
    assert caught.value.status_code == status
    assert "Traceback" not in caught.value.response.text


def test_fault_503_retry_after_only_when_given(http: httpx.Client) -> None:
    assert (
        "retry-after"
        not in http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": "503"}).headers
    )
    response = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": "503;retry_after=2"})
    assert response.headers["retry-after"] == "2"


def test_fault_times_then_serves_and_counts(demo_server: DemoServer, http: httpx.Client) -> None:
    value = unique("429;times=2;retry_after=0")
    retrying = openai.OpenAI(base_url=demo_server.base_url, api_key="x", max_retries=3)
    reply = retrying.chat.completions.create(
        model="demo-chat", messages=USER, extra_headers={"X-Demo-Fault": value}
    )
    assert reply.choices[0].message.content
    assert http.get("/demo/faults", params={"value": value}).json() == {"count": 3}
    assert http.get("/demo/faults", params={"value": unique("500")}).json() == {"count": 0}


def test_fault_applies_to_images(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        sdk.images.generate(prompt="x", size="16x16", extra_headers={"X-Demo-Fault": "429"})


def test_fault_drop_cuts_the_stream_without_done(http: httpx.Client) -> None:
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):  # noqa: SIM117
        with http.stream(
            "POST", "/chat/completions", json=chat_body(stream=True), headers={"X-Demo-Fault": "drop;after=4"}
        ) as response:
            for part in response.iter_bytes():
                received += part
    payloads = sse_payloads(received)
    assert "[DONE]" not in payloads
    assert len(content_deltas([json.loads(p) for p in payloads])) == 4


def test_fault_drop_non_stream_cuts_the_body(http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": "drop"})


def test_fault_malformed_sends_a_non_json_data_line(http: httpx.Client) -> None:
    payloads = sse_payloads(stream_raw(http, chat_body(), {"X-Demo-Fault": "malformed;after=2"}))
    good = [json.loads(p) for p in payloads[:-1]]
    assert len(content_deltas(good)) == 2
    with pytest.raises(json.JSONDecodeError):
        json.loads(payloads[-1])


def test_fault_stall_blocks_then_continues(http: httpx.Client) -> None:
    received = b""
    with pytest.raises(httpx.ReadTimeout):  # noqa: SIM117
        with http.stream(
            "POST",
            "/chat/completions",
            json=chat_body(stream=True),
            headers={"X-Demo-Fault": "stall;after=2;seconds=60"},
            timeout=3,
        ) as response:
            for part in response.iter_bytes():
                received += part
    assert len(content_deltas(chunks_of(received))) == 2
    payloads = sse_payloads(stream_raw(http, chat_body(), {"X-Demo-Fault": "stall;seconds=0.05"}))
    assert payloads[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("code", "kind", "status"),
    [
        ("", "server_error", 500),
        (";code=429", "rate_limit_error", 429),
        (";code=400", "invalid_request_error", 400),
    ],
)
def test_fault_error_event_ends_the_stream_with_an_error(
    http: httpx.Client, code: str, kind: str, status: int
) -> None:
    payloads = sse_payloads(stream_raw(http, chat_body(), {"X-Demo-Fault": f"error-event;after=1{code}"}))
    assert "[DONE]" not in payloads
    error = json.loads(payloads[-1])["error"]
    assert error["type"] == kind
    assert error["code"] == status
    assert error["message"]


def test_fault_error_event_rejects_other_codes(http: httpx.Client) -> None:
    headers = {"X-Demo-Fault": "error-event;code=401"}
    response = http.post("/chat/completions", json=chat_body(), headers=headers)
    assert response.status_code == 400
    assert "code=401" in response.json()["error"]["message"]


def test_fault_truncate_ends_cleanly_without_finish(http: httpx.Client) -> None:
    chunks = chunks_of(stream_raw(http, chat_body(), {"X-Demo-Fault": "truncate"}))
    assert len(content_deltas(chunks)) == 3
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)


def test_stream_faults_on_non_stream_requests(http: httpx.Client) -> None:
    malformed = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": "malformed"})
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.text)
    error = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": "error-event;code=502"})
    assert error.status_code == 502
    headers = {"X-Demo-Fault": "error-event;code=400"}
    rejected = http.post("/chat/completions", json=chat_body(), headers=headers)
    assert rejected.status_code == 400
    assert rejected.json()["error"]["type"] == "invalid_request_error"


# --- quirks -------------------------------------------------------------------------------------


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


# --- the DemoServer object ----------------------------------------------------------------------


def test_demo_server_lifecycle_and_repr_never_shows_key() -> None:
    server = DemoServer(pace=0, api_key=SENTINEL_KEY)
    assert not server.running
    with server:
        assert server.running
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert SENTINEL_KEY not in repr(server)
        assert httpx.get(server.url + "/").json()["status"] == "ok"
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/")


def test_two_servers_get_different_ports(demo_server: DemoServer) -> None:
    with DemoServer(pace=0) as other:
        assert other.port != demo_server.port
        assert httpx.get(other.base_url + "/models").status_code == 200


def test_default_pace_is_the_demo_pace() -> None:
    from openai_magic.server import create_app

    assert create_app().state.pace == 0.02
    assert create_app(pace=0).state.pace == 0


def test_stop_ends_stalled_and_paced_streams() -> None:
    server = DemoServer(pace=None).start()
    started, errors = threading.Event(), []

    def read(headers: dict[str, str]) -> None:
        try:
            with httpx.stream(
                "POST",
                server.base_url + "/chat/completions",
                json=chat_body(stream=True),
                headers=headers,
                timeout=120,
            ) as response:
                for _ in response.iter_bytes():
                    started.set()
        except httpx.HTTPError as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read, args=(h,)) for h in ({"X-Demo-Fault": "stall;seconds=600"}, {})]
    for reader in readers:
        reader.start()
    assert started.wait(30)
    server.stop()
    for reader in readers:
        reader.join(60)
    assert not server.running
    assert not any(reader.is_alive() for reader in readers)
    assert any(isinstance(e, httpx.RemoteProtocolError) for e in errors)


def test_port_in_use_is_a_clear_error(demo_server: DemoServer) -> None:
    with pytest.raises(RuntimeError, match="could not bind"):
        DemoServer(port=demo_server.port).start()
