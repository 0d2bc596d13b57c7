"""The tool loop against the embedded demo backend's `demo-tools` model, streamed and whole."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from core_support import collect, demo_provider, of_type

from openai_magic import tools
from openai_magic.core.responses import Notice, ToolCall, ToolMessages, ToolResult


@pytest.fixture(scope="module")
def P(demo_server):
    return demo_provider(demo_server.base_url, default_model="demo-tools")


@pytest.fixture(params=[True, False], ids=["stream", "whole"])
def stream(request) -> bool:
    return request.param


def lookup(city: str, days: int = 1) -> dict[str, Any]:
    """The weather of a city.

    Args:
        city: Which city.
        days: How many days ahead.
    """
    return {"city": city, "days": days, "temp": 21}


def answer(items: list[Any]) -> str:
    last = max((i for i, item in enumerate(items) if isinstance(item, ToolMessages)), default=-1)
    return "".join(item for item in items[last + 1 :] if isinstance(item, str))


async def run(P, prompt: str, **kwargs: Any) -> list[Any]:
    return await asyncio.wait_for(collect(P.create_async_generator("", prompt, **kwargs)), 60)


async def test_the_answer_uses_the_result(P, stream):
    items = await run(P, "What is the weather in 'Paris'? Use lookup.", tools=[lookup], stream=stream)
    (call,) = of_type(items, ToolCall)
    assert (call.name, call.arguments) == ("lookup", {"city": "Paris"})
    assert answer(items) == (
        "Here is what the tools returned:\n\n- `lookup` returned: "
        '{"city": "Paris", "days": 1, "temp": 21}\n\nThat is my answer from 1 tool result.\n'
    )


async def test_directive_values_arrive_typed_and_two_calls_run(P, stream):
    seen: list[tuple[str, int]] = []

    def record(city: str, days: int = 1) -> str:
        seen.append((city, days))
        return f"{city} in {days} days: sunny"

    record.__name__ = "lookup"
    prompt = '[demo tool=lookup city="New York" days=2] [demo tool=lookup city=Rome]'
    items = await run(P, prompt, tools=[record], stream=stream)
    assert seen == [("New York", 2), ("Rome", 1)]
    assert "New York in 2 days: sunny" in answer(items) and "Rome in 1 days: sunny" in answer(items)
    assert "2 tool results" in answer(items)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ("json", "invalid arguments: the arguments are not valid JSON"),
        ("missing", "invalid arguments: missing required argument 'city'"),
        ("type", "invalid arguments: argument 'city': expected a string, got 12345"),
    ],
)
async def test_bad_arguments_go_back_as_errors_without_calling(P, stream, bad, error):
    called: list[Any] = []

    def guarded(city: str, days: int = 1) -> str:
        called.append(city)
        return city

    guarded.__name__ = "lookup"
    items = await run(P, f"[demo tool=lookup bad={bad}]", tools=[guarded], stream=stream)
    (result,) = of_type(items, ToolResult)
    assert called == [] and result.error.startswith(error)
    assert f"returned: Error: {error}" in answer(items)


async def test_an_unknown_name_and_a_raising_tool_are_quoted_errors(P, stream):
    def lookup(city: str) -> str:
        raise LookupError(f"no data for {city}")

    items = await run(
        P, "[demo tool=forecast] [demo tool=lookup city=Atlantis]", tools=[lookup], stream=stream
    )
    unknown, raised = of_type(items, ToolResult)
    assert unknown.error == "unknown tool 'forecast' (the tools offered are: lookup)"
    assert raised.error == "LookupError: no data for Atlantis"
    assert "`lookup` returned: Error: LookupError: no data for Atlantis" in answer(items)


async def test_a_denied_call_is_answered_as_denied(P, stream):
    items = await run(
        P, "[demo tool=lookup city=Paris]", tools=[lookup], confirm=lambda call: False, stream=stream
    )
    assert of_type(items, ToolResult)[0].output == "denied by the user"
    assert "`lookup` returned: denied by the user" in answer(items)


async def test_max_steps_stops_a_model_that_keeps_calling(P, stream):
    items = await run(
        P, "[demo tool=lookup city=Oslo] [demo steps=5]", tools=[lookup], max_steps=3, stream=stream
    )
    assert len(of_type(items, ToolMessages)) == 2
    assert isinstance(items[-1], Notice) and "Stopped after 3 steps" in items[-1].text
    enough = await run(
        P, "[demo tool=lookup city=Oslo] [demo steps=5]", tools=[lookup], max_steps=6, stream=stream
    )
    assert len(of_type(enough, ToolMessages)) == 5 and "5 tool results" in answer(enough)


async def test_async_tools_run_together(P, stream):
    both = asyncio.Barrier(2)  # passes only when both calls are running at once

    async def lookup(city: str) -> str:
        await both.wait()
        return f"{city}: ok"

    items = await run(P, "[demo tool=lookup city=A] [demo tool=lookup city=B]", tools=[lookup], stream=stream)
    assert [r.output for r in of_type(items, ToolResult)] == ["A: ok", "B: ok"]


def test_chat_returns_the_final_answer_with_sync_tools_on_this_thread(P):
    seen: list[threading.Thread] = []

    def lookup(city: str) -> str:
        seen.append(threading.current_thread())
        return f"{city} is sunny"

    text = P.chat("Use lookup for 'Lima'.", tools=[lookup])
    assert text.startswith("Here is what the tools returned:") and "Lima is sunny" in text
    assert seen == [threading.current_thread()]
    assert tools.has_functions([lookup]) and not tools.has_functions([tools.schema(lookup)])
