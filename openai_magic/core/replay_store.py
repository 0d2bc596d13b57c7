"""A replay file on disk: read lazily and indexed by fingerprint; written under a lock file, whole.

Every write takes an exclusive lock on a hidden lock file beside the replay file (so kernels
recording into one file at once take turns), reads the file, replaces the line of the same
fingerprint in place or appends a new one, and swaps the new content in with `os.replace`. A reader
(which takes no lock) therefore always sees a whole file, and re-reads it only when it changed.
Written by hand: the standard library has no file lock, and `filelock` would be one more dependency
for twenty lines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator

from . import replay_codec as codec

logger = logging.getLogger("openai_magic.replay")

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _acquire(fd: int) -> None:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # gives up after 10 s: try again
                return
            except OSError:
                continue

    def _release(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _acquire(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _acquire(fd)
        try:
            yield
        finally:
            _release(fd)
    finally:
        os.close(fd)


Signature = tuple[int, int, int]  # inode, size, modification time (ns): "the same file content"


def _signature(stat: os.stat_result) -> Signature:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


class ReplayFile:
    """One replay file: `get` an exchange by fingerprint, `put` one (replacing its earlier recording)."""

    def __init__(self, path: str) -> None:
        self.path = path  # absolute; symbolic links resolved (the file replaced is the real one)
        folder, name = os.path.split(path)
        self.lock_path = os.path.join(folder, f".{name}.lock")
        self.problem = ""  # why the file could not be read, for the miss message
        self._lock = threading.Lock()
        self._entries: dict[str, codec.Entry] = {}
        self._signature: Signature | None = None  # of the content `_entries` was read from
        self._warned: tuple[int, int] | None = None

    def get(self, fingerprint: str) -> codec.Entry | None:
        """The recorded exchange of `fingerprint`, reading the file again only when it changed."""
        with self._lock:
            self._refresh()
            return self._entries.get(fingerprint)

    def _refresh(self) -> None:
        try:
            with open(self.path, "rb") as file:
                signature = _signature(os.fstat(file.fileno()))
                if signature == self._signature:
                    return
                data = file.read()
        except FileNotFoundError:
            self._entries, self._signature, self.problem = {}, None, "the file does not exist yet"
            return
        except OSError as exc:
            self._entries, self._signature = {}, None
            self.problem = f"the file cannot be read: {exc.strerror or type(exc).__name__}"
            return
        self._index(data, signature)

    def _index(self, data: bytes, signature: Signature) -> None:
        entries: dict[str, codec.Entry] = {}
        bad: list[tuple[int, str]] = []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                entry = codec.parse(raw)
            except ValueError as exc:
                bad.append((number, str(exc)))
                continue
            entries[entry["fingerprint"]] = entry  # a duplicate (a merge of two files): the last wins
        self._entries, self._signature, self.problem = entries, signature, ""
        warned = (len(bad), bad[0][0]) if bad else None
        if bad and warned != self._warned:
            number, reason = bad[0]
            logger.warning(
                "openai_magic: skipped %d unreadable line(s) of the replay file %s (line %d: %s); "
                "they stay in the file but are never replayed",
                len(bad),
                self.path,
                number,
                reason,
            )
        self._warned = warned

    def put(self, fingerprint: str, line: bytes) -> None:
        """Write `line` (one exchange, newline-terminated) in place of the line of `fingerprint`, or
        at the end; raises OSError when the file cannot be written."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with self._lock, _locked(self.lock_path):
            try:
                with open(self.path, "rb") as file:
                    before: Signature | None = _signature(os.fstat(file.fileno()))
                    data = file.read()
            except FileNotFoundError:
                before, data = None, b""
            content = _replaced(data, fingerprint, line)
            _write_atomically(self.path, content)
            after = _signature(os.stat(self.path))
            if before is not None and before == self._signature:
                # Nobody else wrote since we read it: only our line is new.
                self._entries[fingerprint] = codec.parse(line)
                self._signature = after
            else:
                self._index(content, after)


def _replaced(data: bytes, fingerprint: str, line: bytes) -> bytes:
    """`data` with the line of `fingerprint` replaced by `line` (in its place), or `line` appended."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    needle = fingerprint.encode()
    kept: list[bytes] = []
    placed = False
    for raw in lines:
        if needle in raw and _fingerprint_of(raw) == fingerprint:
            if not placed:
                kept.append(line.rstrip(b"\n"))
                placed = True
            continue  # any further copy of it goes
        kept.append(raw)  # other exchanges, and unreadable lines, stay as they are
    if not placed:
        kept.append(line.rstrip(b"\n"))
    return b"\n".join(kept) + b"\n"


def _fingerprint_of(raw: bytes) -> str | None:
    try:
        return codec.parse(raw)["fingerprint"]  # type: ignore[no-any-return]
    except ValueError:
        return None


def _write_atomically(path: str, content: bytes) -> None:
    """Write `content` to a new file beside `path`, then swap it in (readers see old or new, whole)."""
    folder = os.path.dirname(path)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.urandom(8).hex()}.tmp")
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


_files: dict[str, ReplayFile] = {}
_files_lock = threading.Lock()


def _reset_after_fork() -> None:
    # A lock held by another thread at the fork stays held in the child: start afresh there.
    global _files_lock
    _files.clear()
    _files_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def open_file(path: str) -> ReplayFile:
    """The `ReplayFile` of `path` (one per real path in this process, so its index is shared)."""
    real = os.path.realpath(os.path.expanduser(path))
    with _files_lock:
        found = _files.get(real)
        if found is None:
            found = _files[real] = ReplayFile(real)
        return found


__all__ = ["ReplayFile", "open_file"]
