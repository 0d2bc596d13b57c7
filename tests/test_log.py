"""The SQLite turn log: round trips, search, migrations, failures as one line, many writers at once."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from conftest import SENTINEL_KEY

from openai_magic.notebook.log import (
    TurnLog,
    TurnRecord,
    as_json,
    as_table,
    default_path,
    url_host,
)
from openai_magic.notebook.log_schema import MIGRATIONS, fts5_available, migrate, split_image, user_version

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()


def full_record(**changes: object) -> TurnRecord:
    """A record with every field set to something other than its default."""
    rec = TurnRecord(
        prompt="Summarize the report",
        answer="It says three things.",
        thread="ideas",
        model="demo-chat",
        provider="Demo",
        host="127.0.0.1:8765",
        surface="panel",
        notebook="notebooks/06_reproducible.ipynb",
        system="Be brief.",
        parameters={"temperature": 0.2, "max_tokens": 300, "stop": ["\n\n"]},
        prompt_images=["https://example.com/chart.png"],
        reasoning="The user wants a summary.",
        tool_messages=[
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ],
        images=["https://example.com/answer.png"],
        usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "extra": {"cached": 2}},
        first_token=0.125,
        duration=1.5,
        outcome="interrupted",
        error="interrupted by the user",
        replayed=True,
        time=1_700_000_000.123456,
    )
    return dataclasses.replace(rec, **changes)  # type: ignore[arg-type]


@pytest.fixture
def log(tmp_path: Path) -> Iterator[TurnLog]:
    with TurnLog(tmp_path / "log.db") as turn_log:
        yield turn_log


# --- where the file lives ---------------------------------------------------------------------


def test_default_path_follows_the_environment_and_the_platform(tmp_path: Path) -> None:
    home = Path.home()
    assert default_path({"OPENAI_MAGIC_LOG": str(tmp_path / "x.db")}) == tmp_path / "x.db"
    assert default_path({"OPENAI_MAGIC_LOG": "~/logs/x.db"}) == home / "logs" / "x.db"
    assert default_path({"OPENAI_MAGIC_LOG": "rel.db"}) == Path.cwd() / "rel.db"
    for off in ("0", "off", "OFF", "false", "no", " 0 "):
        assert default_path({"OPENAI_MAGIC_LOG": off}) is None
    linux = home / ".local" / "share" / "openai_magic" / "log.db"
    for on in ("", "1", "on", "true", "yes"):
        assert default_path({"OPENAI_MAGIC_LOG": on}, "linux") == linux
    assert default_path({}, "linux") == linux
    assert default_path({"XDG_DATA_HOME": "/data"}, "linux") == Path("/data/openai_magic/log.db")
    assert default_path({"XDG_DATA_HOME": "relative"}, "linux") == linux  # the XDG spec ignores it
    mac = home / "Library" / "Application Support" / "openai_magic" / "log.db"
    assert default_path({}, "darwin") == mac
    assert default_path({"LOCALAPPDATA": "/appdata"}, "win32") == Path("/appdata/openai_magic/log.db")
    assert default_path({}, "win32") == home / "AppData" / "Local" / "openai_magic" / "log.db"


def test_opens_lazily_in_wal_mode_and_reopens_after_close(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "log.db"
    turn_log = TurnLog(path)
    assert not path.parent.exists() and repr(turn_log) == f"TurnLog({str(path)!r})"
    assert turn_log.recent() == [] and path.exists()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert user_version(check) == len(MIGRATIONS)
    check.close()
    turn_log.close()
    turn_log.record(TurnRecord(prompt="after close"))
    assert [rec.prompt for rec in turn_log.recent()] == ["after close"]
    turn_log.close()


def test_the_module_imports_neither_ipython_nor_httpx() -> None:
    code = "import sys, openai_magic.notebook.log; print(sorted({'IPython', 'httpx'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- what a row holds -------------------------------------------------------------------------


def test_every_field_round_trips(log: TurnLog) -> None:
    rec = full_record()
    turn_id = log.record(rec)
    (back,) = log.recent()
    assert back == dataclasses.replace(rec, id=turn_id)
    assert back.tokens == 15 and TurnRecord(prompt="x").tokens is None
    assert TurnRecord(prompt="x", usage={"prompt_tokens": 3, "completion_tokens": 4}).tokens == 7


def test_no_field_can_hold_a_key_and_none_reaches_the_file(tmp_path: Path) -> None:
    names = {f.name for f in dataclasses.fields(TurnRecord)}
    for word in ("key", "secret", "auth", "header", "password", "credential", "cookie"):
        assert not [name for name in names if word in name], word
    turn_log = TurnLog(tmp_path / "log.db")
    base_url = f"https://user:{SENTINEL_KEY}@api.example.com:8443/v1?api_key={SENTINEL_KEY}#{SENTINEL_KEY}"
    turn_log.record(full_record(host=base_url))
    (back,) = turn_log.recent()
    assert back == dataclasses.replace(full_record(host="api.example.com:8443"), id=back.id)
    turn_log.close()
    columns = {row[1] for row in sqlite3.connect(tmp_path / "log.db").execute("PRAGMA table_info(turns)")}
    assert columns == names - {"id"} | {"id"}
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert SENTINEL_KEY.encode() not in stored and b"api.example.com:8443" in stored


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://api.openai.com/v1", "api.openai.com"),
        ("http://127.0.0.1:8000/v1/", "127.0.0.1:8000"),
        ("https://me:sk-xyz@host.example/v1", "host.example"),
        ("https://sk-xyz@host.example:443", "host.example:443"),
        ("me:sk-xyz@host.example/v1", "host.example"),
        ("http://[::1]:8080/v1", "[::1]:8080"),
        ("localhost:11434", "localhost:11434"),
        ("", ""),
    ],
)
def test_url_host_keeps_host_and_port_only(url: str, host: str) -> None:
    assert url_host(url) == host


def test_images_are_stored_once_and_the_row_keeps_a_reference(tmp_path: Path, log: TurnLog) -> None:
    svg_uri = "data:image/svg+xml,%3Csvg%20xmlns%3D%22http%3A//www.w3.org/2000/svg%22/%3E"
    log.record(TurnRecord(prompt="draw", prompt_images=[PNG_URI], images=[PNG_URI, "https://x/y.png"]))
    log.record(TurnRecord(prompt="again", images=[PNG_URI, svg_uri]))
    again, draw = log.recent()
    ref = draw.images[0]
    assert ref.startswith("sha256:") and len(ref) == len("sha256:") + 64
    assert draw.prompt_images == [ref] and draw.images == [ref, "https://x/y.png"]
    assert again.images[0] == ref and again.images[1].startswith("sha256:")
    assert log.image(ref) == ("image/png", PNG) and log.image_uri(ref) == PNG_URI
    assert log.image(again.images[1]) == ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert log.image_uri("https://x/y.png") == "https://x/y.png"
    assert log.image("sha256:" + "0" * 64) is None and log.image_uri("sha256:" + "0" * 64) is None
    db = sqlite3.connect(tmp_path / "log.db")
    assert db.execute("SELECT count(*) FROM images").fetchone()[0] == 2
    rows = db.execute("SELECT prompt_images || images FROM turns").fetchall()
    assert all("base64" not in row[0] for row in rows)


@pytest.mark.parametrize(
    ("image", "mime", "data"),
    [
        (PNG_URI, "image/png", PNG),
        ("data:;base64,aGk", "application/octet-stream", b"hi"),  # no type, padding left off
        ("data:image/png;name=a.png;base64,aG\nk=", "image/png", b"hi"),
        ("data:text/plain,a%20b", "text/plain", b"a b"),
        ("data:image/png;base64,@@@", "image/png", b"@@@"),  # not base64: kept byte for byte
    ],
)
def test_data_uris_become_bytes_under_their_hash(image: str, mime: str, data: bytes) -> None:
    split = split_image(image)
    assert split is not None and split[1:] == (mime, data)
    assert split[0] == "sha256:" + hashlib.sha256(data).hexdigest()


def test_urls_and_references_are_not_images_to_store() -> None:
    assert split_image("https://example.com/a.png") is None and split_image("sha256:abc") is None
    assert split_image("data:image/png;base64") is None  # no comma: not a data URI


def test_an_unknown_outcome_is_refused(log: TurnLog) -> None:
    with pytest.raises(ValueError, match="outcome must be one of done, interrupted, failed"):
        log.record(TurnRecord(prompt="x", outcome="maybe"))  # type: ignore[arg-type]
    assert log.safe_record(TurnRecord(prompt="x", outcome="maybe")) == (  # type: ignore[arg-type]
        "chat log: this turn was not logged (ValueError: outcome must be one of done, interrupted, "
        "failed, not 'maybe')"
    )
    assert log.recent() == []


# --- reading back -----------------------------------------------------------------------------


def test_recent_is_newest_first_per_thread_and_bounded(log: TurnLog) -> None:
    for i in range(5):
        log.record(TurnRecord(prompt=f"p{i}", thread="a" if i % 2 else "b"))
    assert [rec.prompt for rec in log.recent()] == ["p4", "p3", "p2", "p1", "p0"]
    assert [rec.prompt for rec in log.recent(2)] == ["p4", "p3"]
    assert [rec.prompt for rec in log.recent(0)] == ["p4", "p3", "p2", "p1", "p0"]
    assert [rec.prompt for rec in log.recent(thread="a")] == ["p3", "p1"]
    assert log.recent(thread="none") == []
    assert log.threads() == ["b", "a"]


def test_thread_turns_are_oldest_first_with_their_marks(log: TurnLog) -> None:
    tools = [{"role": "tool", "tool_call_id": "c1", "content": "42"}]
    log.record(TurnRecord(prompt="one", answer="1", thread="t", notebook="a.ipynb"))
    log.record(TurnRecord(prompt="elsewhere", thread="u"))
    log.record(TurnRecord(prompt="two", answer="2 and a ha", thread="t", outcome="interrupted"))
    log.record(TurnRecord(prompt="three", thread="t", outcome="failed", error="RateLimitError: slow"))
    log.record(TurnRecord(prompt="four", answer="42", thread="t", tool_messages=tools, notebook="a.ipynb"))
    turns = log.thread_turns("t")
    assert [(rec.prompt, rec.outcome) for rec in turns] == [
        ("one", "done"),
        ("two", "interrupted"),
        ("three", "failed"),
        ("four", "done"),
    ]
    assert turns[1].answer == "2 and a ha" and turns[2].error == "RateLimitError: slow"
    assert turns[3].tool_messages == tools
    assert [rec.prompt for rec in log.thread_turns("t", notebook="a.ipynb")] == ["one", "four"]
    assert log.thread_turns("missing") == []


@pytest.mark.skipif(not fts5_available(), reason="this Python's SQLite has no FTS5")
def test_search_uses_full_text_every_word_prefix_and_no_syntax(log: TurnLog) -> None:
    log.record(TurnRecord(prompt="Plot the running mean", answer="Here is a chart", thread="a"))
    log.record(TurnRecord(prompt="What is C++?", answer='A "language" (compiled)', thread="b"))
    log.record(TurnRecord(prompt="Unrelated", answer="Running late", thread="b"))
    assert [rec.prompt for rec in log.recent(search="running")] == ["Unrelated", "Plot the running mean"]
    assert [rec.prompt for rec in log.recent(search="run chart")] == ["Plot the running mean"]
    assert [rec.prompt for rec in log.recent(search="run", thread="b")] == ["Unrelated"]
    for hostile in ('"language" (compiled', "C++?", "NOT AND OR", "*", "lang:uage -x"):
        log.recent(search=hostile)  # none of it is read as FTS5 syntax
    assert [rec.prompt for rec in log.recent(search='"language" (compiled')] == ["What is C++?"]
    assert len(log.recent(search="   ")) == 3 and log.take_notes() == []


def test_search_without_fts5_uses_like_and_says_so_once(tmp_path: Path) -> None:
    turn_log = TurnLog(tmp_path / "log.db", search_index=False)
    turn_log.record(TurnRecord(prompt="100% sure", answer="of the snake_case name"))
    turn_log.record(TurnRecord(prompt="1000 sure", answer="of the snakeXcase name"))
    assert [rec.prompt for rec in turn_log.recent(search="0% SNAKE_")] == ["100% sure"]
    assert turn_log.take_notes() == ["chat log: no full-text index here, so search matches words with LIKE"]
    assert [rec.prompt for rec in turn_log.recent(search="sure")] == ["1000 sure", "100% sure"]
    assert turn_log.take_notes() == []
    turn_log.close()


@pytest.mark.skipif(not fts5_available(), reason="this Python's SQLite has no FTS5")
def test_a_build_without_fts5_pauses_the_index_and_fts5_rebuilds_it(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with TurnLog(path) as first:
        first.record(TurnRecord(prompt="written with the index"))
    with TurnLog(path, search_index=False) as without:
        without.record(TurnRecord(prompt="written while paused"))
        assert without.take_notes()[0].startswith("chat log: this Python's SQLite has no FTS5")
    with TurnLog(path, search_index=False) as again:
        again.recent()
        assert again.take_notes() == []  # paused once, not on every open
    with TurnLog(path) as rebuilt:
        assert [rec.prompt for rec in rebuilt.recent(search="paused")] == ["written while paused"]
        assert [rec.prompt for rec in rebuilt.recent(search="written")] == [
            "written while paused",
            "written with the index",
        ]
        assert rebuilt.take_notes() == ["chat log: the full-text index was rebuilt"]


# --- schema versions --------------------------------------------------------------------------


def test_a_file_upgrades_through_a_new_migration(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    now, later = len(MIGRATIONS), len(MIGRATIONS) + 1
    with TurnLog(path) as current:
        current.record(TurnRecord(prompt="from v1", model="m"))
    calls = []

    def m2_model_family(conn: sqlite3.Connection) -> None:
        calls.append(later)
        conn.execute("ALTER TABLE turns ADD COLUMN family TEXT NOT NULL DEFAULT ''")
        conn.execute("UPDATE turns SET family = model || '-family'")

    conn = sqlite3.connect(path, isolation_level=None)
    assert user_version(conn) == now
    assert migrate(conn, [*MIGRATIONS, m2_model_family]) == later
    assert migrate(conn, [*MIGRATIONS, m2_model_family]) == later and calls == [later]
    assert conn.execute("SELECT prompt, family FROM turns").fetchall() == [("from v1", "m-family")]
    conn.close()
    with TurnLog(path) as older_package:  # knows one version less: reads and writes the columns it knows
        older_package.record(TurnRecord(prompt="after v2"))
        assert [rec.prompt for rec in older_package.recent()] == ["after v2", "from v1"]
        assert older_package.take_notes() == [
            f"chat log: {path} has schema version {later}, newer than this openai_magic knows ({now}); "
            "it is used as it is"
        ]


def test_a_version_1_file_gets_in_thread_and_its_rows_count_as_joined(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, MIGRATIONS[:1]) == 1
    conn.execute(
        "INSERT INTO turns (time, thread, surface, provider, host, model, parameters, prompt, prompt_images,"
        " answer, reasoning, tool_messages, images, usage, outcome) VALUES"
        " (1, 'plan', 'magic', 'Demo', 'h', 'm', '{}', 'old turn', '[]', 'a', '', '[]', '[]', '{}', 'done')"
    )
    conn.close()
    with TurnLog(path) as log:
        log.record(TurnRecord(prompt="new, not joined", thread="plan", in_thread=False))
        assert [(r.prompt, r.in_thread) for r in log.thread_turns("plan")] == [
            ("old turn", True),
            ("new, not joined", False),
        ]
    check = sqlite3.connect(path)
    assert user_version(check) == 2
    check.close()


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with TurnLog(path) as current:
        current.record(TurnRecord(prompt="kept"))

    def m2_broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE turns ADD COLUMN half TEXT")
        raise RuntimeError("step two failed")

    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(RuntimeError, match="step two failed"):
        migrate(conn, [*MIGRATIONS, m2_broken])
    assert user_version(conn) == len(MIGRATIONS) and not conn.in_transaction
    assert "half" not in {row[1] for row in conn.execute("PRAGMA table_info(turns)")}
    conn.close()


# --- a broken log is one line, never a failed turn --------------------------------------------


def test_a_corrupt_file_is_one_warning_line(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    path.write_bytes(b"this is not a database " * 400)
    turn_log = TurnLog(path)
    warning = turn_log.safe_record(TurnRecord(prompt="x"))
    assert warning == (
        f"chat log: {path} is not a readable SQLite database (damaged?); no turn is logged: "
        "set OPENAI_MAGIC_LOG=PATH to log elsewhere, or OPENAI_MAGIC_LOG=0 to turn the log off"
    )
    assert turn_log.safe_record(TurnRecord(prompt="y")) == warning  # still failing, still one line
    assert path.read_bytes() == b"this is not a database " * 400  # nothing overwritten


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` unwritable, also for root (which ignores permission bits): chattr +i there."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root where chattr +i is not available: cannot make a read-only directory")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_directory_is_one_warning_line(tmp_path: Path) -> None:
    fresh, existing = tmp_path / "fresh", tmp_path / "existing"
    fresh.mkdir()
    with TurnLog(existing / "log.db") as earlier:
        earlier.record(TurnRecord(prompt="before it became read-only"))
    for directory in (fresh, existing):
        path = directory / "log.db"
        with read_only(directory):
            warning = TurnLog(path).safe_record(TurnRecord(prompt="x"))
        assert warning == (
            f"chat log: cannot write {path} (read-only?); turns are not logged: "
            "set OPENAI_MAGIC_LOG=PATH to log elsewhere, or OPENAI_MAGIC_LOG=0 to turn the log off"
        )
    with TurnLog(existing / "log.db") as later:
        assert [rec.prompt for rec in later.recent()] == ["before it became read-only"]


def test_a_missing_parent_that_is_a_file_is_one_warning_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "log.db"
    assert TurnLog(path).safe_record(TurnRecord(prompt="x")) == (
        f"chat log: cannot write {path} (read-only?); turns are not logged: "
        "set OPENAI_MAGIC_LOG=PATH to log elsewhere, or OPENAI_MAGIC_LOG=0 to turn the log off"
    )


def test_a_write_lock_held_past_the_timeout_is_one_warning_line(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with TurnLog(path) as first:
        first.record(TurnRecord(prompt="first"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute(
        "INSERT INTO turns (time, thread, surface, provider, host, model, parameters, prompt,"
        " prompt_images, answer, reasoning, tool_messages, images, usage, outcome)"
        " VALUES (1, 'default', 'api', '', '', '', '{}', 'other', '[]', '', '', '[]', '[]', '{}', 'done')"
    )
    turn_log = TurnLog(path, timeout=0.05)
    assert turn_log.safe_record(TurnRecord(prompt="blocked")) == (
        f"chat log: {path} is locked by another process (waited 0.05 s); this turn was not logged"
    )
    assert [rec.prompt for rec in turn_log.recent()] == ["first"]  # readers are not blocked (WAL)
    other.execute("COMMIT")
    assert turn_log.safe_record(TurnRecord(prompt="after")) is None
    assert [rec.prompt for rec in turn_log.recent()] == ["after", "other", "first"]
    other.close()
    turn_log.close()


def test_a_full_disk_is_one_warning_line(log: TurnLog) -> None:
    log.record(TurnRecord(prompt="fits"))
    # SQLite reports a database past max_page_count exactly as a full disk (SQLITE_FULL).
    conn = log._connection()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    assert log.safe_record(TurnRecord(prompt="big", answer="x" * 200_000)) == (
        f"chat log: the disk holding {log.path} is full; this turn was not logged"
    )
    assert not conn.in_transaction
    assert [rec.prompt for rec in log.recent()] == ["fits"]


# --- many writers -----------------------------------------------------------------------------

WRITER = """
import sys
from openai_magic.notebook.log import TurnLog, TurnRecord
path, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()  # start together: every writer opens the new file and migrates it at once
log = TurnLog(path)
for i in range(count):
    log.record(TurnRecord(prompt=f"{tag} {i}", answer="a" * 500, thread=tag, surface="api"))
log.close()
print("done", flush=True)
"""


def test_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path, writers, count = tmp_path / "shared" / "log.db", 3, 150
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), f"w{n}", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out == "done\n"
    with TurnLog(path) as turn_log:
        rows = turn_log.recent(0)
        assert len(rows) == writers * count
        assert {rec.prompt for rec in rows} == {f"w{n} {i}" for n in range(writers) for i in range(count)}
        for n in range(writers):  # each writer's rows are in the order it wrote them
            assert [rec.prompt for rec in turn_log.thread_turns(f"w{n}")] == [
                f"w{n} {i}" for i in range(count)
            ]


def test_threads_sharing_one_log_lose_nothing(log: TurnLog) -> None:
    start = threading.Barrier(4)

    def write(tag: str) -> None:
        start.wait()
        for i in range(50):
            assert log.safe_record(TurnRecord(prompt=f"{tag} {i}", thread=tag)) is None

    workers = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(log.recent(0)) == 200 and sorted(log.threads()) == ["t0", "t1", "t2", "t3"]


# --- presentation -----------------------------------------------------------------------------


def test_as_table_markdown_and_plain_newest_first(log: TurnLog) -> None:
    log.record(TurnRecord(prompt="first | with a pipe", model="m1", usage={"total_tokens": 9}, time=100.0))
    log.record(full_record(prompt="second  line\nand `code` $x$ <b>" + " more" * 20, time=200.0))
    markdown, plain = as_table(list(reversed(log.recent())))  # given oldest first, shown newest first
    md_lines = markdown.splitlines()
    local = datetime.fromtimestamp(100.0).strftime("%Y-%m-%d %H:%M:%S")  # the table shows local time
    assert md_lines[0] == "| # | time | thread | model | outcome | tokens | prompt |"
    assert md_lines[1] == "|---:|---|---|---|---|---:|---|"
    assert "| ideas | demo-chat | interrupted (replayed) | 15 |" in md_lines[2]
    assert md_lines[2].endswith(r"| second line and \`code\` \$x\$ \<b\> more more more more more mor… |")
    assert md_lines[3].startswith(f"| 1 | {local} | default ") and md_lines[3].endswith(
        r"| m1 | done | 9 | first \| with a pipe |"
    )
    text_lines = plain.splitlines()
    assert text_lines[0].split() == ["#", "time", "thread", "model", "outcome", "tokens", "prompt"]
    column = {name: text_lines[0].index(name) for name in ("model", "outcome", "prompt")}
    assert text_lines[1].split() == ["-" * len(cell) for cell in text_lines[1].split()]
    assert text_lines[3].startswith(f"1  {local}  default  m1 ")
    assert text_lines[3][column["outcome"] :].startswith("done ")
    tokens_end = text_lines[0].index("tokens") + len("tokens")
    assert text_lines[3][tokens_end - 2 :] == " 9  first | with a pipe"  # numbers right-aligned
    assert text_lines[2][column["prompt"] :] == "second line and `code` $x$ <b> more more more more more mor…"
    assert as_table([])[0].count("\n") == 1


def test_as_json_is_json_ready(log: TurnLog) -> None:
    log.record(full_record())
    (data,) = as_json(log.recent())
    assert data["time"] == "2023-11-14T22:13:20.123456+00:00"
    assert data["prompt"] == "Summarize the report" and data["usage"]["total_tokens"] == 15
    assert set(data) == {f.name for f in dataclasses.fields(TurnRecord)}
    assert json.loads(json.dumps(data)) == data
