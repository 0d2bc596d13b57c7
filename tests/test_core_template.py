"""OpenaiTemplate chat against the embedded server: every item type, both modes, both call forms."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from core_support import collect, demo_provider, of_type, text_of

from openai_magic.core import errors
from openai_magic.core.responses import (
    FinishReason,
    ImageResponse,
    ProviderInfo,
    Reasoning,
    ToolCalls,
    Usage,
)
from openai_magic.core.template import OpenaiTemplate, prepare_messages

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@pytest.fixture(scope="module")
def P(demo_server):
    return demo_provider(demo_server.base_url)


@pytest.fixture(params=["iter", "await"])
def form(request):
    return request.param


@pytest.fixture(params=[False, True], ids=["nonstream", "stream"])
def stream(request):
    return request.param


async def test_text_and_metadata_items(P, form, stream):
    items = await collect(P.create_async_generator("demo-chat", "hello there", stream=stream), form)
    assert isinstance(items[0], ProviderInfo)
    assert items[0].provider == "Demo" and items[0].model == "demo-chat"
    text = text_of(items)
    assert text.startswith("## Hello there") and "I saw 1 message" in text
    assert of_type(items, FinishReason) == [FinishReason("stop")]
    [usage] = of_type(items, Usage)
    assert usage.completion_tokens > 0 and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.completion_tokens_details == {"reasoning_tokens": 0}  # an extra field, kept
    assert items[-1] is usage


async def test_stream_and_nonstream_give_the_same_text(P):
    whole = text_of(await collect(P.create_async_generator("demo-chat", "same answer?")))
    streamed = await collect(P.create_async_generator("demo-chat", "same answer?", stream=True))
    assert text_of(streamed) == whole
    assert sum(isinstance(item, str) for item in streamed) > 10  # really incremental


@pytest.mark.parametrize(
    ("model", "headers"),
    [
        ("demo-reasoner", None),
        ("demo-reasoner", {"X-Demo-Reasoning-Field": "reasoning"}),
        ("demo-think", None),
    ],
    ids=["reasoning_content", "reasoning", "think-tags"],
)
async def test_reasoning_from_every_source(P, model, headers, stream, form):
    items = await collect(P.create_async_generator(model, "why?", stream=stream, headers=headers), form)
    reasoning = "".join(r.text for r in of_type(items, Reasoning))
    text = text_of(items)
    assert "The user asks about" in reasoning
    assert "The user asks about" not in text
    assert "<think>" not in text and "</think>" not in text
    assert "## Why" in text
    first_text = next(i for i, item in enumerate(items) if isinstance(item, str))
    last_reasoning = max(i for i, item in enumerate(items) if isinstance(item, Reasoning))
    assert last_reasoning < first_text


async def test_reasoning_agrees_between_modes(P):
    for model in ("demo-reasoner", "demo-think"):
        one = await collect(P.create_async_generator(model, "compare"))
        many = await collect(P.create_async_generator(model, "compare", stream=True))
        assert "".join(r.text for r in of_type(one, Reasoning)) == "".join(
            r.text for r in of_type(many, Reasoning)
        )
        assert text_of(one) == text_of(many)


@pytest.mark.parametrize("quirk", [None, "tool-no-index"])
async def test_tool_calls(P, stream, quirk):
    headers = {"X-Demo-Quirk": quirk} if quirk else None
    items = await collect(
        P.create_async_generator(
            "demo-chat", "call get_weather for Paris", stream=stream, tools=TOOLS, headers=headers
        )
    )
    [calls] = of_type(items, ToolCalls)
    [call] = calls.calls
    assert call["type"] == "function" and call["id"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert of_type(items, FinishReason) == [FinishReason("tool_calls")]


async def test_image_generation(P, stream, form):
    items = await collect(P.create_async_generator("demo-image", "a red fox", stream=stream), form)
    [image] = of_type(items, ImageResponse)
    assert image.alt == "a red fox"
    assert image.images and image.images[0].startswith("data:image/png;base64,")
    assert of_type(items, ProviderInfo)[0].model == "demo-image"


async def test_prompt_keyword_for_image_model(P):
    items = await collect(P.create_async_generator("demo-image", [], prompt="a blue whale", n=2))
    [image] = of_type(items, ImageResponse)
    assert image.alt == "a blue whale" and len(image.images) == 2


async def test_text_passed_through_verbatim(P, stream):
    prompt = "  [demo echo]\n\n  keep   these  spaces \t\n"
    items = await collect(P.create_async_generator("demo-chat", prompt, stream=stream))
    assert text_of(items) == prompt


async def test_default_model_when_empty(P):
    items = await collect(P.create_async_generator("", "hi"))
    assert items[0].model == "demo-chat"


async def test_request_body_sampling_parameters(P, stream):
    items = await collect(P.create_async_generator("demo-chat", "hello", stream=stream, max_tokens=3))
    assert of_type(items, FinishReason) == [FinishReason("length")]
    assert of_type(items, Usage)[0].completion_tokens == 3
    cut = await collect(P.create_async_generator("demo-chat", "hello", stream=stream, stop=["asked"]))
    assert "asked" not in text_of(cut) and text_of(cut)
    with pytest.raises(errors.BadRequestError, match="temperature"):
        await collect(P.create_async_generator("demo-chat", "hello", temperature=7))
    # Values that are None are not sent (the server would reject a null temperature).
    ok = await collect(P.create_async_generator("demo-chat", "hello", temperature=None, top_p=0.5, seed=3))
    assert text_of(ok)


async def test_extra_parameters_and_extra_data(P):
    as_json = await collect(
        P.create_async_generator("demo-chat", "hi", response_format={"type": "json_object"})
    )
    assert json.loads(text_of(as_json))["answer"]
    ignored = await collect(
        P.create_async_generator(
            "demo-chat", "hi", response_format={"type": "json_object"}, extra_parameters=()
        )
    )
    assert text_of(ignored).startswith("## Hi")
    merged = await collect(
        P.create_async_generator("demo-chat", "hi", max_tokens=50, extra_data={"max_tokens": 2})
    )
    assert of_type(merged, Usage)[0].completion_tokens == 2


async def test_stream_requests_usage(P):
    items = await collect(P.create_async_generator("demo-chat", "hi", stream=True))
    assert of_type(items, Usage)  # stream_options.include_usage was sent


async def test_history_and_system_message(P, stream):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]
    text = text_of(await collect(P.create_async_generator("demo-chat", messages, stream=stream)))
    assert "I saw 4 messages" in text and "Be brief." in text


async def test_no_history_sends_last_turn_only(demo_server):
    P = demo_provider(demo_server.base_url, supports_message_history=False)
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "[demo echo] second"},
    ]
    assert text_of(await collect(P.create_async_generator("demo-chat", messages))) == "[demo echo] second"


async def test_system_folded_into_first_user_message(demo_server):
    P = demo_provider(demo_server.base_url, supports_system_message=False)
    messages = [{"role": "system", "content": "RULES"}, {"role": "user", "content": "[demo echo] question"}]
    assert (
        text_of(await collect(P.create_async_generator("demo-chat", messages)))
        == "RULES\n\n[demo echo] question"
    )
    both = demo_provider(demo_server.base_url, supports_system_message=False, supports_message_history=False)
    history = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": "[demo echo] new"},
    ]
    assert text_of(await collect(both.create_async_generator("demo-chat", history))) == "S\n\n[demo echo] new"


def test_prepare_messages_does_not_mutate_input():
    class NoSystem(OpenaiTemplate):
        api_base = "http://127.0.0.1:9/v1"
        supports_system_message = False

    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert prepare_messages(NoSystem, messages) == [{"role": "user", "content": "S\n\nU"}]
    assert messages[1]["content"] == "U"


async def test_instance_attributes_win(demo_server):
    provider = OpenaiTemplate(api_base=demo_server.base_url, default_model="demo-think", label="Mine")
    items = await collect(provider.create_async_generator("", "hi"))
    assert items[0] == ProviderInfo("Mine", "demo-think")
    assert "key=unset" in repr(provider)


def test_sync_helpers_without_a_loop(P):
    items = list(P.create_completion("demo-chat", "hello", stream=True))
    assert isinstance(items[0], ProviderInfo) and text_of(items).startswith("## Hello")
    assert P.chat("[demo echo] exact") == "[demo echo] exact"
    assert P.chat([{"role": "user", "content": "[demo echo] list"}], stream=True) == "[demo echo] list"


async def test_sync_helpers_inside_a_running_loop(P):
    # As in a notebook cell: sync code while the kernel's loop is running in this thread.
    assert P.chat("[demo echo] inside") == "[demo echo] inside"
    assert await P.chat_async("[demo echo] async") == "[demo echo] async"
    items = list(P.create_completion("demo-chat", "[demo echo] iterated", stream=True))
    assert isinstance(items[0], ProviderInfo) and text_of(items) == "[demo echo] iterated"


def test_break_closes_the_stream(P):
    iterator = P.create_completion("demo-chat", "[demo tokens=5000] [demo pace=0.001]", stream=True)
    for item in iterator:
        if isinstance(item, str):
            break
    iterator.close()
    # The connection went back to the pool cleanly: the next request works.
    assert P.chat("[demo echo] after") == "[demo echo] after"


async def test_aclose_stops_an_async_stream(P):
    result = P.create_async_generator("demo-chat", "[demo tokens=3000]", stream=True)
    async for item in result:
        if isinstance(item, str):
            break
    await result.aclose()
    assert await P.chat_async("[demo echo] still fine") == "[demo echo] still fine"


def test_core_does_not_import_ipython():
    code = (
        "import sys, openai_magic.core.template, openai_magic.core.providers, openai_magic.core.bridge;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('IPython', 'ipywidgets', 'ipykernel')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
