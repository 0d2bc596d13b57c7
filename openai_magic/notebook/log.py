"""The local SQLite log of every turn, from every surface (schema and file location: docs/log.md).

Usage::

    from openai_magic.notebook.log import TurnLog, TurnRecord, default_path

    path = default_path()                    # None when OPENAI_MAGIC_LOG=0 turns the log off
    log = TurnLog(path)                      # opens the file on first use, migrates it, WAL mode
    warning = log.safe_record(TurnRecord(prompt="Hi", answer="Hello!", model="demo-chat"))
    if warning:
        print(warning)                       # one line; the turn itself has not failed
    log.recent(10, search="hello")           # newest first, FTS5 full-text search
    log.thread_turns("default")              # oldest first: what restoring a thread needs
    markdown, text = as_table(log.recent())  # or as_json(...)

There is no field for a key or a header: the log cannot store what it is never given. A base URL
is reduced to its host (userinfo dropped); images sent as `data:` URIs are stored once in a
table of their own and the row keeps a `sha256:<hex>` reference (see `image`, `image_uri`).
Stdlib only (no IPython, no httpx), so scripts and the core API can log too.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from ..core.media import data_uri  # stdlib only, like this module
from .log_schema import (
    IMAGE_REF,
    MIGRATIONS,
    ensure_search_index,
    fts5_available,
    fts_query,
    has_search_index,
    like_terms,
    migrate,
    split_image,
    use_wal,
    write_transaction,
)
from .log_view import as_json, as_table

Outcome = Literal["done", "interrupted", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("done", "interrupted", "failed")
ENV = "OPENAI_MAGIC_LOG"
_OFF = {"0", "off", "false", "no"}
_DEFAULT = {"", "1", "on", "true", "yes"}


@dataclass(kw_only=True)
class TurnRecord:
    """One exchange as it ended: what was asked, what came back, how, and how it ended."""

    prompt: str
    answer: str = ""
    thread: str = "default"
    model: str = ""
    provider: str = ""  # the preset's label ("OpenAI", "Demo", "custom"), never a credential
    host: str = ""  # host[:port] of the base URL; `record` drops any user:password@ defensively
    surface: str = "magic"  # "magic", "panel", "compare", "api", ...
    notebook: str | None = None
    system: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # temperature, max_tokens, ...
    prompt_images: list[str] = field(default_factory=list)  # data: URIs or URLs sent with the prompt
    reasoning: str = ""
    tool_messages: list[dict[str, Any]] = field(default_factory=list)  # OpenAI-format, in order
    images: list[str] = field(default_factory=list)  # images the answer returned
    usage: dict[str, Any] = field(default_factory=dict)  # as the server reported it
    first_token: float | None = None  # seconds from sending to the first text
    duration: float | None = None  # seconds from sending to the end
    outcome: Outcome = "done"
    error: str | None = None  # the one error line shown to the user
    replayed: bool = False
    in_thread: bool = True  # the turn joined its thread (a restore brings back only those)
    time: float = field(default_factory=time.time)  # Unix epoch seconds when the turn started
    id: int | None = None  # set on records read back from the log

    @property
    def tokens(self) -> int | None:
        """Total tokens the server reported for the turn, None when it reported none."""
        total = self.usage.get("total_tokens")
        if isinstance(total, int) and not isinstance(total, bool) and total > 0:
            return total
        parts = [self.usage.get(name) for name in ("prompt_tokens", "completion_tokens")]
        counted = [part for part in parts if isinstance(part, int) and not isinstance(part, bool)]
        return sum(counted) or None


_COLUMNS = tuple(f.name for f in fields(TurnRecord) if f.name != "id")
_JSON_COLUMNS = {"parameters", "prompt_images", "tool_messages", "images", "usage"}
_INSERT = f"INSERT INTO turns ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_SELECT = f"SELECT turns.id, {', '.join('turns.' + name for name in _COLUMNS)} FROM turns"


def default_path(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path | None:
    """Where the log lives: `$OPENAI_MAGIC_LOG` if it is a path, None if it is 0/off/false/no,
    otherwise `openai_magic/log.db` in the per-user data directory of this platform."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    value = env.get(ENV, "").strip()
    if value.lower() in _OFF:
        return None
    if value.lower() not in _DEFAULT:
        return Path(value).expanduser().absolute()
    if platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "openai_magic" / "log.db"


def url_host(url: str) -> str:
    """host[:port] of a base URL or bare host: never its user, password, path or query."""
    text = url.strip()
    return urlsplit(text if "://" in text else "//" + text).netloc.rpartition("@")[2]


class TurnLog:
    """The turn log in one SQLite file, opened on first use; safe to share between threads.

    `timeout` is how long a write waits for another process's write lock; `search_index=None`
    uses FTS5 where this SQLite has it (False: never, and search falls back to LIKE).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 2.0, search_index: bool | None = None
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._fts = fts5_available() if search_index is None else search_index and fts5_available()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._indexed = False
        self._lock = threading.RLock()
        self._notes: list[str] = []
        self._like_noted = False

    def __repr__(self) -> str:
        return f"TurnLog({str(self.path)!r})"

    def __enter__(self) -> TurnLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross os.fork(): a child process opens its own.
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        try:
            use_wal(conn, self.timeout)
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable across crashes, no fsync per turn
            version = migrate(conn)
            if version > len(MIGRATIONS):
                self._notes.append(
                    f"chat log: {self.path} has schema version {version}, newer than this "
                    f"openai_magic knows ({len(MIGRATIONS)}); it is used as it is"
                )
            if note := ensure_search_index(conn, self._fts):
                self._notes.append(note)
            self._indexed = self._fts and has_search_index(conn)
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def record(self, rec: TurnRecord) -> int:
        """Write one turn (and any new images) in one transaction; return its id. Raises on failure."""
        if rec.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {rec.outcome!r}")
        blobs: list[tuple[str, str, bytes]] = []

        def stored(images: list[str]) -> list[str]:
            refs = []
            for image in images:
                split = split_image(image)
                if split:
                    blobs.append(split)
                refs.append(split[0] if split else image)
            return refs

        values = {name: getattr(rec, name) for name in _COLUMNS}
        values.update(host=url_host(rec.host), replayed=int(rec.replayed), in_thread=int(rec.in_thread))
        values.update(prompt_images=stored(rec.prompt_images), images=stored(rec.images))
        row = [_dump(values[name]) if name in _JSON_COLUMNS else values[name] for name in _COLUMNS]
        with self._lock:
            conn = self._connection()
            with write_transaction(conn):
                conn.executemany("INSERT OR IGNORE INTO images (sha256, mime, data) VALUES (?, ?, ?)", blobs)
                cursor = conn.execute(_INSERT, row)
        return int(cast(int, cursor.lastrowid))

    def safe_record(self, rec: TurnRecord) -> str | None:
        """`record`, but a failure is returned as one warning line: logging never fails a turn."""
        try:
            self.record(rec)
        except Exception as exc:  # any failure: the turn has ended well or badly on its own already
            return failure_line(self.path, exc, self.timeout)
        return None

    def recent(self, n: int = 20, thread: str | None = None, search: str | None = None) -> list[TurnRecord]:
        """The last `n` turns (every turn when n <= 0), newest first, of one thread or all,
        optionally only those whose prompt or answer holds every word of `search`."""
        with self._lock:
            conn = self._connection()
            sql, where, args = _SELECT, list[str](), list[Any]()
            if search and search.split() and self._indexed:
                sql += " JOIN turns_fts ON turns_fts.rowid = turns.id"
                where.append("turns_fts MATCH ?")
                args.append(fts_query(search))
            elif search and search.split():
                for term in like_terms(search):
                    where.append("(turns.prompt LIKE ? ESCAPE '\\' OR turns.answer LIKE ? ESCAPE '\\')")
                    args += [term, term]
                if not self._like_noted:
                    self._like_noted = True
                    self._notes.append("chat log: no full-text index here, so search matches words with LIKE")
            if thread is not None:
                where.append("turns.thread = ?")
                args.append(thread)
            sql += "".join(f" {'WHERE' if i == 0 else 'AND'} {clause}" for i, clause in enumerate(where))
            sql += " ORDER BY turns.id DESC" + (" LIMIT ?" if n > 0 else "")
            rows = conn.execute(sql, [*args, n] if n > 0 else args).fetchall()
        return [_record(row) for row in rows]

    def thread_turns(self, name: str, notebook: str | None = None) -> list[TurnRecord]:
        """Every turn of thread `name` (of one notebook, if given), oldest first."""
        sql, args = _SELECT + " WHERE thread = ?", [name]
        if notebook is not None:
            sql, args = sql + " AND notebook = ?", [*args, notebook]
        with self._lock:
            rows = self._connection().execute(sql + " ORDER BY id", args).fetchall()
        return [_record(row) for row in rows]

    def threads(self) -> list[str]:
        """The names of the logged threads, the most recently used first."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT thread FROM turns GROUP BY thread ORDER BY max(id) DESC"
            )
            return [name for (name,) in rows.fetchall()]

    def image(self, ref: str) -> tuple[str, bytes] | None:
        """(mime type, bytes) of a stored `sha256:<hex>` image reference, None if it is not stored."""
        if not ref.startswith(IMAGE_REF):
            return None
        with self._lock:
            row = (
                self._connection().execute("SELECT mime, data FROM images WHERE sha256 = ?", [ref]).fetchone()
            )
        return (str(row[0]), bytes(row[1])) if row else None

    def image_uri(self, ref: str) -> str | None:
        """A reference as something to display: a `data:` URI, or the URL it already is."""
        if not ref.startswith(IMAGE_REF):
            return ref
        found = self.image(ref)
        return data_uri(found[1], found[0]) if found else None

    def take_notes(self) -> list[str]:
        """One-time notes (search falls back to LIKE, index rebuilt, newer schema); each given once."""
        with self._lock:
            notes, self._notes = self._notes, []
        return notes

    def close(self) -> None:
        """Close the file; the next call opens it again."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def failure_line(path: Path, exc: BaseException, timeout: float) -> str:
    """The one warning line for a log that could not be written (says why and what to do)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    code = getattr(exc, "errno", None)
    elsewhere = f"set {ENV}=PATH to log elsewhere, or {ENV}=0 to turn the log off"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return (
            f"chat log: {path} is locked by another process (waited {timeout:g} s); this turn was not logged"
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return (
            f"chat log: {path} is not a readable SQLite database (damaged?); no turn is logged: {elsewhere}"
        )
    if name.startswith("SQLITE_FULL") or code == errno.ENOSPC:
        return f"chat log: the disk holding {path} is full; this turn was not logged"
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or isinstance(exc, OSError):
        return f"chat log: cannot write {path} (read-only?); turns are not logged: {elsewhere}"
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"chat log: this turn was not logged ({type(exc).__name__}: {detail})"


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _record(row: tuple[Any, ...]) -> TurnRecord:
    values = dict(zip(("id", *_COLUMNS), row, strict=True))
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name])
    values["replayed"] = bool(values["replayed"])
    values["in_thread"] = bool(values["in_thread"])
    return TurnRecord(**values)


__all__ = [
    "ENV",
    "OUTCOMES",
    "Outcome",
    "TurnLog",
    "TurnRecord",
    "as_json",
    "as_table",
    "default_path",
    "failure_line",
    "url_host",
]
