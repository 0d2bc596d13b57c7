"""What a replay file holds: the canonical request and its fingerprint, and the reply's items as JSON.

One exchange is one line (see docs/replay.md): `{"v", "fingerprint", "recorded_at", "request",
"items"}`, where `request` is the canonical request (base URL without credentials, endpoint, body as
sent, media replaced by their hash) and `items` the reply as `[seconds, kind, value]` triples.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from . import arguments, errors
from .responses import FinishReason, ImageResponse, ProviderInfo, Reasoning, ToolCalls, Usage
from .secret import Secret, reveal

VERSION = 1
# A base64 data URI in a request (an attached image, audio, PDF) is fingerprinted and written as the
# hash of its payload, not carried whole.
_DATA_URI = re.compile(r"data:([^;,]*)((?:;[^;,]*)*?);base64,", re.ASCII)

Request = dict[str, Any]
Entry = dict[str, Any]


def canonical_request(base: str, endpoint: str, body: dict[str, Any] | None = None) -> Request:
    """The request as it is fingerprinted and written: plain JSON values, media as their hash.

    `body` is the request body as it would be sent (the same JSON errors as sending it).
    """
    request: Request = {"base": base, "endpoint": endpoint}
    if body is not None:
        request["body"] = _hash_media(json.loads(arguments.json_body(body)))
    return request


def fingerprint(request: Request) -> str:
    """`sha256:<hex>` of the request's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _hash_media(value: Any) -> Any:
    if isinstance(value, str):
        match = _DATA_URI.match(value)
        if match:
            digest = hashlib.sha256(value[match.end() :].encode()).hexdigest()
            return f"data:{match.group(1)}{match.group(2)};sha256,{digest}"
        return value
    if isinstance(value, list):
        return [_hash_media(item) for item in value]
    if isinstance(value, dict):
        return {key: _hash_media(item) for key, item in value.items()}
    return value


# --- items --------------------------------------------------------------------------------------

# The item types a reply is made of, as (kind, value); RetryWait and anything else is not recorded.
_ENCODERS: dict[type, Callable[[Any], tuple[str, Any]]] = {
    str: lambda item: ("text", item),
    Reasoning: lambda item: ("reasoning", item.text),
    ProviderInfo: lambda item: ("info", {"model": item.model, "provider": item.provider}),
    ToolCalls: lambda item: ("tool_calls", item.calls),
    FinishReason: lambda item: ("finish", item.reason),
    Usage: lambda item: ("usage", item.to_dict()),
    ImageResponse: lambda item: ("images", {"alt": item.alt, "images": item.images}),
}


def encode(item: Any) -> tuple[str, Any] | None:
    """`(kind, value)` of a reply item, or None for one that is not recorded (`RetryWait`)."""
    encoder = _ENCODERS.get(type(item))
    return encoder(item) if encoder is not None else None


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
        raise ValueError("expected a list of strings")
    return list(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("expected an object")
    return value


def _calls(value: Any) -> ToolCalls:
    if not isinstance(value, list) or not all(isinstance(call, dict) for call in value):
        raise ValueError("expected a list of tool calls")
    return ToolCalls(copy.deepcopy(value))


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "reasoning": lambda value: Reasoning(_text(value)),
    "info": lambda value: ProviderInfo(_text(_object(value)["provider"]), _text(value["model"])),
    "tool_calls": _calls,
    "finish": lambda value: FinishReason(_text(value)),
    "usage": lambda value: Usage.from_dict(copy.deepcopy(_object(value))),
    "images": lambda value: ImageResponse(_strings(_object(value)["images"]), _text(value["alt"])),
    "models": lambda value: (_strings(_object(value)["models"]), _strings(value["image_models"])),
}


def decode(kind: str, value: Any) -> Any:
    """A fresh item from `(kind, value)` (ValueError, KeyError or TypeError when it is not one)."""
    return _DECODERS[kind](value)


def listing_value(models: list[str], image_models: list[str]) -> tuple[str, Any]:
    """A model listing as the one `(kind, value)` of its exchange."""
    return "models", {"image_models": image_models, "models": models}


# --- lines --------------------------------------------------------------------------------------


def line(request: Request, items: list[list[Any]], secrets: Iterable[str | Secret | None] = ()) -> bytes:
    """One exchange as a line of the file (ends with a newline), with every secret redacted."""
    entry = {
        "v": VERSION,
        "fingerprint": fingerprint(request),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "request": request,
        "items": items,
    }
    # The fields in this order, every object inside with sorted keys: a diff of a re-recorded line
    # shows what changed in the exchange, never a shuffle.
    dump = functools.partial(json.dumps, ensure_ascii=False, sort_keys=True)
    fields = (f"{json.dumps(name)}: {dump(value)}" for name, value in entry.items())
    text = "{" + ", ".join(fields) + "}"
    # Redacted as it is written in JSON too (a secret with a quote or backslash is escaped there).
    found = [reveal(s) for s in secrets if s]
    text = errors.redact(text, *found, *(json.dumps(s, ensure_ascii=False)[1:-1] for s in found if s))
    return text.encode() + b"\n"


def parse(raw: bytes) -> Entry:
    """A line read back, checked down to every item (ValueError when it is not a usable exchange)."""
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(entry, dict) or entry.get("v") != VERSION:
        raise ValueError(f"not a version {VERSION} exchange")
    if not isinstance(entry.get("fingerprint"), str) or not isinstance(entry.get("recorded_at"), str):
        raise ValueError("no fingerprint or recorded_at")
    items = entry.get("items")
    if not isinstance(items, list):
        raise ValueError("no items")
    for triple in items:
        if not (isinstance(triple, list) and len(triple) == 3 and isinstance(triple[1], str)):
            raise ValueError("an item is not [seconds, kind, value]")
        seconds = triple[0]
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds < math.inf:
            raise ValueError("an item's time is not a number of seconds")
        try:
            decode(triple[1], triple[2])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"an item of kind {triple[1]!r} cannot be read") from exc
    return entry


__all__ = [
    "VERSION",
    "Entry",
    "Request",
    "canonical_request",
    "decode",
    "encode",
    "fingerprint",
    "line",
    "listing_value",
    "parse",
]
