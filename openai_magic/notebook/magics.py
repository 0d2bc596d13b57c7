"""IPython magics: `%%chat`, `%chat`, `%models`, `%chat_history`, `%chat_key`, `%chat_panel`.

Usage::

    %load_ext openai_magic
    %%chat -m demo-chat -t 0.2          # the cell body is the prompt; the answer streams as Markdown
    %chat -c ideas Three blog names      # one line; named thread "ideas"
    %config ChatMagics.provider = "openai"

Defaults come from `%config ChatMagics.*` (or `ipython_config.py`), then the environment
(`OPENAI_API_KEY` / `OPENAI_BASE_URL`), then the embedded demo backend. This module imports only
IPython and traitlets at load time; httpx, markdown-it-py and ipywidgets load on first use.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Enum, Float, Int, Unicode

from . import keys
from .errorline import describe
from .options import DEFAULT_CONVERSATION, FORMATS, ChatOptions

_state = {"demo_notice": False}
_TOKEN = re.compile(r"\s*(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\S+)")

DEMO_NOTICE = (
    "Using the embedded demo backend (no provider configured). For a real model: "
    "%config ChatMagics.provider = 'openai' (key: OPENAI_API_KEY or %chat_key), or -p <preset|base URL>."
)


def _line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _split_options(line: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
    """Split `%chat` input into (options, prompt); the prompt keeps its exact spelling."""
    pos = 0
    while True:
        match = _TOKEN.match(line, pos)
        if match is None:
            return line[:pos], ""
        token = match.group(1)
        if token == "--":
            return line[: match.start(1)], line[match.end() :].lstrip()
        if not token.startswith("-") or len(token) < 2 or re.fullmatch(r"-\d.*", token):
            return line[: match.start(1)], line[match.start(1) :]
        pos = match.end()
        name = token.split("=", 1)[0]
        action = parser._option_string_actions.get(name)
        if action is None and not token.startswith("--"):
            action = parser._option_string_actions.get(token[:2])
            if action is not None and action.nargs != 0:
                continue  # value attached: -mdemo-chat
        if action is not None and action.nargs != 0 and "=" not in token:
            value = _TOKEN.match(line, pos)
            if value is not None:
                pos = value.end()


def _fences(text: str) -> list[str]:
    from .render import markdown_parser

    return [t.content for t in markdown_parser().parse(text) if t.type == "fence" and t.content.strip()]


@magics_class
class ChatMagics(Magics):
    """Chat with any OpenAI-compatible model from cells; defaults configurable with `%config`."""

    model = Unicode(None, allow_none=True, help="Default model (None: the provider's).").tag(config=True)
    provider = Unicode(
        None, allow_none=True, help="Provider preset name or base URL (None: environment, then demo)."
    ).tag(config=True)
    system = Unicode(None, allow_none=True, help="Default system prompt.").tag(config=True)
    temperature = Float(None, allow_none=True, help="Default temperature.").tag(config=True)
    top_p = Float(None, allow_none=True, help="Default top_p.").tag(config=True)
    max_tokens = Int(None, allow_none=True, help="Default max_tokens.").tag(config=True)
    seed = Int(None, allow_none=True, help="Default seed.").tag(config=True)
    stream = Bool(True, help="Stream answers as they arrive.").tag(config=True)
    format = Enum(FORMATS, default_value="markdown", help="Default output format.").tag(config=True)
    timeout = Float(None, allow_none=True, help="Request timeout in seconds.").tag(config=True)
    throttle = Float(1 / 15, help="Minimum seconds between updates of the open block.").tag(config=True)
    use_keyring = Bool(False, help="Look keys up in the system keyring (needs `keyring`).").tag(config=True)

    # -- helpers --------------------------------------------------------------------------------

    def _rich(self) -> bool:
        return getattr(self.shell, "kernel", None) is not None

    def _expand(self, text: str) -> str:
        if "$" not in text and "{" not in text:
            return text
        return self.shell.var_expand(text, depth=10**6)  # user namespace only

    def _parse(self, func: Any, text: str) -> Any:
        try:
            args = parse_argstring(func, self._expand(text))
        except (UsageError, SystemExit) as exc:
            usage = " ".join(func.parser.format_usage().replace("::", "").split())
            detail = str(exc) if isinstance(exc, UsageError) else ""
            raise _Usage(f"usage: {usage}\n{detail}".rstrip()) from None
        for name, value in vars(args).items():  # IPython splits non-POSIX: quotes are kept
            if isinstance(value, list):
                setattr(args, name, [_unquote(v) for v in value])
            else:
                setattr(args, name, _unquote(value))
        return args

    def _defaults(self) -> ChatOptions:
        return ChatOptions(
            model=self.model,
            provider=self.provider,
            system=self.system,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            seed=self.seed,
            stream=self.stream,
            format=self.format,
            timeout=self.timeout,
        )

    def _provider(self, name: str | None) -> Any:
        from .options import default_provider, resolve_provider

        if name:
            try:
                return resolve_provider(name)
            except KeyError as exc:
                raise _Usage(f"Unknown provider: {exc.args[0]}") from None
        provider, is_demo = default_provider()
        if is_demo and not _state["demo_notice"]:
            _state["demo_notice"] = True
            print(DEMO_NOTICE, flush=True)
        return provider

    def _key(self, provider: Any) -> str | None:
        return keys.lookup(provider, keyring=self.use_keyring)

    def _media(self, items: list[str]) -> list[Any]:
        from pathlib import Path

        media: list[Any] = []
        for item in items:
            value = self.shell.user_ns.get(item) if item.isidentifier() else None
            if value is not None:
                media.extend(value if isinstance(value, list) else [value])
            elif item.startswith(("http://", "https://", "data:")):
                media.append(item)
            else:
                path = Path(item).expanduser()
                if not path.is_file():
                    raise _Usage(f"--media {item}: no such file or variable")
                media.append(path)
        return media

    # -- %%chat / %chat -------------------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @argument("-m", "--model", help="Model id (default: config, then the provider's).")
    @argument("-p", "--provider", help="Provider preset name or base URL.")
    @argument("-s", "--system", help="System prompt.")
    @argument("-t", "--temperature", type=float, help="Sampling temperature.")
    @argument("--top-p", type=float, help="Nucleus sampling.")
    @argument("--max-tokens", type=int, help="Maximum tokens in the answer.")
    @argument("--stop", action="append", help="Stop sequence (repeatable).")
    @argument("--seed", type=int, help="Sampling seed.")
    @argument("--new", action="store_true", help="Start a fresh conversation.")
    @argument("-c", "--conversation", help="Named thread (default: the default thread).")
    @argument("--no-history", action="store_true", help="Send this prompt alone.")
    @argument("--no-stream", action="store_true", help="Ask for the whole answer at once.")
    @argument("-f", "--format", choices=FORMATS, help="markdown (default), text, code, html or json.")
    @argument("-o", "--out", metavar="VAR", help="Store the answer in this variable.")
    @argument("--image", action="store_true", help="Generate images from the prompt.")
    @argument("--media", action="append", metavar="PATH_OR_VAR", help="Attach an image (repeatable).")
    @argument("--json", action="store_true", help="Ask for a JSON object and return it parsed.")
    @argument("--raw", action="store_true", help="No {name} interpolation.")
    @argument("--header", action="append", help=argparse.SUPPRESS)
    @line_cell_magic
    def chat(self, line: str, cell: str | None = None) -> Any:
        """Chat with a model: `%%chat [options]` (cell body = prompt) or `%chat [options] prompt`."""
        try:
            if cell is None:
                options, prompt = _split_options(line, self.chat.parser)
            else:
                options, prompt = line, cell[:-1] if cell.endswith("\n") else cell  # IPython adds one
            args = self._parse(self.chat, options)
            return self._chat(args, prompt)
        except _Usage as exc:
            _line(str(exc))
        return None

    def _chat(self, args: Any, prompt: str) -> Any:
        from .conversation import get_conversation
        from .interpolate import interpolate, notice

        changes = {
            name: getattr(args, name)
            for name in (
                "model",
                "provider",
                "system",
                "temperature",
                "top_p",
                "max_tokens",
                "seed",
                "format",
            )
            if getattr(args, name) is not None
        }
        if args.stop:
            changes["stop"] = args.stop
        if args.header:
            if not all(":" in header for header in args.header):
                raise _Usage("--header takes 'Name: value'")
            pairs = [header.split(":", 1) for header in args.header]
            changes["headers"] = {name.strip(): value.strip() for name, value in pairs}
        opts = self._defaults().merged(
            **changes,
            stream=self.stream and not args.no_stream,
            conversation=args.conversation or DEFAULT_CONVERSATION,
            new=args.new,
            history=not args.no_history,
            out=args.out,
            image=args.image,
            json=args.json,
            raw=args.raw,
        )
        if not opts.raw:
            result = interpolate(prompt, self.shell.user_ns)
            prompt = result.text
            if result.unresolved:
                print(notice(result.unresolved), flush=True)
        if not prompt.strip():
            raise _Usage("Empty prompt: nothing was sent. Write the prompt after the options or in the cell.")
        opts.media = self._media(args.media or [])
        provider = self._provider(opts.provider)
        opts.api_key = self._key(provider)
        if not opts.resolved_model(provider):
            opts.model = self._first_model(provider, opts)
        conversation = get_conversation(opts.conversation)
        if opts.new:
            conversation.clear()
        messages = conversation.request_messages(prompt, opts.system, history=opts.history)
        answer, renderer, outcome, message = self._stream(provider, opts, messages)
        if opts.image:
            images = [_image_data(src) for src in renderer.images]
            if opts.out and images:
                self.shell.user_ns[opts.out] = images[0] if len(images) == 1 else images
            return None
        if answer or outcome == "done":
            conversation.add_turn(
                prompt,
                answer,
                interrupted=outcome == "interrupted",
                error=message,
                model=renderer.model,
            )
        value: Any = answer
        if opts.json and outcome == "done":
            value = _parse_json(answer)
            if value is None:
                _line("The answer is not valid JSON; stored the text instead.")
                value = answer
        if opts.out:
            self.shell.user_ns[opts.out] = value
        if opts.format == "code" and outcome == "done":
            code = "\n\n".join(block.rstrip("\n") for block in _fences(answer))
            if code:
                self.shell.set_next_input(code, replace=False)
            else:
                _line("No fenced code block in the answer: nothing put in the next cell.")
        return value if opts.json and not isinstance(value, str) else None

    def _stream(
        self, provider: Any, opts: ChatOptions, messages: list[dict]
    ) -> tuple[str, Any, str, str | None]:
        """Stream one answer into the output; returns (answer, renderer, outcome, error line)."""
        from ..core import bridge, errors
        from .render import DisplaySink, InterruptSafe, StreamRenderer, TextSink, deferred_interrupts

        fmt = opts.format if self._rich() else "text"
        sink = InterruptSafe(TextSink() if fmt == "text" else DisplaySink(fmt))
        renderer = StreamRenderer(sink, metadata=opts.metadata(provider), throttle=self.throttle)
        outcome, message = "done", None
        stream = None
        try:
            renderer.start()
            request = provider.create_async_generator(**opts.request_kwargs(messages, provider))
            stream = bridge.iterate(with_ticks(request, self.throttle))
            for item in stream:
                # One item is handled whole or not at all: an interrupt that lands between storing a
                # delta and showing it would make the -o text, the thread and the output disagree.
                # The wait for the next item (inside the bridge) stays interruptible at once.
                with deferred_interrupts():
                    if item is TICK:
                        renderer.tick()
                    else:
                        renderer.add(item)
        except KeyboardInterrupt:
            outcome = "interrupted"
        except errors.ProviderError as exc:
            outcome = type(exc).__name__
            message = describe(exc, (opts.api_key,))
            with deferred_interrupts(reraise=False):
                renderer.extend(exc.partial_text or "")
        except Exception as exc:  # e.g. unreadable media: one line, not a traceback
            outcome = type(exc).__name__
            message = describe(exc, (opts.api_key,))
        finally:
            if stream is not None:
                stream.close()
        with deferred_interrupts(reraise=False):
            renderer.finish(interrupted=outcome == "interrupted", error=message)
            if message:
                sink.error(message)
            if outcome == "interrupted":
                sink.error(
                    f"Interrupted: kept the partial answer ({len(renderer.answer)} characters), "
                    "marked interrupted in the conversation."
                )
        return renderer.answer, renderer, outcome, message

    def _first_model(self, provider: Any, opts: ChatOptions) -> str | None:
        """No model named and no provider default (vLLM, llama.cpp, custom URLs): the first listed."""
        from ..core import bridge

        try:
            models = bridge.run(provider.get_models_async(api_key=opts.api_key))
        except Exception:
            return None
        chosen = next((m for m in models if _is_image(provider, m) == opts.image), None)
        if chosen:
            print(f"Using model {chosen} (the first the server lists; choose with -m).", flush=True)
        return chosen

    # -- %models --------------------------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @argument("pattern", nargs="?", help="Glob or substring filter.")
    @argument("-p", "--provider", help="Provider preset name or base URL.")
    @line_magic
    def models(self, line: str) -> None:
        """List the provider's models: id, image-capable mark, current default marked."""
        import fnmatch

        from ..core import bridge, errors

        try:
            args = self._parse(self.models, line)
            provider = self._provider(args.provider or self.provider)
        except _Usage as exc:
            _line(str(exc))
            return
        key = self._key(provider)
        try:
            models = bridge.run(provider.get_models_async(api_key=key))
        except errors.ProviderError as exc:
            _line(describe(exc, (key,)))
            return
        except KeyboardInterrupt:
            _line("Interrupted.")
            return
        pattern = (args.pattern or "").strip()
        if pattern:
            glob = any(c in pattern for c in "*?[")
            low = pattern.lower()
            models = [m for m in models if (fnmatch.fnmatch(m.lower(), low) if glob else low in m.lower())]
        default = (self.model if not args.provider else None) or getattr(provider, "default_model", "")
        rows = [
            (m, "image" if _is_image(provider, m) else "", "default" if m == default else "") for m in models
        ]
        if not rows:
            print(f"No models match {pattern!r}." if pattern else "The provider lists no models.")
            return
        plain = "\n".join(f"{m:<40} {i:<6} {d}".rstrip() for m, i, d in rows)
        if not self._rich():
            print(plain)
            return
        from IPython.display import display

        table = "| model | image | default |\n|---|:---:|:---:|\n" + "\n".join(
            f"| `{m}` | {'🖼' if i else ''} | {'✓' if d else ''} |" for m, i, d in rows
        )
        display({"text/markdown": table, "text/plain": plain}, raw=True)

    # -- %chat_history --------------------------------------------------------------------------

    @magic_arguments()
    @argument("-c", "--conversation", default=DEFAULT_CONVERSATION, help="Thread name.")
    @argument("--export", metavar="PATH", help="Write the thread to PATH (.md or .json).")
    @argument("--clear", action="store_true", help="Forget the thread's messages.")
    @line_magic
    def chat_history(self, line: str) -> None:
        """Show, export or clear a conversation."""
        from .conversation import get_conversation

        try:
            args = self._parse(self.chat_history, line)
        except _Usage as exc:
            _line(str(exc))
            return
        conversation = get_conversation(args.conversation)
        if args.export:
            try:
                path = conversation.export(args.export)
            except OSError as exc:
                _line(f"Could not export: {exc}")
                return
            print(f"Exported {len(conversation)} messages of {conversation.name!r} to {path}")
        if args.clear:
            conversation.clear()
            print(f"Cleared conversation {conversation.name!r}.")
        if args.export or args.clear:
            return
        text = conversation.to_markdown()
        if self._rich():
            from IPython.display import display

            display({"text/markdown": text, "text/plain": text}, raw=True)
        else:
            print(text)

    # -- %chat_key ------------------------------------------------------------------------------

    @magic_arguments()
    @argument("provider", nargs="?", help="Preset name or base URL (default: the current provider).")
    @argument("--keyring", action="store_true", help="Also save it in the system keyring.")
    @line_magic
    def chat_key(self, line: str) -> None:
        """Ask for an API key with a hidden prompt and keep it in kernel memory only."""
        import getpass

        try:
            args = self._parse(self.chat_key, line)
            provider = self._provider(args.provider or self.provider)
        except _Usage as exc:
            _line(str(exc))
            return
        from .options import provider_label

        label = provider_label(provider)
        try:
            key = getpass.getpass(f"API key for {label}: ").strip()
        except (KeyboardInterrupt, EOFError):
            _line("No key entered; nothing changed.")
            return
        except Exception as exc:  # e.g. the front end does not support input
            _line(f"Cannot ask for a key here ({type(exc).__name__}); set the environment variable instead.")
            return
        if not key:
            _line("No key entered; nothing changed.")
            return
        try:
            where = keys.remember(provider, key, keyring=args.keyring)
            self.use_keyring = self.use_keyring or args.keyring
        except Exception as exc:  # no keyring package or backend: the memory copy is already kept
            where = "kernel memory"
            _line(f"Keyring unavailable ({type(exc).__name__}); kept in kernel memory only.")
        print(f"Key for {label} kept in {where} (never in the notebook).")

    # -- %chat_panel ----------------------------------------------------------------------------

    @magic_arguments()
    @argument("-c", "--conversation", help="Thread name.")
    @argument("-m", "--model", help="Model id.")
    @argument("-p", "--provider", help="Provider preset name or base URL.")
    @line_magic
    def chat_panel(self, line: str) -> Any:
        """Show the ipywidgets ChatPanel (same conversations and options as the magics)."""
        try:
            args = self._parse(self.chat_panel, line)
            provider = args.provider or self.provider
            key = self._key(self._provider(provider)) if provider else None
        except _Usage as exc:
            _line(str(exc))
            return None
        from IPython.display import display

        from .panel import ChatPanel

        params: dict[str, Any] = {}
        if args.conversation:
            params["conversation"] = args.conversation
        panel = ChatPanel(provider=provider, model=args.model or self.model, api_key=key, **params)
        display(panel)
        return None


TICK = object()


async def with_ticks(source: Any, interval: float) -> Any:
    """Yield `source`'s items, and TICK whenever none arrived for `interval` seconds."""
    import asyncio

    if not hasattr(source, "__aiter__"):
        source = await source
    iterator = source.__aiter__()
    pending: Any = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=max(interval, 0.01))
            if not done:
                yield TICK
                continue
            finished, pending = pending, None
            try:
                item = finished.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


class _Usage(Exception):
    """A usage problem reported as one line (never a traceback)."""


def _is_image(provider: Any, model: str) -> bool:
    try:
        return bool(provider.is_image_model(model))
    except Exception:
        return model in (getattr(provider, "image_models", None) or [])


def _image_data(src: str) -> Any:
    from .render import image_bytes

    data = image_bytes(src)
    return data if data is not None else src


def _parse_json(text: str) -> Any:
    import json

    candidates = [text, *_fences(text)]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


_QUESTION = re.compile(r"^([ \t]*)%chat[ \t]+(\S.*?\?)[ \t]*$")


def protect_questions(lines: list[str]) -> list[str]:
    """Input transformer: `%chat Why?` is a prompt, not IPython's `?` help request."""
    if not lines or lines[0].lstrip().startswith("%%"):
        return lines
    result = []
    for line in lines:
        match = _QUESTION.match(line.rstrip("\r\n"))
        if match:
            indent, args = match.groups()
            newline = "\n" if line.endswith("\n") else ""
            line = f"{indent}get_ipython().run_line_magic('chat', {args!r}){newline}"
        result.append(line)
    return result


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (fast: no httpx, markdown-it or ipywidgets import)."""
    ipython.register_magics(ChatMagics)
    cleanup = getattr(ipython, "input_transformers_cleanup", None)
    if cleanup is not None and protect_questions not in cleanup:
        cleanup.append(protect_questions)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and their configurable."""
    manager = ipython.magics_manager
    instance = manager.registry.pop("ChatMagics", None)
    for kind, names in (
        ("line", ("chat", "models", "chat_history", "chat_key", "chat_panel")),
        ("cell", ("chat",)),
    ):
        for name in names:
            manager.magics[kind].pop(name, None)
    cleanup = getattr(ipython, "input_transformers_cleanup", [])
    if protect_questions in cleanup:
        cleanup.remove(protect_questions)
    if instance is not None and instance in getattr(ipython, "configurables", []):
        ipython.configurables.remove(instance)


__all__ = ["ChatMagics", "load_ipython_extension", "unload_ipython_extension"]
