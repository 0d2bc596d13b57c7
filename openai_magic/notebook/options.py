"""Every chat option, declared once: a `ChatOptions` field whose metadata says how each surface shows it.

A field's `option(...)` metadata holds its magic flags, help, bounds, choices, whether it goes into the
request body, and which surfaces offer it:

- "magic": an argument of `%%chat` / `%chat` (`magics/arguments.py` builds the parser from it);
- "config": a `ChatMagics` trait, so `%config ChatMagics.<name>` sets a default (`magics/config.py`);
- "panel": a `ChatPanel(**params)` keyword (and a parameter widget when `widget` is set; `panel_params.py`).

Adding an option is one field here plus its test; the request's sampling fields, the magic arguments,
the traits, the panel's keywords and widgets follow. Importing this module is cheap (no httpx).

    opts = ChatOptions(model="demo-chat", temperature=0.2)
    opts.replace(max_tokens=100)               # a validated copy
    ChatOptions.from_params("panel", **params) # TypeError for a keyword the surface does not take
    opts.sampling()                            # the request-body fields that are set
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

FORMATS = ("markdown", "text", "code", "html", "json")
DEFAULT_CONVERSATION = "default"

MAGIC, CONFIG, PANEL = "magic", "config", "panel"
EVERYWHERE = frozenset({MAGIC, CONFIG, PANEL})
TURN = frozenset({MAGIC, PANEL})  # shapes one turn; not a session default


@dataclass(frozen=True)
class Spec:
    """How one option appears on each surface."""

    flags: tuple[str, ...] = ()  # magic flags; the first long one names the argparse option
    help: str = ""
    surfaces: frozenset[str] = EVERYWHERE
    request: bool = False  # a field of the request body (sampling parameters)
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    negate: bool = False  # the flag turns a default-True option off (--no-stream)
    metavar: str | None = None
    widget: str | None = None  # the panel's parameter widget: "slider", "int", "textarea", "toggle"
    step: float | None = None  # slider step


def option(default: Any, *flags: str, factory: Any = None, **spec: Any) -> Any:
    """A `ChatOptions` field with its `Spec` (a dataclass field, so types and defaults stay typed)."""
    metadata = {"spec": Spec(flags=flags, **spec)}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class ChatOptions:
    """Everything that shapes one chat request and how its answer is shown (never the key)."""

    model: str | None = option(None, "-m", "--model", help="Model id (default: config, then the provider's).")
    provider: str | None = option(
        None, "-p", "--provider", help="Provider preset name or base URL (default: environment, then demo)."
    )
    system: str | None = option(None, "-s", "--system", help="System prompt.", widget="textarea")
    temperature: float | None = option(
        None,
        "-t",
        "--temperature",
        help="Sampling temperature.",
        request=True,
        minimum=0,
        maximum=2,
        widget="slider",
        step=0.05,
    )
    top_p: float | None = option(
        None,
        "--top-p",
        help="Nucleus sampling.",
        request=True,
        minimum=0,
        maximum=1,
        widget="slider",
        step=0.05,
    )
    max_tokens: int | None = option(
        None, "--max-tokens", help="Maximum tokens in the answer.", request=True, minimum=1, widget="int"
    )
    seed: int | None = option(None, "--seed", help="Sampling seed.", request=True, widget="int")
    stop: tuple[str, ...] | None = option(
        None, "--stop", help="Stop sequence (repeatable).", request=True, surfaces=TURN, metavar="TEXT"
    )
    stream: bool = option(True, "--no-stream", help="Ask for the whole answer at once.", negate=True)
    format: str = option(
        "markdown",
        "-f",
        "--format",
        help="markdown (default), text, code, html or json.",
        choices=FORMATS,
        surfaces=frozenset({MAGIC, CONFIG}),
    )
    image: bool = option(
        False, "--image", help="Generate images from the prompt.", surfaces=TURN, widget="toggle"
    )
    json: bool = option(False, "--json", help="Ask for a JSON object; -o stores it parsed.", surfaces=TURN)
    conversation: str = option(
        DEFAULT_CONVERSATION,
        "-c",
        "--conversation",
        help="Named thread (default: the default thread).",
        surfaces=TURN,
        metavar="NAME",
    )
    new: bool = option(False, "--new", help="Start the conversation afresh.", surfaces=TURN)
    history: bool = option(
        True,
        "--no-history",
        help="Send this prompt alone (not added to the thread).",
        negate=True,
        surfaces=TURN,
    )
    headers: dict[str, str] | None = option(
        None,
        "--header",
        help="Extra request header 'Name: value' (repeatable).",
        surfaces=TURN,
        metavar="'NAME: VALUE'",
    )
    media: tuple[str, ...] | None = option(
        None,
        "--media",
        help="Attach an image: a path, URL, data URI or variable (repeatable).",
        surfaces=frozenset({MAGIC}),
        metavar="PATH_OR_VAR",
    )
    out: str | None = option(
        None,
        "-o",
        "--out",
        help="Store the answer in this variable.",
        surfaces=frozenset({MAGIC}),
        metavar="VAR",
    )
    raw: bool = option(False, "--raw", help="No {name} interpolation.", surfaces=frozenset({MAGIC}))
    tools: tuple[Any, ...] | None = option(
        None,
        "--tools",
        help="Python functions the model may call: NAME[,NAME...] of functions or lists (repeatable).",
        surfaces=TURN,
        metavar="NAME[,NAME...]",
    )
    max_steps: int = option(
        8, "--max-steps", help="At most this many model replies in a tool loop.", minimum=1
    )
    confirm: bool = option(
        False,
        "--confirm",
        help="Ask before each tool call (allow, deny, allow all).",
        surfaces=TURN,
        widget="toggle",
    )
    timeout: float | None = option(None, "--timeout", help="Request timeout in seconds.", minimum=0)
    throttle: float = option(
        1 / 15,
        help="Minimum seconds between updates of the open Markdown block.",
        surfaces=frozenset({CONFIG}),
        minimum=0,
    )
    log: bool = option(
        True,
        help="Record every turn in the local SQLite log (docs/log.md); $OPENAI_MAGIC_LOG=0 turns it off.",
        surfaces=frozenset({CONFIG, PANEL}),
    )
    log_path: str | None = option(
        None,
        help="Where the log lives (default: $OPENAI_MAGIC_LOG, else the per-user data directory).",
        surfaces=frozenset({CONFIG, PANEL}),
    )
    replay_mode: str | None = option(
        None,
        help="Record answers to a replay file, or replay them: record, replay, auto or off (docs/replay.md).",
        choices=("record", "replay", "auto", "off"),
        surfaces=frozenset({CONFIG, PANEL}),
    )
    replay_path: str | None = option(
        None,
        help="The replay file (JSON Lines; default with a mode: $OPENAI_MAGIC_REPLAY).",
        surfaces=frozenset({CONFIG, PANEL}),
    )
    replay_speed: float | None = option(
        None,
        help="Replayed answers stream at this multiple of their recorded pace (0: at once).",
        minimum=0,
        surfaces=frozenset({CONFIG, PANEL}),
    )
    restore: bool = option(
        False,
        help="Load the thread's earlier turns from the log (after a kernel restart).",
        surfaces=frozenset({PANEL}),
    )
    use_keyring: bool = option(
        False,
        help="Look keys up in the system keyring (needs `keyring`).",
        surfaces=frozenset({CONFIG, PANEL}),
    )
    extra: dict[str, Any] = option(None, factory=dict, surfaces=frozenset())  # extra request-body fields

    SURFACES: ClassVar[tuple[str, ...]] = (MAGIC, CONFIG, PANEL)

    def __post_init__(self) -> None:
        for spec_field in fields():
            check(spec_field.name, getattr(self, spec_field.name))

    def replace(self, **changes: Any) -> ChatOptions:
        """A validated copy with `changes`; unknown names raise TypeError with close matches."""
        _known(changes, "ChatOptions")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_params(cls, surface: str, base: ChatOptions | None = None, **params: Any) -> ChatOptions:
        """Options from keyword arguments of `surface`; a keyword it does not offer is a TypeError."""
        allowed = {f.name for f in fields() if surface in spec(f.name).surfaces}
        owner = {PANEL: "ChatPanel", MAGIC: "%chat", CONFIG: "ChatMagics"}.get(surface, surface)
        _known(params, owner, allowed)
        return (base or cls()).replace(**params)

    def sampling(self) -> dict[str, Any]:
        """The request-body fields that are set."""
        result: dict[str, Any] = {}
        for f in fields():
            value = getattr(self, f.name)
            if spec(f.name).request and value is not None:
                result[f.name] = list(value) if isinstance(value, tuple) else value
        return result

    def parameters(self) -> dict[str, Any]:
        """What output metadata and the log record about the request (never a key)."""
        return {
            **self.sampling(),
            **({"system": self.system} if self.system else {}),
            "stream": self.stream,
            **({"json": True} if self.json else {}),
        }


def fields() -> tuple[dataclasses.Field[Any], ...]:
    """The option fields, in declaration order."""
    return dataclasses.fields(ChatOptions)


def spec(name: str) -> Spec:
    """The `Spec` of an option."""
    return _specs()[name]


def base_type(name: str) -> type:
    """The option's value type without `None`: str, float, int, bool, tuple (repeatable) or dict."""
    return _types()[name]


def names(surface: str) -> list[str]:
    """The options a surface offers, in declaration order."""
    return [f.name for f in fields() if surface in spec(f.name).surfaces]


def check(name: str, value: Any) -> None:
    """ValueError (naming the bounds) for a value out of range or not a choice; TypeError for a wrong type."""
    if value is None:
        return
    kind, rule = base_type(name), spec(name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is tuple and isinstance(value, list | tuple):
        if _item_types().get(name) is str and not all(isinstance(item, str) for item in value):
            raise TypeError(f"{name} takes strings")
        return
    if kind is dict and isinstance(value, dict):
        return
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise TypeError(f"{name} takes {kind.__name__}, not {type(value).__name__}")
    if rule.choices and value not in rule.choices:
        raise ValueError(f"{name} must be one of {', '.join(rule.choices)}, not {value!r}")
    low, high = rule.minimum, rule.maximum
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value:  # NaN
            raise ValueError(f"{name} must be a number, not nan")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else ""
            bounds = bounds or (f"at least {low:g}" if low is not None else f"at most {high:g}")
            raise ValueError(f"{name} must be {bounds}, not {value:g}")


def _known(given: dict[str, Any], owner: str, allowed: set[str] | None = None) -> None:
    allowed = allowed if allowed is not None else {f.name for f in fields()}
    for name in given:
        if name not in allowed:
            close = difflib.get_close_matches(name, sorted(allowed), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise TypeError(f"{owner} got an unexpected keyword argument {name!r}{hint}")


@cache
def _specs() -> dict[str, Spec]:
    return {f.name: f.metadata.get("spec", Spec()) for f in fields()}


@cache
def _item_types() -> dict[str, Any]:
    """The item type of each tuple option (`str` for --stop; anything for --tools)."""
    found: dict[str, Any] = {}
    for name, hint in typing.get_type_hints(ChatOptions).items():
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if typing.get_origin(hint) is tuple:
            found[name] = typing.get_args(hint)[0]
    return found


@cache
def _types() -> dict[str, type]:
    hints = typing.get_type_hints(ChatOptions)
    result: dict[str, type] = {}
    for name, hint in hints.items():
        if name == "SURFACES":
            continue
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        origin = typing.get_origin(hint) or hint
        result[name] = origin if isinstance(origin, type) else object
    return result


__all__ = [
    "CONFIG",
    "DEFAULT_CONVERSATION",
    "FORMATS",
    "MAGIC",
    "PANEL",
    "ChatOptions",
    "Spec",
    "base_type",
    "check",
    "fields",
    "names",
    "option",
    "spec",
]
