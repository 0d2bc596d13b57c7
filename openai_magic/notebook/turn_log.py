"""Every turn, from every surface, as one row of the local SQLite log (`log.py`, docs/log.md).

The row is written once, when the turn has ended, so logging never slows a stream; a log that cannot
be written (damaged, locked, read-only, a full disk) is one warning line, said once, and never fails
the turn. On by default (`ChatMagics.log`, `OPENAI_MAGIC_LOG=0` turns it off); where it lives:
`ChatMagics.log_path`, else `$OPENAI_MAGIC_LOG`, else the per-user data directory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .log import TurnLog, TurnRecord, default_path

_lock = threading.Lock()
_logs: dict[Path, TurnLog] = {}
_said: set[str] = set()


def log_path(options: Any) -> Path | None:
    """The log file these options write to, or None when logging is off."""
    if not options.log:
        return None
    return Path(options.log_path).expanduser() if options.log_path else default_path()


def open_log(options: Any) -> TurnLog | None:
    """The (shared, lazily opened) log for these options."""
    path = log_path(options)
    if path is None:
        return None
    with _lock:
        log = _logs.get(path)
        if log is None:
            log = _logs[path] = TurnLog(path)
        return log


def notebook_path() -> str | None:
    """The notebook this kernel runs, when the front end said (Jupyter Server sets it for kernels)."""
    return os.environ.get("JPY_SESSION_NAME") or None


def record(result: Any, *, surface: str, say: Callable[[str], None]) -> None:
    """Write one finished turn; a failure is one line through `say`, once per message."""
    plan = result.plan
    log = open_log(plan.options)
    if log is None:
        return
    from .plan import base_url

    timing = result.metadata.get("timing", {})
    row = TurnRecord(
        prompt=plan.prompt,
        answer=result.answer,
        thread=plan.conversation.name,
        model=result.model or plan.model,
        provider=plan.label,
        host=base_url(plan.provider) or "",
        surface=surface,
        notebook=notebook_path(),
        system=plan.options.system,
        parameters=result.metadata.get("parameters", {}),
        prompt_images=[m for m in plan.media if isinstance(m, str) and m.startswith(("data:", "http"))],
        reasoning=result.reasoning,
        tool_messages=result.tool_messages,
        images=list(result.images),
        usage=result.metadata.get("usage") or {},
        first_token=timing.get("time_to_first_token"),
        duration=timing.get("total_seconds"),
        outcome=result.outcome,
        error=result.error,
        replayed=bool(result.metadata.get("replayed")),
        in_thread=result.in_thread,
    )
    warning = log.safe_record(row)
    for line in [*([warning] if warning else []), *log.take_notes()]:
        if line not in _said:
            _said.add(line)
            say(line)


def restore(conversation: Any, options: Any) -> int:
    """Load the thread's turns from the log into `conversation` (after its last clear); how many."""
    log = open_log(options)
    if log is None:
        return 0
    turns = log.thread_turns(conversation.name, notebook=notebook_path())
    last_clear = max((i for i, t in enumerate(turns) if t.surface == "clear"), default=-1)
    restored = 0
    for turn in turns[last_clear + 1 :]:
        if not turn.in_thread or turn.surface == "compare" or turn.parameters.get("image"):
            continue  # not part of the thread when they were made (older rows: by surface and kind)
        conversation.add_turn(
            turn.prompt,
            _final_reply(turn),
            interrupted=turn.outcome == "interrupted",
            error=turn.error,
            model=turn.model or None,
            tool_messages=turn.tool_messages,
        )
        restored += 1
    return restored


def mark_cleared(conversation: Any, options: Any) -> None:
    """Note in the log that a thread was cleared, so a later restore starts after it."""
    log = open_log(options)
    if log is not None:
        log.safe_record(
            TurnRecord(
                prompt="(thread cleared)", thread=conversation.name, surface="clear", notebook=notebook_path()
            )
        )


def _final_reply(turn: TurnRecord) -> str:
    """What the thread keeps as the answer: the text after the tool calls (said before them is in them)."""
    said = "".join(m.get("content") or "" for m in turn.tool_messages if m.get("role") == "assistant")
    return turn.answer[len(said) :] if said and turn.answer.startswith(said) else turn.answer


__all__ = ["log_path", "mark_cleared", "notebook_path", "open_log", "record", "restore"]
