"""Reproducible notebooks in real kernels: record against a server, replay with it gone, no key."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import nbformat
import pytest
from conftest import SENTINEL_KEY
from envs import kernel_env
from magics_kernel import demo_kernel, ok
from nbformat.v4 import new_code_cell, new_notebook
from notebook_run import execute_notebook

from openai_magic.server import DemoServer

pytestmark = pytest.mark.kernel


class CountingListener:
    """A port that accepts and counts connections, then closes them: proof that nothing was sent."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.accepted = 0
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


def answer_outputs(cell) -> list[dict]:
    return [o for o in cell.outputs if o.get("metadata", {}).get("openai_magic", {}).get("role") == "answer"]


def test_record_then_replay_in_a_fresh_kernel_with_the_server_gone(tmp_path: Path) -> None:
    replay_file = tmp_path / "talk.replay.jsonl"
    with DemoServer(pace=0) as server, demo_kernel(tmp_path, server.base_url) as k:
        ok(k.run(f"%chat_replay record {replay_file}"))
        recorded = ok(k.run("%%chat -o first\nExplain Python list comprehensions"))
        recorded_text = k.value("first")
    listener = CountingListener()  # where the demo backend would be now: nothing may connect to it
    try:
        with demo_kernel(tmp_path, listener.url) as k:
            ok(k.run(f"%chat_replay replay {replay_file} --speed 0"))
            replayed = ok(k.run("%%chat -o again\nExplain Python list comprehensions"))
            assert k.value("again") == recorded_text and replayed.markdown == recorded.markdown
            meta, before = replayed.meta, recorded.meta
            assert meta["replayed"] is True and meta["recorded_at"] and "replayed" not in before
            assert {k: meta[k] for k in ("provider", "model", "usage", "parameters")} == {
                k: before[k] for k in ("provider", "model", "usage", "parameters")
            }
            footer = [d for d, md in replayed.displays if md.get("openai_magic", {}).get("role") == "footer"]
            assert footer[0]["text/plain"].endswith("· replayed")
            # A prompt that was never recorded: one line that says how to record it, and no request.
            miss = ok(k.run("%chat a question nobody recorded"))
            line = miss.stderr.strip()
            assert line.startswith("ReplayMissError: no recorded answer") and "'record' (or 'auto')" in line
            assert len(line.splitlines()) == 1
        assert listener.accepted == 0
    finally:
        listener.close()


def test_a_notebook_run_twice_in_replay_mode_gives_identical_answers(tmp_path: Path, demo_server) -> None:
    replay_file = tmp_path / "nb.replay.jsonl"
    cells = [
        new_code_cell("%load_ext openai_magic"),
        new_code_cell(f"%chat_replay auto {replay_file} --speed 0"),
        new_code_cell("%%chat\nExplain Python generators"),
        new_code_cell("%%chat\nAnd their send() method?"),
    ]
    path = tmp_path / "twice.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    env = kernel_env(OPENAI_MAGIC_DEMO_URL=demo_server.base_url)
    execute_notebook(path, env)  # auto: records the misses (both answers)
    lines = replay_file.read_text().splitlines()
    assert len(lines) == 2
    path.write_text(path.read_text().replace("%chat_replay auto", "%chat_replay replay"))
    runs = [
        execute_notebook(path, kernel_env(OPENAI_MAGIC_DEMO_URL="http://127.0.0.1:9/v1")) for _ in range(2)
    ]
    answers = [
        [
            o["data"]
            for c in run.nb.cells
            for o in c.get("outputs", [])
            if "openai_magic" in o.get("metadata", {})
            and o["metadata"]["openai_magic"].get("role") == "answer"
        ]
        for run in runs
    ]
    assert len(answers[0]) == 2 and answers[0] == answers[1]
    assert replay_file.read_text().splitlines() == lines  # replay mode never writes


def test_the_key_reaches_neither_the_log_nor_the_replay_file(tmp_path: Path, keyed_server) -> None:
    replay_file, log = tmp_path / "keyed.replay.jsonl", tmp_path / "keyed-log.db"
    with demo_kernel(
        tmp_path, keyed_server.base_url, OPENAI_MAGIC_LOG=str(log), OPENAI_MAGIC_TEST_SECRET=SENTINEL_KEY
    ) as k:
        ok(
            k.run(
                "import os\nfrom openai_magic.notebook import keys, plan\n"
                f"keys.remember(plan.resolve_provider({keyed_server.base_url!r})[0], "
                "os.environ['OPENAI_MAGIC_TEST_SECRET'])"
            )
        )
        ok(k.run(f"%chat_replay record {replay_file}"))
        cell = ok(k.run(f"%chat -p {keyed_server.base_url} -m demo-chat -o keyed hello with a key"))
        assert k.value("keyed") and not cell.stderr
    assert SENTINEL_KEY not in replay_file.read_text() and json.loads(replay_file.read_text().splitlines()[0])
    assert SENTINEL_KEY.encode() not in log.read_bytes()


def test_a_notebook_that_ships_a_replay_file_replays_it_where_the_mode_is_set(tmp_path: Path) -> None:
    """What binder/start sets up: OPENAI_MAGIC_NOTEBOOK_REPLAY and the notebook's own NAME.replay.jsonl."""
    with DemoServer(pace=0) as server, demo_kernel(tmp_path, server.base_url) as k:
        ok(k.run("%chat_replay record talk.replay.jsonl\n%chat -o recorded a shipped answer"))
        shipped = k.value("recorded")
    listener = CountingListener()
    try:
        env = {"OPENAI_MAGIC_NOTEBOOK_REPLAY": "replay", "JPY_SESSION_NAME": "notebooks/talk.ipynb"}
        with demo_kernel(tmp_path, listener.url, **env) as k:
            cell = ok(k.run("%chat -o replayed a shipped answer"))
            assert k.value("replayed") == shipped and cell.meta["replayed"] is True
        assert listener.accepted == 0
        with DemoServer(pace=0) as server:
            env["JPY_SESSION_NAME"] = "notebooks/other.ipynb"  # ships no replay file: left alone
            with demo_kernel(tmp_path, server.base_url, **env) as k:
                cell = ok(k.run("%chat -o asked a shipped answer"))
                assert "replayed" not in cell.meta and k.value("asked") == shipped
    finally:
        listener.close()
