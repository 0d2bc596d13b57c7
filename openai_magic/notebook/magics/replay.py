"""`%chat_replay [MODE [PATH]] [--speed S]`: record answers to a replay file, or replay them.

Sets `ChatMagics.replay_mode / replay_path / replay_speed` for the session (what `%config` sets), so
every later `%%chat` cell runs under it; with no arguments it says what is in effect.
"""

from __future__ import annotations

from pathlib import Path

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .arguments import parse

MODES = ("record", "replay", "auto", "off")


@magics_class
class ReplayMagics(Magics):
    """Reproducible notebooks: answers recorded once, replayed on every later run (docs/replay.md)."""

    @magic_arguments()
    @argument(
        "mode", nargs="?", help="record, replay, auto (replay what is recorded, record the rest) or off."
    )
    @argument("path", nargs="?", help="The replay file (JSON Lines), e.g. this notebook's NAME.replay.jsonl.")
    @argument("--speed", type=float, help="Replay at this multiple of the recorded pace (0: at once).")
    @line_magic
    def chat_replay(self, line: str) -> None:
        """Record answers to a replay file, replay them, or say what is in effect."""
        args = parse(self.chat_replay, line)
        magics = self.shell.magics_manager.registry.get("ChatMagics") if self.shell else None
        if magics is None:
            raise UsageError("Load the magics first: %load_ext openai_magic")
        if args.mode is None:
            print(describe(magics.replay_mode, magics.replay_path, magics.replay_speed))
            return
        if args.mode not in MODES:
            raise UsageError(f"replay mode must be one of {', '.join(MODES)}, not {args.mode!r}")
        if args.mode != "off" and not (args.path or magics.replay_path):
            raise UsageError(
                f"%chat_replay {args.mode} needs a file: %chat_replay {args.mode} NAME.replay.jsonl"
            )
        if args.speed is not None and args.speed < 0:
            raise UsageError("--speed must be at least 0")
        magics.replay_mode = args.mode
        if args.path:
            magics.replay_path = args.path
        if args.speed is not None:
            magics.replay_speed = args.speed
        print(describe(magics.replay_mode, magics.replay_path, magics.replay_speed))


def describe(mode: str | None, path: str | None, speed: float | None) -> str:
    """What a user needs to know about the replay settings, in one line."""
    if not mode or mode == "off":
        return "Replay is off: answers come from the provider (and are not recorded)."
    target = Path(path or "").expanduser()
    count = sum(1 for text in target.read_text().splitlines() if text.strip()) if target.is_file() else 0
    doing = {
        "record": "asks the provider and records every answer",
        "replay": "answers from the file only (never the network; an unrecorded request is an error)",
        "auto": "replays what is recorded and records the rest",
    }[mode]
    pace = "" if speed is None else f", at {speed:g}x the recorded pace" if speed else ", at once"
    recorded = f"{count} recorded exchange{'' if count == 1 else 's'}"
    return f"Replay mode {mode}: {doing}; file {target} ({recorded}){pace}."


__all__ = ["ReplayMagics"]
