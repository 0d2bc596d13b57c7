"""The magics' arguments: the `%%chat` parser derived from the option declaration, and parsing helpers.

Bad input raises IPython's `UsageError`: one short message, no traceback, and the cell fails, so
Run All stops at the cause instead of failing later with a NameError.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .. import options as opts

_TOKEN = re.compile(r"\s*(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\S+)")
F = Callable[..., Any]


def _argument_for(name: str) -> F:
    spec, kind = opts.spec(name), opts.base_type(name)
    kwargs: dict[str, Any] = {"dest": name, "help": spec.help, "default": None}
    if kind is bool:
        kwargs["action"] = "store_false" if spec.negate else "store_true"
    elif kind in (tuple, dict):
        kwargs["action"] = "append"
    elif kind in (int, float):
        kwargs["type"] = kind
    if spec.choices:
        kwargs["choices"] = spec.choices
    if spec.metavar and kind is not bool:
        kwargs["metavar"] = spec.metavar
    return argument(*spec.flags, **kwargs)


def chat_arguments(func: F) -> F:
    """`@magic_arguments` with one `@argument` per option the magics offer, in declaration order."""
    for name in reversed([n for n in opts.names(opts.MAGIC) if opts.spec(n).flags]):
        func = _argument_for(name)(func)
    return magic_arguments()(func)


def usage(func: Any) -> str:
    """The magic's usage line, on one line."""
    return " ".join(func.parser.format_usage().replace("::", "").split())


def parse(func: Any, text: str, expand: Callable[[str], str] = str) -> argparse.Namespace:
    """Parse `text` with the magic's parser; UsageError (the problem, then the usage) when it is wrong."""
    try:
        args = parse_argstring(func, expand(text))
    except (UsageError, SystemExit) as exc:
        detail = str(exc) if isinstance(exc, UsageError) else "invalid arguments"
        raise UsageError(f"{detail}\n{usage(func)}") from None
    for name, value in vars(args).items():  # IPython splits non-POSIX: quotes are kept
        setattr(args, name, [unquote(v) for v in value] if isinstance(value, list) else unquote(value))
    return args


def options_from(args: argparse.Namespace, base: opts.ChatOptions) -> opts.ChatOptions:
    """`base` with every option given on the line; a value out of bounds is a UsageError."""
    changes: dict[str, Any] = {}
    for name in opts.names(opts.MAGIC):
        value = getattr(args, name, None)
        if value is None:
            continue
        kind = opts.base_type(name)
        if kind is dict:
            value = headers(value)
        elif kind is tuple:
            value = tuple(value)
        changes[name] = value
    try:
        return base.replace(**changes)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def headers(values: list[str]) -> dict[str, str]:
    """`--header 'Name: value'` (repeated) as a dict."""
    if not all(":" in value for value in values):
        raise UsageError("--header takes 'Name: value'")
    pairs = [value.split(":", 1) for value in values]
    return {name.strip(): value.strip() for name, value in pairs}


def split_options(line: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
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


def unquote(value: Any) -> Any:
    """'text' or "text" without its quotes (IPython's non-POSIX split keeps them)."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


__all__ = ["chat_arguments", "headers", "options_from", "parse", "split_options", "unquote", "usage"]
