"""The replay settings a turn runs under (record/replay itself is the core's, `core/replay.py`).

In order: the options (`%chat_replay`, `%config ChatMagics.replay_mode / replay_path`,
`ChatPanel(replay_mode=...)`); else, with `$OPENAI_MAGIC_REPLAY` set, the core reads the environment;
else, with `$OPENAI_MAGIC_NOTEBOOK_REPLAY=MODE` (as `binder/start` sets it), the replay file next to
the running notebook (`NAME.replay.jsonl`) in that mode when the notebook ships one; notebooks that
do not ship one are left alone. (That variable is the notebook layer's: the core's own
`$OPENAI_MAGIC_REPLAY_MODE` needs a file for every request, so it cannot say "only where there is one".)
The scope covers planning too: choosing a model may list the models, which is replayed like a reply.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SUFFIX = ".replay.jsonl"
ENV_NOTEBOOK_MODE = "OPENAI_MAGIC_NOTEBOOK_REPLAY"


def notebook_replay_file() -> Path | None:
    """`NAME.replay.jsonl` beside the running notebook (the kernel runs in its folder), if it exists."""
    name = os.environ.get("JPY_SESSION_NAME")
    if not name:
        return None
    candidate = Path.cwd() / (Path(name).stem + SUFFIX)
    return candidate if candidate.is_file() else None


def settings_for(options: Any) -> dict[str, Any] | None:
    """Keyword arguments for `replay.use(...)`, or None to leave the core's own settings alone."""
    from ..core import replay

    if options.replay_mode or options.replay_path:
        return {
            "path": options.replay_path,
            "mode": options.replay_mode or "auto",
            "speed": options.replay_speed,
        }
    if os.environ.get(replay.ENV_PATH):
        return None
    mode = os.environ.get(ENV_NOTEBOOK_MODE)
    sibling = notebook_replay_file() if mode and mode != "off" else None
    return {"path": sibling, "mode": mode, "speed": options.replay_speed} if sibling else None


@contextlib.contextmanager
def scope(options: Any) -> Iterator[None]:
    """Run what is inside (planning and the turn) under the replay settings these options select."""
    settings = settings_for(options)
    if settings is None:
        yield
        return
    from ..core import replay

    with replay.use(**settings):
        yield


__all__ = ["ENV_NOTEBOOK_MODE", "SUFFIX", "notebook_replay_file", "scope", "settings_for"]
