"""`%%chat` / `%chat`: the cell (or the rest of the line) is the prompt; the answer streams into the cell.

Usage::

    %%chat -m demo-chat -t 0.2          # the cell body is the prompt; the answer streams as Markdown
    %chat -c ideas Three blog names      # one line; named thread "ideas"
    %config ChatMagics.provider = "openai"

Defaults come from `%config ChatMagics.*` (or `ipython_config.py`), then the environment
(`OPENAI_API_KEY` / `OPENAI_BASE_URL`), then the embedded demo backend. The turn itself (provider,
key, model, streaming, interrupts, the thread) is `turn.py`'s; this module parses, interpolates and
puts the result where the options ask (`-o`, `-f code`, `--json`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_cell_magic, magics_class, no_var_expand

from .arguments import chat_arguments, options_from, parse, split_options
from .config import ChatMagicsConfig, configured


def error_line(text: str) -> None:
    """One line on stderr (the notebook shows it in red, without a traceback)."""
    print(text, file=sys.stderr, flush=True)


@magics_class
class ChatMagics(ChatMagicsConfig):
    """Chat with any OpenAI-compatible model from cells; defaults configurable with `%config`."""

    def rich(self) -> bool:
        """Whether output goes to a notebook front end (Markdown) rather than a terminal (text)."""
        return getattr(self.shell, "kernel", None) is not None

    def expand(self, text: str) -> str:
        """`$name` / `{name}` in option values, from the user namespace."""
        if "$" not in text and "{" not in text:
            return text
        assert self.shell is not None
        return str(self.shell.var_expand(text, depth=10**6))

    @no_var_expand
    @chat_arguments
    @line_cell_magic
    def chat(self, line: str, cell: str | None = None) -> Any:
        """Chat with a model: `%%chat [options]` (cell body = prompt) or `%chat [options] prompt`."""
        if cell is None:
            parser = self.chat.parser  # type: ignore[attr-defined]  # set by @magic_arguments
            option_text, prompt = split_options(line, parser)
        else:
            option_text, prompt = line, cell[:-1] if cell.endswith("\n") else cell  # IPython adds one
        args = parse(self.chat, option_text, self.expand)
        options = options_from(args, configured(self))
        if options.tools:
            options = options.replace(tools=self.tools(options.tools))
        sink = self.sink(options, owned=cell is not None or self.owns_cell(line))
        if not options.raw:
            from ..interpolate import interpolate, notice

            interpolated = interpolate(prompt, self.user_ns)
            prompt = interpolated.text
            if interpolated.unresolved:
                sink.notice(notice(interpolated.unresolved))
        if not prompt.strip():
            raise UsageError(
                "Empty prompt: nothing was sent. Write the prompt after the options or in the cell."
            )
        media = self.media(options.media or ())
        return self.answer(prompt, options, media, sink, model_given=args.model is not None)

    def sink(self, options: Any, *, owned: bool) -> Any:
        """Markdown display outputs in a notebook, plain text in a terminal."""
        from ..display_sink import DisplaySink
        from ..sinks import TextSink

        fmt = options.format if self.rich() else "text"
        return TextSink() if fmt == "text" else DisplaySink(fmt, owned=owned)

    def owns_cell(self, line: str) -> bool:
        """Whether the running cell is nothing but this one `%chat` line (so its outputs are all ours)."""
        history = getattr(getattr(self.shell, "history_manager", None), "input_hist_raw", None)
        if not history:
            return False
        lines = history[-1].splitlines()
        code = [text for text in lines if text.strip() and not text.lstrip().startswith("#")]
        return len(code) == 1 and code[0].lstrip().startswith("%chat") and line.strip() in code[0]

    @property
    def user_ns(self) -> dict[str, Any]:
        assert self.shell is not None
        return dict(self.shell.user_ns)

    def tools(self, names: tuple[str, ...]) -> tuple[Any, ...]:
        """`--tools f,g --tools helpers`: functions (or lists of them) from the notebook's namespace."""
        found: list[Any] = []
        for name in (n.strip() for value in names for n in str(value).split(",")):
            if not name:
                continue
            value = self.user_ns.get(name.split(".")[0])
            for attribute in name.split(".")[1:]:
                value = getattr(value, attribute, None)
            if (
                isinstance(value, list | tuple)
                and value
                and all(callable(v) or isinstance(v, dict) for v in value)
            ):
                found.extend(value)
            elif callable(value) and not isinstance(value, type):
                found.append(value)
            else:
                raise UsageError(f"--tools {name}: no function, or list of functions, by that name")
        return tuple(found)

    def media(self, items: tuple[str, ...]) -> list[Any]:
        """`--media` values: a variable (bytes, PIL image, or a list of them), a URL or data URI, a file."""
        from ...core import media as core_media

        found: list[Any] = []
        for item in items:
            value = self.user_ns.get(item) if item.isidentifier() else None
            if value is not None:
                found.extend(value if isinstance(value, list) else [value])
            elif item.startswith(("http://", "https://", "data:")):
                found.append(item)
            else:
                path = Path(item).expanduser()
                if not path.is_file():
                    raise UsageError(f"--media {item}: no such file or variable")
                found.append(path)
        try:
            core_media.to_parts(found)  # unreadable media is bad input: say so before any request
        except (TypeError, ValueError, OSError) as exc:
            raise UsageError(f"--media: {exc}") from None
        return found

    def answer(
        self, prompt: str, options: Any, media: list[Any], sink: Any, *, model_given: bool = False
    ) -> Any:
        """Plan and run the turn, then store or insert what the options ask for."""
        from ..replay_scope import scope

        with scope(options):  # planning may list models: replayed like the answer
            return self.run_turn(prompt, options, media, sink, model_given=model_given)

    def run_turn(
        self, prompt: str, options: Any, media: list[Any], sink: Any, *, model_given: bool = False
    ) -> Any:
        """Plan the turn, run it, deliver its result."""
        from ...core import bridge
        from ..confirm import AskInput
        from ..plan import NoModelError, UnknownProviderError, plan_turn
        from ..turn import Turn

        try:
            planning = plan_turn(
                prompt, options, surface="magic", media=media, notify=sink.notice, model_given=model_given
            )
            plan = bridge.run(planning)
        except UnknownProviderError as exc:
            raise UsageError(str(exc)) from None
        except NoModelError as exc:
            error_line(str(exc))
            return None
        except KeyboardInterrupt:
            error_line("Interrupted before the request was sent.")
            return None
        except Exception as exc:  # the model listing failed: the same one line as a failed request
            from ..errorline import describe

            error_line(describe(exc, surface="magic", provider=getattr(exc, "provider", None)))
            return None
        confirm = AskInput(sink.notice) if options.confirm else None
        result = Turn(plan, sink, throttle=options.throttle, confirm=confirm).run_sync()
        return self.deliver(result, options)

    def deliver(self, result: Any, options: Any) -> Any:
        """`-o VAR`, `-f code` and `--json`, from the turn's result."""
        from ..blocks import fences
        from ..render_parts import image_bytes

        assert self.shell is not None
        if result.plan.image:
            images = [image_bytes(src) or src for src in result.images]
            if options.out and images:
                self.shell.user_ns[options.out] = images[0] if len(images) == 1 else images
            return None
        value: Any = result.answer
        if options.json and result.ok:
            parsed = result.json_value()
            if parsed is None:
                error_line("The answer is not valid JSON; stored the text instead.")
            else:
                value = parsed
        if options.out:
            self.shell.user_ns[options.out] = value
        if options.format == "code" and result.ok:
            code = "\n\n".join(block.rstrip("\n") for block in fences(result.answer))
            if code:
                self.shell.set_next_input(code, replace=False)
            else:
                error_line("No fenced code block in the answer: nothing put in the next cell.")
        return value if options.json and not isinstance(value, str) else None


def chat_defaults(shell: Any) -> Any:
    """The `%config ChatMagics` defaults, for the other magics (a fresh default set if not loaded)."""
    from ..options import ChatOptions

    magics = shell.magics_manager.registry.get("ChatMagics") if shell is not None else None
    return configured(magics) if magics is not None else ChatOptions()


__all__ = ["ChatMagics", "chat_defaults", "error_line"]
