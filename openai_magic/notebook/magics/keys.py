"""`%chat_key [PROVIDER] [--keyring]`: ask for a key with a hidden prompt; kept in kernel memory only."""

from __future__ import annotations

import getpass

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .arguments import parse
from .chat import chat_defaults, error_line


@magics_class
class KeyMagics(Magics):
    """Keys typed once, shared by the magics and every panel, never written into the notebook."""

    @magic_arguments()
    @argument("provider", nargs="?", help="Preset name or base URL (default: the current provider).")
    @argument("--keyring", action="store_true", help="Also save it in the system keyring.")
    @line_magic
    def chat_key(self, line: str) -> None:
        """Ask for an API key with a hidden prompt and keep it in kernel memory only."""
        from .. import keys
        from ..plan import UnknownProviderError, provider_label, resolve_provider

        args = parse(self.chat_key, line)
        defaults = chat_defaults(self.shell)
        try:
            provider, _ = resolve_provider(args.provider or defaults.provider)
        except UnknownProviderError as exc:
            raise UsageError(str(exc)) from None
        label = provider_label(provider)
        try:
            key = getpass.getpass(f"API key for {label}: ").strip()
        except (KeyboardInterrupt, EOFError):
            error_line("No key entered; nothing changed.")
            return
        except Exception as exc:  # e.g. the front end does not support input
            error_line(
                f"Cannot ask for a key here ({type(exc).__name__}); set the environment variable instead."
            )
            return
        if not key:
            error_line("No key entered; nothing changed.")
            return
        try:
            where = keys.remember(provider, key, keyring=args.keyring)
            magics = self.shell.magics_manager.registry.get("ChatMagics") if self.shell else None
            if args.keyring and magics is not None:
                magics.use_keyring = True
        except Exception as exc:  # no keyring package or backend: the memory copy is already kept
            where = "kernel memory"
            error_line(f"Keyring unavailable ({type(exc).__name__}); kept in kernel memory only.")
        print(f"Key for {label} kept in {where} (never in the notebook).")


__all__ = ["KeyMagics"]
