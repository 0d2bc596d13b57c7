"""Prompt interpolation that never breaks a prompt: `{name}`, `{name.attr}`, `{name[key]}`, `{In[3]}`.

Usage::

    from openai_magic.notebook.interpolate import interpolate

    result = interpolate('Summarize {doc.title} as {"a": 1}', user_ns)
    result.text          # 'Summarize My title as {"a": 1}'
    result.unresolved    # ['{missing}'] for name-like placeholders that did not resolve

A small scanner, not `str.format`: only `{` + a name + `.attr` / `[key]` accessors + `}` is a
placeholder (no spaces, no calls, no expressions). Everything else stays exactly as typed: JSON,
`{}`, `{{doubled}}`, code braces, f-strings, fenced code blocks. Placeholders whose name or
accessor does not resolve stay literal and are reported in `unresolved`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_KEY = r"\[(?:-?\d+|'[^'\]\n]*'|\"[^\"\]\n]*\"|[^\[\]{}'\"\s]+)\]"
_PLACEHOLDER = re.compile(r"\{(" + _NAME + r"(?:\." + _NAME + r"|" + _KEY + r")*)\}")
_ACCESSOR = re.compile(r"\.(" + _NAME + r")|\[([^\]]*)\]")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})", re.M)
_FSTRING = re.compile(
    r"(?<![A-Za-z0-9_])(?:[rRbB]?[fF]|[fF][rRbB])"
    r"(\"\"\"[\s\S]*?(?:\"\"\"|\Z)|'''[\s\S]*?(?:'''|\Z)|\"[^\"\n]*\"?|'[^'\n]*'?)"
)


@dataclass
class Interpolated:
    """The prompt after interpolation, with what was replaced and what was left as typed."""

    text: str
    replaced: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


class _Missing(Exception):
    pass


def _protected(text: str) -> list[tuple[int, int]]:
    """Spans never interpolated: fenced code blocks and f-string literals."""
    spans: list[tuple[int, int]] = []
    fences = list(_FENCE.finditer(text))
    i = 0
    while i < len(fences):
        opening = fences[i]
        marker = opening.group(1)
        closing = next(
            (
                j
                for j in range(i + 1, len(fences))
                if fences[j].group(1).startswith(marker[0]) and len(fences[j].group(1)) >= len(marker)
            ),
            None,
        )
        end = fences[closing].end() if closing is not None else len(text)
        spans.append((opening.start(), end))
        i = closing + 1 if closing is not None else len(fences)
    spans += [m.span() for m in _FSTRING.finditer(text)]
    return spans


def _key(raw: str) -> Any:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return raw


def resolve(expression: str, namespace: Mapping[str, Any]) -> Any:
    """The value of `name(.attr|[key])*` in `namespace`; raises LookupError when it does not resolve."""
    name = re.match(_NAME, expression)
    if name is None or name.group() not in namespace:
        raise LookupError(expression)
    value = namespace[name.group()]
    for match in _ACCESSOR.finditer(expression, name.end()):
        attr, key = match.groups()
        try:
            if attr is not None:
                if attr.startswith("__"):
                    raise LookupError(attr)
                value = getattr(value, attr)
            else:
                value = value[_key(key)]
        except Exception as exc:  # any failing lookup leaves the placeholder as typed
            raise LookupError(expression) from exc
    return value


def interpolate(text: str, namespace: Mapping[str, Any]) -> Interpolated:
    """Replace resolvable placeholders with their values' text; leave everything else as typed."""
    protected = _protected(text)
    out: list[str] = []
    result = Interpolated(text)
    last = 0
    for match in _PLACEHOLDER.finditer(text):
        start, end = match.span()
        if (start > 0 and text[start - 1] == "{") or (end < len(text) and text[end] == "}"):
            continue  # {{doubled}} braces are a template, not ours
        if any(a <= start < b for a, b in protected):
            continue
        try:
            value = resolve(match.group(1), namespace)
        except LookupError:
            if match.group() not in result.unresolved:
                result.unresolved.append(match.group())
            continue
        out.append(text[last:start])
        out.append(value if isinstance(value, str) else str(value))
        result.replaced.append(match.group())
        last = end
    out.append(text[last:])
    result.text = "".join(out)
    return result


def notice(unresolved: list[str]) -> str:
    """One short line naming placeholders left as typed."""
    return "Left as typed (not defined): " + ", ".join(unresolved) + "  (use --raw to turn interpolation off)"


__all__ = ["Interpolated", "interpolate", "notice", "resolve"]
