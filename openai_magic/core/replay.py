"""Record and replay: answers written to a replay file, and read back instead of asking the provider.

    from openai_magic import replay

    with replay.use("talk.replay.jsonl", mode="auto"):
        Demo.chat("hello")  # asks the model and records the answer the first time, replays it after

Modes: "record" (ask the provider, write what came back, replacing an earlier recording of the same
request), "replay" (never touch the network: an unrecorded request raises `ReplayMissError`),
"auto" (replay what is recorded, record the rest), "off". `speed` scales the recorded pace of a
replayed reply: 1.0 as recorded, 2.0 twice as fast, 0 at once.

The settings in effect come, field by field, from the innermost `use()` (a context manager scoped to
the current thread or async task and what it starts, sync calls through the bridge included), then
`configure()` (the process), then the environment: `OPENAI_MAGIC_REPLAY` (the file),
`OPENAI_MAGIC_REPLAY_MODE` (default "auto" when a file is set), `OPENAI_MAGIC_REPLAY_SPEED`.

The core applies them under every request: chat (streamed or not), images, model listings and each
step of a tool loop. A replayed reply starts with a `responses.Replayed` item. Failed requests are
never recorded. The file format and the fingerprint: docs/replay.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from . import replay_codec as codec
from . import replay_store
from .errors import ReplayMissError
from .responses import Replayed
from .secret import Secret

Mode = Literal["record", "replay", "auto", "off"]
MODES: tuple[Mode, ...] = get_args(Mode)
ENV_PATH, ENV_MODE, ENV_SPEED = "OPENAI_MAGIC_REPLAY", "OPENAI_MAGIC_REPLAY_MODE", "OPENAI_MAGIC_REPLAY_SPEED"

logger = logging.getLogger("openai_magic.replay")


@dataclass(frozen=True)
class Settings:
    """The replay settings in effect: the file (as given; None when none), the mode and the speed."""

    path: str | None
    mode: Mode
    speed: float


@dataclass(frozen=True)
class _Layer:
    """One source of settings; None fields are taken from the sources below it."""

    path: str | None = None
    mode: Mode | None = None
    speed: float | None = None

    def over(self, below: _Layer) -> _Layer:
        return _Layer(
            self.path if self.path is not None else below.path,
            self.mode if self.mode is not None else below.mode,
            self.speed if self.speed is not None else below.speed,
        )


_NOTHING = _Layer()  # frozen: shared safely
_scoped: ContextVar[_Layer] = ContextVar("openai_magic_replay", default=_NOTHING)
_configured = _NOTHING


def _layer(path: Any, mode: Any, speed: Any, where: str = "") -> _Layer:
    """Checked settings (`where` names the environment variable a bad value came from)."""
    if path is not None:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"the replay file must be a path (str or os.PathLike), not {type(path).__name__}")
        path = os.fspath(path)
        if not path:
            path = None
    if isinstance(mode, str):
        mode = mode.strip().lower() or None
    if mode is not None and mode not in MODES:
        raise ValueError(f"{where or 'replay mode'} must be one of {', '.join(MODES)}, not {mode!r}")
    if speed is not None:
        if isinstance(speed, bool) or not isinstance(speed, int | float):
            raise TypeError(f"{where or 'replay speed'} must be a number, not {type(speed).__name__}")
        if not speed >= 0:  # nan too
            raise ValueError(f"{where or 'replay speed'} must be 0 (at once) or more, not {speed!r}")
        speed = float(speed)
    return _Layer(path, cast(Mode | None, mode), speed)


def _from_environment(layer: _Layer) -> _Layer:
    """`layer` with its unset fields from the environment (a bad value there is a ValueError, only
    when that field is needed)."""
    path, mode, speed = layer.path, layer.mode, layer.speed
    if path is None:
        path = _layer(os.environ.get(ENV_PATH), None, None).path
    if mode is None:
        mode = _layer(None, os.environ.get(ENV_MODE), None, ENV_MODE).mode
    if speed is None:
        text = os.environ.get(ENV_SPEED, "").strip()
        try:
            number = float(text) if text else None
        except ValueError:
            raise ValueError(f"{ENV_SPEED} must be a number of at least 0, not {text!r}") from None
        speed = _layer(None, None, number, ENV_SPEED).speed
    return _Layer(path, mode, speed)


def current() -> Settings:
    """The settings in effect here: `use()` over `configure()` over the environment, field by field."""
    merged = _from_environment(_scoped.get().over(_configured))
    mode: Mode = merged.mode or ("auto" if merged.path else "off")
    return Settings(merged.path, mode, 1.0 if merged.speed is None else merged.speed)


@contextlib.contextmanager
def use(
    path: str | os.PathLike[str] | None = None, mode: Mode = "replay", speed: float | None = None
) -> Iterator[Settings]:
    """Replay settings for the code inside the `with` (this thread or async task, and what it starts).

    `path` None keeps the file set by an outer `use()`, `configure()` or the environment; `speed`
    None keeps theirs (1.0 when none is set). Yields the settings then in effect.
    """
    layer = _layer(path, mode, speed)
    token = _scoped.set(layer.over(_scoped.get()))
    try:
        yield current()
    finally:
        _scoped.reset(token)


def configure(
    path: str | os.PathLike[str] | None = None, mode: Mode | None = None, speed: float | None = None
) -> Settings:
    """The process-wide settings (what `%config` and `%chat_replay` set); each call replaces the last.

    A None field is taken from the environment; `configure()` alone goes back to the environment.
    `configure(mode="off")` turns replay off whatever the environment says. Returns the settings now
    in effect.
    """
    global _configured
    _configured = _layer(path, mode, speed)
    return current()


def active() -> Settings | None:
    """The settings a request applies now, or None when replay is off."""
    settings = current()
    if settings.mode == "off":
        return None
    if settings.path is None:
        raise ValueError(
            f"replay mode {settings.mode!r} needs a replay file: pass one to replay.use() or "
            f"replay.configure(), or set ${ENV_PATH}"
        )
    return settings


Request = codec.Request


def request(base: str, endpoint: str, body: dict[str, Any] | None = None) -> codec.Request:
    """The canonical request a fingerprint is taken of (see `replay_codec.canonical_request`)."""
    return codec.canonical_request(base, endpoint, body)


Secrets = Iterable[str | Secret | None]


async def exchange(
    settings: Settings,
    request: codec.Request,
    send: Callable[[], Awaitable[AsyncGenerator[Any, None]]],
    secrets: Secrets = (),
) -> AsyncGenerator[Any, None]:
    """The items of the reply to `request`: replayed from the file when it is recorded there (modes
    replay and auto), else those of `send()`, recorded as they pass (record and auto).

    `secrets` (read when the line is written, so `send` may add to it) are redacted from the line.
    """
    assert settings.path is not None
    file = replay_store.open_file(settings.path)
    fingerprint = codec.fingerprint(request)
    if settings.mode != "record":
        entry = await asyncio.to_thread(file.get, fingerprint)
        if entry is not None:
            async for item in _play(entry, settings.path, settings.speed):
                yield item
            return
        if settings.mode == "replay":
            raise _miss("answer", request, settings.path, file.problem)
    start = time.monotonic()
    kept: list[list[Any]] = []
    items = await send()
    async with contextlib.aclosing(items):  # closed mid-reply: the response is closed, nothing written
        async for item in items:
            encoded = codec.encode(item)
            if encoded is not None:
                kept.append([round(time.monotonic() - start, 3), *encoded])
            yield item
    await _save(file, fingerprint, codec.line(request, kept, secrets))


async def listing(
    settings: Settings,
    request: codec.Request,
    fetch: Callable[[], Awaitable[tuple[list[str], list[str]]]],
    secrets: Secrets = (),
) -> tuple[list[str], list[str]]:
    """A model listing (model ids, image model ids): replayed, or fetched and recorded, as `exchange`."""
    assert settings.path is not None
    file = replay_store.open_file(settings.path)
    fingerprint = codec.fingerprint(request)
    if settings.mode != "record":
        entry = await asyncio.to_thread(file.get, fingerprint)
        found = [value for _, kind, value in (entry or {}).get("items", ()) if kind == "models"]
        if found:
            models, images = codec.decode("models", found[0])
            return list(models), list(images)
        if settings.mode == "replay":
            raise _miss("model listing", request, settings.path, file.problem)
    start = time.monotonic()
    models, images = await fetch()
    item = [round(time.monotonic() - start, 3), *codec.listing_value(models, images)]
    await _save(file, fingerprint, codec.line(request, [item], secrets))
    return models, images


async def _play(entry: codec.Entry, path: str, speed: float) -> AsyncGenerator[Any, None]:
    """`Replayed`, then the recorded items at the recorded pace scaled by `speed` (0: at once)."""
    yield Replayed(path, entry["recorded_at"])
    start = time.monotonic()
    for seconds, kind, value in entry["items"]:
        if speed > 0 and not math.isinf(speed):
            wait = start + seconds / speed - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        yield codec.decode(kind, value)


async def _save(file: replay_store.ReplayFile, fingerprint: str, line: bytes) -> None:
    # The reply has been delivered: a file that cannot be written is a warning, not a failed request.
    try:
        await asyncio.to_thread(file.put, fingerprint, line)
    except OSError as exc:
        logger.warning(
            "openai_magic: could not record the answer in the replay file %s: %s",
            file.path,
            exc.strerror or type(exc).__name__,
        )


def _miss(what: str, request: codec.Request, path: str, problem: str) -> ReplayMissError:
    model = request.get("body", {}).get("model")
    subject = f"this {model} request" if isinstance(model, str) and model else "this request"
    where = f"{path} ({problem})" if problem else path
    return ReplayMissError(
        f"no recorded {what} for {subject} in {where}: run once with replay mode 'record' (or 'auto') "
        "to record it",
        path=path,
    )


__all__ = [
    "ENV_MODE",
    "ENV_PATH",
    "ENV_SPEED",
    "MODES",
    "Mode",
    "ReplayMissError",
    "Replayed",
    "Request",
    "Settings",
    "active",
    "configure",
    "current",
    "exchange",
    "listing",
    "request",
    "use",
]
