"""`%chat_history`: show, export or clear a thread (the magics and every panel share them)."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..options import DEFAULT_CONVERSATION
from .arguments import parse
from .chat import chat_defaults, error_line


@magics_class
class HistoryMagics(Magics):
    """Threads: show one as Markdown, export it, or clear it."""

    @magic_arguments()
    @argument("-c", "--conversation", default=DEFAULT_CONVERSATION, help="Thread name.")
    @argument("--export", metavar="PATH", help="Write the thread to PATH (.md or .json).")
    @argument("--clear", action="store_true", help="Forget the thread's messages.")
    @argument(
        "--restore", action="store_true", help="Load the thread's turns from the log (after a restart)."
    )
    @line_magic
    def chat_history(self, line: str) -> None:
        """Show, export or clear a conversation."""
        from ..conversation import conversation_names, get_conversation

        args = parse(self.chat_history, line)
        known = conversation_names()
        if args.restore:
            self.restore(args.conversation)
            return
        if args.conversation not in known and args.conversation != DEFAULT_CONVERSATION:
            listed = ", ".join(known) if known else "none yet"
            raise UsageError(f"No thread {args.conversation!r}. Known threads: {listed}")
        conversation = get_conversation(args.conversation)
        if args.export:
            try:
                path = conversation.export(args.export)
            except OSError as exc:
                error_line(f"Could not export: {exc}")
                return
            print(f"Exported {len(conversation)} messages of {conversation.name!r} to {path}")
        if args.clear:
            from .. import turn_log

            conversation.clear()
            turn_log.mark_cleared(conversation, chat_defaults(self.shell))
            print(f"Cleared conversation {conversation.name!r}.")
        if args.export or args.clear:
            return
        text = conversation.to_markdown()
        if getattr(self.shell, "kernel", None) is not None:
            from IPython.display import display

            display({"text/markdown": text, "text/plain": text}, raw=True)
        else:
            print(text)

    def restore(self, name: str) -> None:
        """`--restore`: the thread's turns from the log, appended to an empty thread."""
        from .. import turn_log
        from ..conversation import get_conversation

        defaults = chat_defaults(self.shell)
        if turn_log.log_path(defaults) is None:
            raise UsageError(
                "The log is off (ChatMagics.log = False or OPENAI_MAGIC_LOG=0): nothing to restore."
            )
        conversation = get_conversation(name)
        if conversation.entries:
            raise UsageError(
                f"Thread {name!r} already has {len(conversation)} messages: restore it into an empty one."
            )
        count = turn_log.restore(conversation, defaults)
        where = turn_log.log_path(defaults)
        if count:
            print(f"Restored {count} turn{'' if count == 1 else 's'} of {name!r} from {where}.")
        else:
            print(f"No turns of {name!r} in {where}.")


__all__ = ["HistoryMagics"]
