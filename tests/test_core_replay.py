"""Record and replay against real loopback servers: what is recorded comes back the same with the
server gone, a miss in replay mode sends nothing, auto mode fills the gaps, recording replaces."""

from __future__ import annotations

import asyncio
import re

import pytest
from core_support import collect, demo_provider, of_type, text_of
from replay_support import (
    CountingServer,
    dead_base_url,
    lines,
    no_outside_settings,  # noqa: F401  (autouse: applies here)
    texts,
)

from openai_magic import replay
from openai_magic.core import errors, providers
from openai_magic.core.responses import (
    FinishReason,
    ImageResponse,
    ProviderInfo,
    Reasoning,
    Replayed,
    RetryWait,
    Usage,
)
from openai_magic.server import DemoServer


@pytest.fixture
def server():
    """A demo server of this test's own, so the test can stop it before replaying."""
    with DemoServer(pace=0) as running:
        yield running


@pytest.fixture
def path(tmp_path):
    return tmp_path / "talk.replay.jsonl"


@pytest.fixture(params=[True, False], ids=["stream", "whole"])
def stream(request) -> bool:
    return request.param


async def run(P, model: str, prompt: str, **kwargs) -> list:
    return await collect(P.create_async_generator(model, prompt, **kwargs))


@pytest.mark.parametrize("model", ["demo-chat", "demo-reasoner"])
async def test_a_reply_replays_the_same_with_the_server_gone(server, path, stream, model):
    P = demo_provider(server.base_url)
    with replay.use(path, mode="record"):
        recorded = await run(P, model, "Explain list comprehensions", stream=stream, temperature=0.2)
    server.stop()
    with replay.use(path, mode="replay"):
        replayed = await run(P, model, "Explain list comprehensions", stream=stream, temperature=0.2)

    assert not of_type(recorded, Replayed)
    first = replayed[0]
    assert isinstance(first, Replayed) and first.path == str(path)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first.recorded_at)
    assert replayed[1:] == recorded
    assert text_of(replayed) == text_of(recorded) and text_of(recorded)
    assert of_type(replayed, ProviderInfo)[0].model == model
    assert of_type(replayed, FinishReason) == [FinishReason("stop")]
    assert of_type(replayed, Usage) == of_type(recorded, Usage)
    assert bool(of_type(replayed, Reasoning)) == (model == "demo-reasoner")


async def test_images_replay_as_they_were_returned(server, path):
    P = demo_provider(server.base_url)
    with replay.use(path, mode="record"):
        recorded = await run(P, "demo-image", "a red square", n=2, size="16x16")
    server.stop()
    with replay.use(path, mode="replay"):
        replayed = await run(P, "demo-image", "a red square", n=2, size="16x16")
    (image,) = of_type(replayed, ImageResponse)
    assert len(image.images) == 2 and image.images[0].startswith("data:image/png;base64,")
    assert isinstance(replayed[0], Replayed) and replayed[1:] == recorded
    (line,) = lines(path)
    assert line["request"]["endpoint"] == "images/generations"


async def test_a_model_listing_replays_and_a_miss_is_not_hidden_by_the_fallback(server, path):
    P = demo_provider(server.base_url)
    with replay.use(path, mode="record"):
        listed = await P.get_models_async()
    server.stop()
    with replay.use(path, mode="replay"):
        again = await demo_provider(server.base_url).get_models_async()  # a new class: no cache
        with pytest.raises(errors.ReplayMissError, match="no recorded model listing"):
            await providers.Demo.get_models_async()  # which has fallback models
    assert again == listed and "demo-tools" in listed
    assert lines(path)[0]["request"] == {"base": server.base_url, "endpoint": "models"}


async def test_a_changed_prompt_in_replay_mode_is_a_one_line_miss_and_sends_nothing(path, stream):
    async with CountingServer() as server:
        P = providers.custom(server.base_url, max_retries=0)
        with replay.use(path, mode="record"):
            await run(P, "m", "hello", stream=stream)
        before = server.traffic
        with replay.use(path, mode="replay"), pytest.raises(errors.ReplayMissError) as info:
            await run(P, "m", "hello!", stream=stream)
        assert server.traffic == before == (1, 1)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert message == (
        f"no recorded answer for this m request in {path}: run once with replay mode 'record' (or "
        "'auto') to record it"
    )
    assert info.value.path == str(path) and isinstance(info.value, errors.ProviderError)


async def test_replay_mode_never_connects(path):
    with dead_base_url() as base:
        P = providers.custom(base, max_retries=0)
        with pytest.raises(errors.APIConnectionError):  # the port really refuses connections
            await run(P, "m", "hello")
        with replay.use(path, mode="replay"), pytest.raises(errors.ReplayMissError, match="does not exist"):
            await run(P, "m", "hello")
        with replay.use(path, mode="replay"), pytest.raises(errors.ReplayMissError):
            await P.get_models_async()


async def test_auto_records_a_miss_then_replays_it(path, stream):
    async with CountingServer() as server:
        P = providers.custom(server.base_url, max_retries=0)
        with replay.use(path, mode="auto"):
            first = await run(P, "m", "hello", stream=stream)
            traffic = server.traffic
            second = await run(P, "m", "hello", stream=stream)
            assert server.traffic == traffic
            other = await run(P, "m", "something else", stream=stream)
        assert server.answers == 2
    assert not of_type(first, Replayed) and text_of(first) == "answer 1"
    assert isinstance(second[0], Replayed) and second[1:] == first
    assert text_of(other) == "answer 2" and texts(path) == ["answer 1", "answer 2"]


async def test_record_replaces_an_entry_in_its_place(path):
    async with CountingServer() as server:
        P = providers.custom(server.base_url, max_retries=0)
        with replay.use(path, mode="record"):
            for prompt in ("first", "second", "first"):
                await run(P, "m", prompt)
        with replay.use(path, mode="replay"):
            replayed = await run(P, "m", "first")
    assert texts(path) == ["answer 3", "answer 2"]
    assert [line["request"]["body"]["messages"][0]["content"] for line in lines(path)] == ["first", "second"]
    assert text_of(replayed) == "answer 3"


async def test_failed_and_interrupted_requests_are_not_recorded(demo_server, path, stream):
    P = demo_provider(demo_server.base_url, max_retries=0)
    with replay.use(path, mode="auto"):
        with pytest.raises(errors.ServerError):
            await run(P, "demo-chat", "hello", stream=stream, headers={"X-Demo-Fault": "500"})
        assert not path.exists()
        with pytest.raises(errors.ServerError):  # and a failure is not replayed either
            await run(P, "demo-chat", "hello", stream=stream, headers={"X-Demo-Fault": "500"})
        result = P.create_async_generator("demo-chat", "hello [demo tokens=20]", stream=stream)
        async for item in result:
            if isinstance(item, str):
                break
        await result.aclose()
    assert not path.exists()


async def test_a_retried_request_records_only_the_reply(demo_server, path):
    P = demo_provider(demo_server.base_url)
    fault = "503;times=1;retry_after=0;id=replay-retry"
    with replay.use(path, mode="record"):
        recorded = await run(P, "demo-chat", "hi", stream=True, headers={"X-Demo-Fault": fault})
    with replay.use(path, mode="replay"):
        replayed = await run(P, "demo-chat", "hi", stream=True)
    assert of_type(recorded, RetryWait) and not of_type(replayed, RetryWait)
    assert replayed[1:] == [item for item in recorded if not isinstance(item, RetryWait)]


async def test_replay_needs_no_key(server, path):
    Keyed = demo_provider(server.base_url, needs_auth=True)
    with replay.use(path, mode="record"):
        await run(Keyed, "demo-chat", "hello", api_key="sk-recording")
    with pytest.raises(errors.MissingAuthError):
        await Keyed.create_async_generator("demo-chat", "hello")
    server.stop()
    with replay.use(path, mode="replay"):
        items = await collect(Keyed.create_async_generator("demo-chat", "hello"), "await")
    assert isinstance(items[0], Replayed) and text_of(items)


async def test_the_demo_backend_is_fingerprinted_by_name_not_by_port(monkeypatch, path):
    with DemoServer(pace=0) as first:
        monkeypatch.setenv("OPENAI_MAGIC_DEMO_URL", first.base_url)
        with replay.use(path, mode="record"):
            recorded = await run(providers.Demo, "", "hello", stream=True)
    with dead_base_url() as elsewhere:
        monkeypatch.setenv("OPENAI_MAGIC_DEMO_URL", elsewhere)
        with replay.use(path, mode="replay"):
            replayed = await run(providers.Demo, "", "hello", stream=True)
    assert replayed[1:] == recorded
    assert lines(path)[0]["request"]["base"] == "demo"


async def test_replayed_items_keep_their_order_and_recorded_times(path, demo_server):
    P = demo_provider(demo_server.base_url)
    with replay.use(path, mode="record"):
        recorded = await run(P, "demo-reasoner", "why [demo tokens=8 pace=0.01]", stream=True)
    (line,) = lines(path)
    seconds = [item[0] for item in line["items"]]
    assert seconds == sorted(seconds) and seconds[-1] > seconds[0]
    assert [kind for _, kind, _ in line["items"]][:2] == ["info", "reasoning"]
    for speed in (0, 1.0, 100.0):
        with replay.use(path, mode="replay", speed=speed) as settings:
            assert settings.speed == speed
            replayed = await run(P, "demo-reasoner", "why [demo tokens=8 pace=0.01]", stream=True)
            assert replayed[1:] == recorded


async def test_each_step_of_a_conversation_is_its_own_exchange(demo_server, path):
    P = demo_provider(demo_server.base_url)
    history = [{"role": "user", "content": "hello"}]
    with replay.use(path, mode="record"):
        first = text_of(await run(P, "demo-chat", history))
        history += [{"role": "assistant", "content": first}, {"role": "user", "content": "more"}]
        second = text_of(await run(P, "demo-chat", history))
    assert len(lines(path)) == 2 and first != second
    with replay.use(path, mode="replay"):
        assert text_of(await run(P, "demo-chat", history)) == second


async def test_concurrent_requests_to_several_models_record_into_one_file(server, path):
    # As compare mode sends them: at once, streamed, one file.
    P = demo_provider(server.base_url)
    models = ["demo-chat", "demo-reasoner", "demo-think", "demo-tools"]
    prompt = "compare us [demo tokens=30 pace=0.001]"
    with replay.use(path, mode="record"):
        recorded = await asyncio.gather(*(run(P, model, prompt, stream=True) for model in models))
    server.stop()
    with replay.use(path, mode="replay"):
        replayed = await asyncio.gather(*(run(P, model, prompt, stream=True) for model in models))
    assert sorted(line["request"]["body"]["model"] for line in lines(path)) == models
    assert [items[1:] for items in replayed] == recorded
