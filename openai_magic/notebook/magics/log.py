"""`%chat_log [-n N] [-c NAME] [-s TEXT] [--json]`: recent turns from the local log, newest first."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .arguments import parse
from .chat import chat_defaults


@magics_class
class LogMagics(Magics):
    """The log of every turn (docs/log.md): browse and search it from a cell."""

    @magic_arguments()
    @argument("-n", type=int, default=20, help="How many turns (0: all).")
    @argument("-c", "--conversation", metavar="NAME", help="Only this thread.")
    @argument("-s", "--search", metavar="TEXT", help="Full-text search of prompts and answers.")
    @argument("--json", action="store_true", help="The rows as JSON (also the cell's value).")
    @line_magic
    def chat_log(self, line: str) -> Any:
        """Show recent turns from the log as a table, newest first."""
        from .. import turn_log
        from ..log_view import as_json, as_table

        args = parse(self.chat_log, line)
        defaults = chat_defaults(self.shell)
        log = turn_log.open_log(defaults)
        if log is None:
            raise UsageError("The log is off (ChatMagics.log = False or OPENAI_MAGIC_LOG=0).")
        rows = log.recent(args.n, thread=args.conversation, search=args.search)
        for note in log.take_notes():
            print(note)
        if args.json:
            return as_json(rows)
        markdown, plain = as_table(rows)
        if not rows:
            print(
                f"No turns in {turn_log.log_path(defaults)} match."
                if args.search or args.conversation
                else f"No turns in {turn_log.log_path(defaults)} yet."
            )
            return None
        if getattr(self.shell, "kernel", None) is None:
            print(plain)
            return None
        from IPython.display import display

        display({"text/markdown": markdown, "text/plain": plain}, raw=True)
        return None


__all__ = ["LogMagics"]
