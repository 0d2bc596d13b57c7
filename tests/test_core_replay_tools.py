"""Tool loops under record and replay: each model reply is its own exchange, the functions still run
when replayed, and a function whose result changed makes the next step a miss."""

from __future__ import annotations

from typing import Any

import pytest
from core_support import collect, demo_provider, of_type
from replay_support import comparable, lines

from openai_magic import replay
from openai_magic.core import errors
from openai_magic.core.responses import Replayed, ToolCall, ToolMessages, ToolResult
from openai_magic.server import DemoServer

PROMPT = "What is the weather in 'Paris'? [demo tool=lookup city=Paris days=2]"


@pytest.fixture(autouse=True)
def no_outside_settings(monkeypatch):
    for name in (replay.ENV_PATH, replay.ENV_MODE, replay.ENV_SPEED):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=[True, False], ids=["stream", "whole"])
def stream(request) -> bool:
    return request.param


class Weather:
    """A tool whose answer (and calls) the test controls."""

    def __init__(self, temp: int) -> None:
        self.temp = temp
        self.calls: list[tuple[str, int]] = []

    def lookup(self, city: str, days: int = 1) -> dict[str, Any]:
        """The weather of a city.

        Args:
            city: Which city.
            days: How many days ahead.
        """
        self.calls.append((city, days))
        return {"city": city, "days": days, "temp": self.temp}


async def loop_items(P, tool: Weather, stream: bool) -> list[Any]:
    return await collect(P.create_async_generator("demo-tools", PROMPT, tools=[tool.lookup], stream=stream))


async def test_a_tool_loop_replays_step_by_step_and_its_tools_still_run(tmp_path, stream):
    path = tmp_path / "tools.jsonl"
    recording = Weather(21)
    with DemoServer(pace=0) as server:
        P = demo_provider(server.base_url)
        with replay.use(path, mode="record"):
            recorded = await loop_items(P, recording, stream)
    replaying = Weather(21)
    with replay.use(path, mode="replay"):
        replayed = await loop_items(P, replaying, stream)

    assert recording.calls == replaying.calls == [("Paris", 2)]  # side effects stay honest
    assert len(of_type(replayed, Replayed)) == 2 and isinstance(replayed[0], Replayed)
    assert comparable(replayed) == comparable(recorded)
    assert of_type(replayed, ToolCall)[0].arguments == {"city": "Paris", "days": 2}
    assert '"temp": 21' in of_type(replayed, ToolResult)[0].output
    first, second = lines(path)
    assert [kind for _, kind, _ in first["items"]].count("tool_calls") == 1
    # The second exchange's request holds the tool call and its result.
    sent = second["request"]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert '"temp": 21' in sent[2]["content"]
    assert second["request"]["body"]["tools"][0]["function"]["name"] == "lookup"


async def test_a_tool_whose_result_changed_makes_the_next_step_a_miss(tmp_path, stream):
    path = tmp_path / "tools.jsonl"
    with DemoServer(pace=0) as server:
        P = demo_provider(server.base_url)
        with replay.use(path, mode="record"):
            await loop_items(P, Weather(21), stream)
    changed = Weather(5)
    seen: list[Any] = []
    result = P.create_async_generator("demo-tools", PROMPT, tools=[changed.lookup], stream=stream)
    with replay.use(path, mode="replay"), pytest.raises(errors.ReplayMissError):
        async for item in result:
            seen.append(item)
    assert changed.calls == [("Paris", 2)]  # the first step was replayed and its tool ran
    assert isinstance(seen[0], Replayed) and '"temp": 5' in of_type(seen, ToolResult)[0].output
    assert isinstance(seen[-1], ToolMessages)  # then the second step missed


async def test_auto_mode_records_the_changed_step_and_replays_the_rest(demo_server, tmp_path):
    path = tmp_path / "tools.jsonl"
    P = demo_provider(demo_server.base_url)
    with replay.use(path, mode="auto"):
        await loop_items(P, Weather(21), True)
        items = await loop_items(P, Weather(5), True)
    assert len(of_type(items, Replayed)) == 1 and isinstance(items[0], Replayed)  # step 1 only
    assert len(lines(path)) == 3  # one first step, two different second steps
