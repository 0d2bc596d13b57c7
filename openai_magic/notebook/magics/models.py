"""`%models [pattern] [-p PROVIDER]`: the provider's models as a table, filtered by a glob or substring."""

from __future__ import annotations

import fnmatch

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from .arguments import parse
from .chat import chat_defaults, error_line


@magics_class
class ModelsMagics(Magics):
    """List models: id, image-capable mark, the current default marked."""

    @no_var_expand
    @magic_arguments()
    @argument("pattern", nargs="?", help="Glob or substring filter.")
    @argument("-p", "--provider", help="Provider preset name or base URL.")
    @line_magic
    def models(self, line: str) -> None:
        """List the provider's models: id, image-capable mark, current default marked."""
        from ...core import bridge, errors
        from .. import keys
        from ..errorline import describe
        from ..plan import UnknownProviderError, default_model, is_image_model, resolve_provider

        args = parse(self.models, line)
        defaults = chat_defaults(self.shell)
        try:
            provider, _ = resolve_provider(args.provider or defaults.provider)
        except UnknownProviderError as exc:
            raise UsageError(str(exc)) from None
        key = keys.lookup(provider, keyring=defaults.use_keyring)
        try:
            models = bridge.run(provider.get_models_async(api_key=key))
        except errors.ProviderError as exc:
            error_line(describe(exc, surface="magic", provider=provider, key=key))
            return
        except KeyboardInterrupt:
            error_line("Interrupted.")
            return
        pattern = (args.pattern or "").strip()
        if pattern:
            glob = any(c in pattern for c in "*?[")
            low = pattern.lower()
            models = [m for m in models if (fnmatch.fnmatch(m.lower(), low) if glob else low in m.lower())]
        default = (defaults.model if not args.provider else None) or default_model(provider)
        rows = [(m, is_image_model(provider, m), m == default) for m in models]
        if not rows:
            print(f"No models match {pattern!r}." if pattern else "The provider lists no models.")
            return
        plain = "\n".join(
            f"{m:<40} {'image' if i else '':<6} {'default' if d else ''}".rstrip() for m, i, d in rows
        )
        if getattr(self.shell, "kernel", None) is None:
            print(plain)
            return
        from IPython.display import display

        table = "| model | image | default |\n|---|:---:|:---:|\n" + "\n".join(
            f"| `{m}` | {'🖼' if i else ''} | {'✓' if d else ''} |" for m, i, d in rows
        )
        display({"text/markdown": table, "text/plain": plain}, raw=True)


__all__ = ["ModelsMagics"]
