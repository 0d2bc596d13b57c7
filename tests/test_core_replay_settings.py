"""Where replay settings come from: `use()` over `configure()` over the environment, field by field;
`use()` scoped to its thread or task (and reaching the bridge's portal thread), checked values."""

from __future__ import annotations

import asyncio
import math
import threading

import pytest
from core_support import collect, demo_provider, text_of
from replay_support import (
    lines,
    no_outside_settings,  # noqa: F401  (autouse: applies here)
)

from openai_magic import replay
from openai_magic.core import errors, responses
from openai_magic.core.replay import Settings
from openai_magic.core.responses import Replayed


def test_off_by_default_and_the_public_names():
    assert replay.current() == Settings(None, "off", 1.0) and replay.active() is None
    import openai_magic

    assert openai_magic.replay is replay and "Replayed" in responses.__all__
    assert issubclass(errors.ReplayMissError, errors.ProviderError)


def test_the_environment_sets_a_file_and_auto_mode(monkeypatch):
    monkeypatch.setenv("OPENAI_MAGIC_REPLAY", "demo.jsonl")
    assert replay.current() == Settings("demo.jsonl", "auto", 1.0)
    monkeypatch.setenv("OPENAI_MAGIC_REPLAY_MODE", " Replay ")
    monkeypatch.setenv("OPENAI_MAGIC_REPLAY_SPEED", "0")
    assert replay.current() == Settings("demo.jsonl", "replay", 0.0)
    monkeypatch.setenv("OPENAI_MAGIC_REPLAY_MODE", "off")
    assert replay.active() is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "OPENAI_MAGIC_REPLAY_MODE",
            "replya",
            "_MODE must be one of record, replay, auto, off, not 'replya'",
        ),
        ("OPENAI_MAGIC_REPLAY_SPEED", "fast", "OPENAI_MAGIC_REPLAY_SPEED must be a number"),
        ("OPENAI_MAGIC_REPLAY_SPEED", "-1", "OPENAI_MAGIC_REPLAY_SPEED must be 0"),
        ("OPENAI_MAGIC_REPLAY_SPEED", "nan", "OPENAI_MAGIC_REPLAY_SPEED must be 0"),
    ],
)
def test_a_bad_environment_value_is_a_clear_error(monkeypatch, name, value, message):
    monkeypatch.setenv("OPENAI_MAGIC_REPLAY", "demo.jsonl")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        replay.current()


def test_use_over_configure_over_the_environment_field_by_field(monkeypatch):
    monkeypatch.setenv("OPENAI_MAGIC_REPLAY", "env.jsonl")
    monkeypatch.setenv("OPENAI_MAGIC_REPLAY_SPEED", "2")
    assert replay.configure(mode="record") == Settings("env.jsonl", "record", 2.0)
    assert replay.configure("conf.jsonl") == Settings("conf.jsonl", "auto", 2.0)  # replaces the last call
    with replay.use(speed=0) as settings:
        assert settings == Settings("conf.jsonl", "replay", 0.0)
        with replay.use("inner.jsonl", mode="auto") as inner:
            assert inner == Settings("inner.jsonl", "auto", 0.0)  # the outer use()'s speed holds
        assert replay.current() == settings
    with replay.use(mode="off"):
        assert replay.active() is None
    assert replay.configure(mode="off") == Settings("env.jsonl", "off", 2.0)
    assert replay.configure() == Settings("env.jsonl", "auto", 2.0)


def test_use_takes_path_like_files_and_speed_infinity(tmp_path):
    with replay.use(tmp_path / "x.jsonl", speed=math.inf) as settings:
        assert settings == Settings(str(tmp_path / "x.jsonl"), "replay", math.inf)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"mode": "playback"}, ValueError),
        ({"speed": -0.5}, ValueError),
        ({"speed": "1"}, TypeError),
        ({"speed": True}, TypeError),
        ({"path": 42}, TypeError),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(kwargs, error):
    with pytest.raises(error):
        replay.configure(**{"path": "x.jsonl", **kwargs})
    with pytest.raises(error), replay.use(**{"path": "x.jsonl", **kwargs}):
        pass
    assert replay.current().mode == "off"


async def test_a_mode_without_a_file_is_a_clear_error_at_the_request(demo_server):
    P = demo_provider(demo_server.base_url)
    with replay.use(mode="replay"), pytest.raises(ValueError, match="needs a replay file"):
        await collect(P.create_async_generator("demo-chat", "hi"))


async def test_concurrent_tasks_keep_their_own_settings(demo_server, tmp_path):
    P = demo_provider(demo_server.base_url)
    both_inside = asyncio.Barrier(2)

    async def task(name: str) -> Settings:
        with replay.use(tmp_path / f"{name}.jsonl", mode="record") as settings:
            await both_inside.wait()  # the other task's use() is in force meanwhile
            await collect(P.create_async_generator("demo-chat", f"[demo echo] {name}", stream=True))
            await both_inside.wait()
            assert replay.current() == settings
            return settings

    first, second = await asyncio.gather(task("one"), task("two"))
    assert first.path != second.path and replay.current().mode == "off"
    for name in ("one", "two"):
        (line,) = lines(tmp_path / f"{name}.jsonl")
        assert line["request"]["body"]["messages"][0]["content"] == f"[demo echo] {name}"


def test_a_thread_does_not_see_another_threads_use(tmp_path):
    seen: list[str] = []
    inside = threading.Event()
    done = threading.Event()

    def other() -> None:
        inside.wait(30)
        seen.append(replay.current().mode)
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with replay.use(tmp_path / "x.jsonl", mode="record"):
        inside.set()
        done.wait(30)
    thread.join(30)
    assert seen == ["off"]


def sync_round_trip(P, path) -> tuple[str, list]:
    with replay.use(path, mode="record"):
        answer = P.chat("[demo echo] through the bridge")
        recorded = list(P.create_completion("demo-chat", "[demo echo] through the bridge", stream=True))
    assert len(lines(path)) == 2 and not isinstance(recorded[0], Replayed)
    with replay.use(path, mode="replay"):
        items = list(P.create_completion("demo-chat", "[demo echo] through the bridge", stream=True))
        assert P.chat("[demo echo] through the bridge") == answer
        with pytest.raises(errors.ReplayMissError):
            P.chat("[demo echo] never recorded")
    return answer, items


def test_the_sync_bridge_honors_use(demo_server, tmp_path):
    P = demo_provider(demo_server.base_url)
    answer, items = sync_round_trip(P, tmp_path / "sync.jsonl")
    assert answer == "[demo echo] through the bridge"
    assert isinstance(items[0], Replayed) and text_of(items) == answer


async def test_the_sync_bridge_honors_use_inside_a_running_loop(demo_server, tmp_path):
    P = demo_provider(demo_server.base_url)
    answer, items = sync_round_trip(P, tmp_path / "sync.jsonl")
    assert isinstance(items[0], Replayed) and text_of(items) == answer


def test_configure_reaches_the_bridge_and_other_threads(demo_server, tmp_path):
    P = demo_provider(demo_server.base_url)
    replay.configure(tmp_path / "conf.jsonl", "record")
    results: list[str] = []
    thread = threading.Thread(target=lambda: results.append(P.chat("[demo echo] from a thread")))
    thread.start()
    thread.join(60)
    assert results == ["[demo echo] from a thread"] and len(lines(tmp_path / "conf.jsonl")) == 1
