"""`%chat_panel [-c NAME] [-m MODEL] [-p PROVIDER]`: show a ChatPanel with the session's defaults."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..options import CONFIG, PANEL, ChatOptions, names
from .arguments import parse
from .chat import chat_defaults


@magics_class
class PanelMagics(Magics):
    """The widget panel, started from a magic (same threads, keys and defaults as `%%chat`)."""

    @magic_arguments()
    @argument("-c", "--conversation", help="Thread name.")
    @argument("-m", "--model", help="Model id.")
    @argument("-p", "--provider", help="Provider preset name or base URL.")
    @line_magic
    def chat_panel(self, line: str) -> Any:
        """Show the ipywidgets ChatPanel (same conversations and options as the magics)."""
        from ..plan import UnknownProviderError, resolve_provider

        args = parse(self.chat_panel, line)
        defaults = chat_defaults(self.shell)
        provider = args.provider or defaults.provider
        try:
            resolve_provider(provider)
        except UnknownProviderError as exc:
            raise UsageError(str(exc)) from None
        from IPython.display import display

        from ..panel import ChatPanel

        # Every session default the panel also takes (sampling, stream, log, replay, keyring, ...).
        fresh, shared = ChatOptions(), set(names(CONFIG)) & set(names(PANEL)) - {"provider", "model"}
        params: dict[str, Any] = {
            name: getattr(defaults, name)
            for name in shared
            if getattr(defaults, name) != getattr(fresh, name)
        }
        if args.conversation:
            params["conversation"] = args.conversation
        display(ChatPanel(provider=provider, model=args.model or defaults.model, **params))
        return None


__all__ = ["PanelMagics"]
