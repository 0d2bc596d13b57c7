"""The turn log from the notebook, in real kernels: a row per turn, %chat_log, restore after a restart."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import SENTINEL_KEY
from magics_kernel import Kernel, usage_error

from openai_magic.notebook.log import TurnLog

pytestmark = pytest.mark.kernel


def ok(cell):
    assert cell.reply["content"]["status"] == "ok" and not cell.of("error"), cell.everything
    return cell


def kernel_with_log(where: Path, demo_server, log: Path, **env: str) -> Kernel:
    k = Kernel(where, OPENAI_MAGIC_DEMO_URL=demo_server.base_url, OPENAI_MAGIC_LOG=str(log), **env)
    ok(k.run("%load_ext openai_magic"))
    return k


def test_every_turn_is_a_row_and_chat_log_shows_them(tmp_path, demo_server, keyed_server) -> None:
    log = tmp_path / "log.db"
    k = kernel_with_log(tmp_path, demo_server, log)
    try:
        ok(k.run("%chat -c notes hello there"))
        ok(k.run("%chat -c notes [demo echo] a second, with a marker zebra"))
        ok(k.run(f"key = {SENTINEL_KEY!r}"))
        ok(
            k.run(
                f"from openai_magic import ChatPanel\np = ChatPanel(provider={keyed_server.base_url!r}, "
                "api_key=key, conversation='panel')\nawait p.send('from the panel')"
            )
        )
        rows = TurnLog(log).recent(0)
        assert [(r.thread, r.surface, r.outcome) for r in rows] == [
            ("panel", "panel", "done"),
            ("notes", "magic", "done"),
            ("notes", "magic", "done"),
        ]
        latest = rows[1]
        assert (
            latest.prompt.endswith("zebra") and latest.answer == latest.prompt and latest.model == "demo-chat"
        )
        assert latest.provider == "Demo" and latest.host.startswith("127.0.0.1:") and latest.usage
        assert latest.duration is not None and latest.first_token is not None
        assert SENTINEL_KEY.encode() not in log.read_bytes()  # never the key
        table = ok(k.run("%chat_log -n 2")).markdown
        assert table.index("from the panel") < table.index("zebra")  # newest first
        found = ok(k.run("%chat_log -s zebra")).markdown
        assert "zebra" in found and "hello there" not in found
        listed = ok(k.run("rows = %chat_log --json -c notes\nprint(len(rows), rows[0]['thread'])"))
        assert listed.stdout.strip() == "2 notes"
    finally:
        k.close()


def test_a_thread_survives_a_kernel_restart_when_restored(tmp_path, demo_server) -> None:
    log = tmp_path / "log.db"
    first = kernel_with_log(tmp_path, demo_server, log)
    try:
        ok(first.run("%chat -c plan first question"))
        ok(first.run("%chat -c plan second question"))
    finally:
        first.close()
    second = kernel_with_log(tmp_path, demo_server, log)
    try:
        assert (
            "I saw 1 message" in ok(second.run("%chat -c other fresh")).markdown
        )  # nothing restored by itself
        restored = ok(second.run("%chat_history -c plan --restore"))
        assert "Restored 2 turns of 'plan'" in restored.stdout
        assert "I saw 5 messages" in ok(second.run("%chat -c plan and a third")).markdown
        assert usage_error(second.run("%chat_history -c plan --restore")).startswith(
            "Thread 'plan' already has"
        )
        ok(second.run("%chat_history -c plan --clear"))
        ok(
            second.run(
                "from openai_magic import ChatPanel\npanel = ChatPanel(conversation='plan', restore=True)"
            )
        )
        assert second.value("len(panel.conversation)") == 0  # a cleared thread restores as empty
    finally:
        second.close()
    third = kernel_with_log(tmp_path, demo_server, log)
    try:
        ok(third.run("from openai_magic import ChatPanel\np = ChatPanel(conversation='other', restore=True)"))
        assert third.value("len(p.conversation)") == 2 and third.value("len(p.ui.transcript.children)") == 2
    finally:
        third.close()


def test_a_restore_rebuilds_the_thread_that_was(tmp_path, demo_server) -> None:
    """Only turns that joined the thread come back: not those before `--new`, a `--no-history` turn,
    a failed one with no text, an image."""
    log = tmp_path / "log.db"
    first = kernel_with_log(tmp_path, demo_server, log)
    try:
        for line in ("one", "two", "--new fresh", "--no-history kept out", "--image a red square"):
            ok(first.run(f"%chat -c t1 {line}"))
        first.run("%chat -c t1 -m no-such-model failed")
        ok(first.run("from openai_magic import ChatPanel\np = ChatPanel(conversation='t2', new=True)"))
        kept = first.value(
            "[m['content'] for m in __import__('openai_magic').notebook.conversation"
            ".get_conversation('t1').messages]"
        )
    finally:
        first.close()
    assert kept[0] == "fresh" and len(kept) == 2
    second = kernel_with_log(tmp_path, demo_server, log)
    try:
        assert "Restored 1 turn of 't1' " in ok(second.run("%chat_history -c t1 --restore")).stdout
        restored = second.value(
            "[m['content'] for m in __import__('openai_magic').notebook.conversation"
            ".get_conversation('t1').messages]"
        )
        assert restored == kept
    finally:
        second.close()


def test_a_broken_log_is_one_warning_and_the_turn_goes_on(tmp_path, demo_server) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    k = kernel_with_log(tmp_path, demo_server, broken)
    try:
        cell = ok(k.run("%chat -o answer hello"))
        assert k.value("answer") and "chat log: " in cell.stdout and cell.stdout.count("chat log:") == 1
        again = ok(k.run("%chat hello again"))
        assert "chat log:" not in again.stdout  # said once
    finally:
        k.close()


def test_the_log_can_be_turned_off(tmp_path, demo_server) -> None:
    log = tmp_path / "off.db"
    k = kernel_with_log(tmp_path, demo_server, log)
    try:
        ok(k.run("%config ChatMagics.log = False\n%chat hello"))
        assert not log.exists()
        assert usage_error(k.run("%chat_log")).startswith("The log is off")
    finally:
        k.close()


def test_two_kernels_logging_at_once_lose_no_row(tmp_path, demo_server) -> None:
    log = tmp_path / "shared.db"
    kernels = [kernel_with_log(tmp_path, demo_server, log) for _ in range(2)]
    try:

        def chat(k: Kernel, name: str) -> None:
            for i in range(15):
                ok(k.run(f"%chat -c {name} --no-history turn {i} [demo pace=0]"))

        threads = [threading.Thread(target=chat, args=(k, f"k{n}")) for n, k in enumerate(kernels)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rows = TurnLog(log).recent(0)
        assert sorted((r.thread, r.prompt) for r in rows) == sorted(
            (f"k{n}", f"turn {i} [demo pace=0]") for n in range(2) for i in range(15)
        )
    finally:
        for k in kernels:
            k.close()
