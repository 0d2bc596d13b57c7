"""The replay file itself: its line format and fingerprint, media by hash, no secret ever written,
corrupt lines skipped with one warning, and two processes recording into one file at once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import logging
import sys
import textwrap
from urllib.parse import quote

import pytest
from conftest import SENTINEL_KEY
from core_support import collect, demo_provider, text_of
from PIL import Image
from replay_support import dead_base_url, lines
from secrets_support import leaks

from openai_magic import replay
from openai_magic.core import errors, providers, replay_codec, replay_store
from openai_magic.core.responses import Replayed


@pytest.fixture(autouse=True)
def no_outside_settings(monkeypatch):
    for name in (replay.ENV_PATH, replay.ENV_MODE, replay.ENV_SPEED):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "talk.replay.jsonl"


@pytest.fixture(scope="module")
def P(demo_server):
    return demo_provider(demo_server.base_url)


async def run(P, model: str, prompt, **kwargs) -> list:
    return await collect(P.create_async_generator(model, prompt, **kwargs))


def png(color: str, size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


async def test_a_line_is_one_exchange_with_its_canonical_request_and_fingerprint(P, path):
    with replay.use(path, mode="record"):
        await run(P, "demo-chat", "hi", stream=True, seed=7, stop=["zzz"], extra_data={"top_k": 3})
    raw = path.read_bytes()
    assert raw.count(b"\n") == 1 and raw.endswith(b"\n")
    (line,) = lines(path)
    assert list(line) == ["v", "fingerprint", "recorded_at", "request", "items"]
    request = line["request"]
    assert request["base"] == P.api_base and request["endpoint"] == "chat/completions"
    assert request["body"] == {
        "messages": [{"content": "hi", "role": "user"}],
        "model": "demo-chat",
        "seed": 7,
        "stop": ["zzz"],
        "stream": True,
        "stream_options": {"include_usage": True},
        "top_k": 3,
    }
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert line["fingerprint"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    # Objects are written with sorted keys, so a re-recorded line differs only where the exchange does.
    assert raw.index(b'"messages"') < raw.index(b'"model"') < raw.index(b'"stream"')


async def test_every_parameter_that_changes_the_answer_changes_the_fingerprint(P, path):
    variants = [
        {},
        {"temperature": 0.5},
        {"max_tokens": 3},
        {"stop": ["x"]},
        {"seed": 1},
        {"response_format": {"type": "json_object"}},
        {"extra_data": {"top_k": 3}},
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]},
        {"stream": True},
    ]
    with replay.use(path, mode="record"):
        for kwargs in variants:
            await run(P, "demo-chat", "hi", **kwargs)
        await run(P, "demo-reasoner", "hi")
        system = {"role": "system", "content": "be brief"}
        await run(P, "demo-chat", [system, {"role": "user", "content": "hi"}])
        await run(P, "demo-chat", "hi", headers={"X-Anything": "1"})  # headers are not part of it
    assert len({line["fingerprint"] for line in lines(path)}) == len(variants) + 2 == len(lines(path))


async def test_attached_media_is_fingerprinted_by_hash(P, path):
    red, blue = png("red"), png("blue")
    with replay.use(path, mode="record"):
        await run(P, "demo-chat", "what is this?", media=red)
        await run(P, "demo-chat", "what is this?", media=blue)
    first, second = lines(path)
    assert first["fingerprint"] != second["fingerprint"]
    part = next(p for p in first["request"]["body"]["messages"][0]["content"] if p["type"] == "image_url")
    payload = base64.b64encode(red).decode()
    assert part["image_url"]["url"] == f"data:image/png;sha256,{hashlib.sha256(payload.encode()).hexdigest()}"
    assert payload not in path.read_text()
    with replay.use(path, mode="replay"):
        assert isinstance((await run(P, "demo-chat", "what is this?", media=blue))[0], Replayed)
        with pytest.raises(errors.ReplayMissError):
            await run(P, "demo-chat", "what is this?", media=png("green"))


async def test_the_key_and_credentials_never_reach_the_file(demo_server, path):
    user, password = "alice-USER-7c1", "pw-SECRET-p@ss-9e2"
    host = demo_server.base_url.split("//", 1)[1]
    base = f"http://{user}:{quote(password, safe='')}@{host}"
    header_secret = "hdr-SECRET-4b8a1d"
    P = demo_provider(base, api_key=SENTINEL_KEY, default_headers={"X-Api-Key": header_secret})
    with replay.use(path, mode="record"):
        await run(P, "demo-chat", "hello", headers={"X-Other-Token": header_secret + "2"})
        await run(P, "demo-chat", "hello", stream=True)
        await run(P, "demo-chat", f"[demo echo] my key is {SENTINEL_KEY}", stream=True)
        await run(P, "demo-image", "a cat", size="16x16")
        await P.get_models_async()
    text = path.read_text()
    assert len(lines(path)) == 5
    for secret in (SENTINEL_KEY, user, password, quote(password, safe=""), header_secret, "Authorization"):
        assert secret not in text
    assert f'"base": "http://{host}"' in text
    # The echoed key was redacted from the recorded answer (and the request).
    with replay.use(path, mode="replay"):
        echoed = await run(P, "demo-chat", f"[demo echo] my key is {SENTINEL_KEY}", stream=True)
    assert SENTINEL_KEY not in text_of(echoed) and "my key is ***" in text_of(echoed)


@pytest.mark.parametrize("mode", ["replay", "record", "auto"])
async def test_errors_under_replay_settings_carry_no_secret(path, mode):
    password = "pw-SECRET-3f9a7"
    with dead_base_url() as base:
        P = providers.custom(base.replace("//", f"//bob:{password}@"), max_retries=0)
        secrets = (SENTINEL_KEY, password, "hdr-SECRET-77a1")
        calls = [
            ({}, errors.ReplayMissError if mode == "replay" else errors.APIConnectionError),
            ({"extra_data": {"x": float("nan")}}, ValueError),  # found while fingerprinting it
        ]
        with replay.use(path, mode=mode):
            for extra, error in calls:
                result = P.create_async_generator(
                    "m", "hi", api_key=SENTINEL_KEY, headers={"X-Api-Key": secrets[2]}, **extra
                )
                with pytest.raises(error) as info:
                    await collect(result)
                assert leaks(info.value, *secrets) == []
            with pytest.raises(errors.ProviderError) as info:
                await P.get_models_async(api_key=SENTINEL_KEY)
            assert leaks(info.value, *secrets) == []


async def test_corrupt_lines_are_skipped_with_one_warning_and_kept(P, path, caplog):
    with replay.use(path, mode="record"):
        recorded = await run(P, "demo-chat", "hello")
    good = path.read_bytes()
    path.write_bytes(good + b"not json at all\n" + b'{"v": 1}\n' + good[: len(good) // 2] + b"\n\n")
    caplog.set_level(logging.WARNING, logger="openai_magic.replay")
    with replay.use(path, mode="replay"):
        for _ in range(3):
            assert (await run(P, "demo-chat", "hello"))[1:] == recorded
    warnings = [r for r in caplog.records if r.name == "openai_magic.replay"]
    assert len(warnings) == 1
    assert "skipped 3 unreadable line(s)" in warnings[0].getMessage() and "line 2" in warnings[0].getMessage()
    with replay.use(path, mode="record"):
        await run(P, "demo-chat", "another")
    assert b"not json at all\n" in path.read_bytes() and path.read_bytes().startswith(good)


async def test_an_unwritable_file_is_a_warning_not_a_failed_request(P, tmp_path, caplog):
    folder = tmp_path / "not-a-folder"
    folder.write_text("a file where the replay file's folder should be")
    caplog.set_level(logging.WARNING, logger="openai_magic.replay")
    with replay.use(folder / "talk.jsonl", mode="record"):
        items = await run(P, "demo-chat", "hello")
    assert text_of(items)
    assert any("could not record" in r.getMessage() for r in caplog.records)


def test_an_entry_rewritten_keeps_the_file_mode(tmp_path):
    path = tmp_path / "talk.jsonl"
    file = replay_store.open_file(str(path))
    request = replay.request("b", "chat/completions", {"model": "m"})
    line = replay_codec.line(request, [[0.0, "text", "a"]])
    fingerprint = json.loads(line)["fingerprint"]
    file.put(fingerprint, line)
    path.chmod(0o640)
    file.put(fingerprint, line)
    assert path.stat().st_mode & 0o777 == 0o640 and len(lines(path)) == 1
    assert file.get(fingerprint)["items"] == [[0.0, "text", "a"]]


RECORDER = textwrap.dedent(
    """
    import sys
    from openai_magic import replay
    from openai_magic.core import providers, replay_codec, replay_store

    base, path, tag, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    P = providers.custom(base, default_model="demo-chat")
    file = replay_store.open_file(path)
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start recording together
    with replay.use(path, mode="record"):
        for i in range(count):
            P.chat(f"[demo echo] {tag} {i}")
            P.chat("[demo echo] shared")  # both processes record this one again and again
            request = replay_codec.canonical_request("direct", tag, {"i": i})
            line = replay_codec.line(request, [[0.0, "text", f"{tag} direct {i}"]])
            file.put(replay_codec.fingerprint(request), line)
    print("done", flush=True)
    """
)


async def test_two_processes_recording_into_one_file_lose_nothing(demo_server, path):
    count = 15
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RECORDER,
            demo_server.base_url,
            str(path),
            tag,
            str(count),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for tag in ("one", "two")
    ]
    for child in children:
        assert await asyncio.wait_for(child.stdout.readline(), 120) == b"ready\n"
    for child in children:
        child.stdin.write(b"go\n")
        await child.stdin.drain()
    for child in children:
        out, err = await asyncio.wait_for(child.communicate(), 240)
        assert child.returncode == 0, err.decode()
        assert out == b"done\n"
    recorded = lines(path)
    assert len(recorded) == 2 * (2 * count) + 1  # each process: count chats, count direct; one shared
    assert len({line["fingerprint"] for line in recorded}) == len(recorded)
    P = demo_provider(demo_server.base_url)
    with replay.use(path, mode="replay"):
        for tag in ("one", "two"):
            for i in range(count):
                items = await run(P, "demo-chat", f"[demo echo] {tag} {i}")
                assert isinstance(items[0], Replayed) and text_of(items) == f"[demo echo] {tag} {i}"
        assert text_of(await run(P, "demo-chat", "[demo echo] shared")) == "[demo echo] shared"
