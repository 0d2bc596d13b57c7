"""The demo model's answers (server/demo_model.py): Markdown, history, reasoning, directives, tools."""

from __future__ import annotations

import base64
import json
import re

import httpx
import openai
import pytest
from server_support import (
    TINY_PNG,
    USER,
    WEATHER_TOOL,
    chat_body,
    chunks_of,
    content_deltas,
    http_client,
    sdk_client,
    stream_raw,
    tool_prompt,
)

sdk = pytest.fixture(scope="module")(sdk_client)
http = pytest.fixture(scope="module")(http_client)


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
