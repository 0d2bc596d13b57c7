"""The turn log's SQLite schema: ordered migrations, the full-text index, images stored once.

The schema version lives in `PRAGMA user_version`; `MIGRATIONS[i]` takes a file from version `i`
to `i + 1`, so a schema change is one function appended to the list (docs/log.md lists them).
The FTS5 index is derived data kept beside the schema rather than in a migration: it is created
(and rebuilt from the rows) where the SQLite build has FTS5, and its triggers are dropped where it
does not, so one file works under both kinds of build.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from urllib.parse import unquote_to_bytes

Migration = Callable[[sqlite3.Connection], None]

IMAGE_REF = "sha256:"


def _m1_base(conn: sqlite3.Connection) -> None:
    """Version 1: one row per turn, and images stored once by content hash."""
    conn.execute(
        """CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            thread TEXT NOT NULL,
            notebook TEXT,
            surface TEXT NOT NULL,
            provider TEXT NOT NULL,
            host TEXT NOT NULL,
            model TEXT NOT NULL,
            system TEXT,
            parameters TEXT NOT NULL,
            prompt TEXT NOT NULL,
            prompt_images TEXT NOT NULL,
            answer TEXT NOT NULL,
            reasoning TEXT NOT NULL,
            tool_messages TEXT NOT NULL,
            images TEXT NOT NULL,
            usage TEXT NOT NULL,
            first_token REAL,
            duration REAL,
            outcome TEXT NOT NULL,
            error TEXT,
            replayed INTEGER NOT NULL DEFAULT 0
        )"""
    )
    conn.execute("CREATE INDEX turns_by_thread ON turns (thread, id)")
    conn.execute("CREATE TABLE images (sha256 TEXT PRIMARY KEY, mime TEXT NOT NULL, data BLOB NOT NULL)")


def _m2_in_thread(conn: sqlite3.Connection) -> None:
    """Version 2: whether the turn joined its thread (not `--no-history`, an image, a compare, a failure
    with no text), so a restore rebuilds the thread that was. Older rows count as joined."""
    conn.execute("ALTER TABLE turns ADD COLUMN in_thread INTEGER NOT NULL DEFAULT 1")


MIGRATIONS: list[Migration] = [_m1_base, _m2_in_thread]


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so a busy file makes SQLite wait (busy timeout)
    instead of failing when a read transaction tries to become a write one.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT (disk full) may have rolled back already
            conn.execute("ROLLBACK")
        raise


def use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Put the file in WAL mode (readers never block the writer; it stays set in the file).

    Switching a new file needs its exclusive lock, and SQLite gives up on that at once, without
    its busy handler, when another process is opening the same new file: so retry, but only
    within the connection's own busy timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            # Returns the mode kept instead where the file system cannot do WAL: the log works on.
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if (
                not getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY")
                or time.monotonic() > deadline
            ):
                raise
        time.sleep(0.005)


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the file (0 for a new, empty database)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the migrations the file lacks, all in one write transaction; return the version.

    The version is read again once the write lock is held, so two kernels opening a new file
    at the same moment run each step exactly once. `conn` must be in autocommit mode.
    """
    if user_version(conn) >= len(migrations):
        return user_version(conn)
    with write_transaction(conn):
        version = user_version(conn)
        for number in range(version + 1, len(migrations) + 1):
            migrations[number - 1](conn)
            conn.execute(f"PRAGMA user_version = {number}")
    return max(version, len(migrations))


@cache
def fts5_available() -> bool:
    """Whether this Python's SQLite was built with FTS5 (tried, not guessed from compile options)."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE probe USING fts5(text)")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


_FTS_TRIGGERS = ("turns_fts_insert", "turns_fts_delete", "turns_fts_update")
_FTS_CREATE = (
    """CREATE VIRTUAL TABLE IF NOT EXISTS turns_fts
        USING fts5(prompt, answer, content='turns', content_rowid='id')""",
    """CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
        INSERT INTO turns_fts (rowid, prompt, answer) VALUES (new.id, new.prompt, new.answer);
    END""",
    """CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
        INSERT INTO turns_fts (turns_fts, rowid, prompt, answer)
        VALUES ('delete', old.id, old.prompt, old.answer);
    END""",
    """CREATE TRIGGER turns_fts_update AFTER UPDATE OF prompt, answer ON turns BEGIN
        INSERT INTO turns_fts (turns_fts, rowid, prompt, answer)
        VALUES ('delete', old.id, old.prompt, old.answer);
        INSERT INTO turns_fts (rowid, prompt, answer) VALUES (new.id, new.prompt, new.answer);
    END""",
    "INSERT INTO turns_fts (turns_fts) VALUES ('rebuild')",
)


def ensure_search_index(conn: sqlite3.Connection, fts5: bool) -> str | None:
    """Make the full-text index match what this build can do; return a note when that changed it.

    With FTS5: create the index and its triggers where any is missing, rebuilding it from every
    row (so rows written meanwhile by an FTS5-less build get indexed). Without FTS5: drop the
    triggers, which could not run here, so that rows can still be written. Checked again under
    the write lock, so two kernels opening one file do the work once.
    """
    if _settled(_search_state(conn), fts5):
        return None
    with write_transaction(conn):
        state = _search_state(conn)
        if not _settled(state, fts5):
            for name in _FTS_TRIGGERS:
                conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            for statement in _FTS_CREATE if fts5 else ():
                conn.execute(statement)
    if _settled(state, fts5):
        return None
    if fts5:
        return "chat log: the full-text index was rebuilt" if state == "paused" else None
    return (
        "chat log: this Python's SQLite has no FTS5, so the full-text index is paused "
        "(a Python whose SQLite has FTS5 rebuilds it when it opens the log)"
    )


def _search_state(conn: sqlite3.Connection) -> str:
    """'whole' (index and triggers), 'none' (neither), 'paused' (index, no triggers) or 'partial'."""
    names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'turns_fts%'")}
    triggers = names & set(_FTS_TRIGGERS)
    if "turns_fts" in names and len(triggers) == len(_FTS_TRIGGERS):
        return "whole"
    if not triggers:
        return "paused" if "turns_fts" in names else "none"
    return "partial"


def _settled(state: str, fts5: bool) -> bool:
    """Whether the index is as this build wants it: whole with FTS5, trigger-free without."""
    return state == "whole" if fts5 else state in ("none", "paused")


def has_search_index(conn: sqlite3.Connection) -> bool:
    """Whether the file carries a usable full-text index (the table and its triggers)."""
    return _search_state(conn) == "whole"


def fts_query(text: str) -> str:
    """`text` as an FTS5 query: every word must start a word of the row; no character is syntax."""
    return " ".join('"' + word.replace('"', '""') + '"*' for word in text.split())


def like_terms(text: str) -> list[str]:
    """`text` as LIKE patterns (one per word, `\\` escapes) for builds without FTS5."""
    escaped = (word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for word in text.split())
    return [f"%{word}%" for word in escaped]


def split_image(image: str) -> tuple[str, str, bytes] | None:
    """A `data:` URI as (`sha256:<hex>` reference, mime type, bytes); None for anything else.

    URLs (https://...) and references already stored are kept as they are: the log records
    which URL was shown, it does not download it.
    """
    if not image.startswith("data:") or "," not in image:
        return None
    header, payload = image[5:].split(",", 1)
    mime, _, flags = header.partition(";")
    if flags.split(";")[-1].strip().lower() == "base64":
        compact = "".join(payload.split())
        try:
            data = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        except binascii.Error:  # not base64 after all: keep what was sent, byte for byte
            data = payload.encode("utf-8", "surrogateescape")
    else:
        data = unquote_to_bytes(payload)
    return IMAGE_REF + hashlib.sha256(data).hexdigest(), mime.strip() or "application/octet-stream", data


__all__ = [
    "IMAGE_REF",
    "MIGRATIONS",
    "Migration",
    "ensure_search_index",
    "fts5_available",
    "fts_query",
    "has_search_index",
    "like_terms",
    "migrate",
    "split_image",
    "use_wal",
    "user_version",
    "write_transaction",
]
