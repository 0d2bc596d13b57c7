"""Tool calls of the demo models: which function to call, arguments that fit its JSON schema, and the
`demo-tools` answer that quotes the results. Pure functions; `demo_model` assembles the reply.

`demo-tools` obeys `[demo tool=NAME key=value ...]` directives (one call each, so two directives make
two parallel calls), `bad=json|missing|type` in one (arguments that a client must refuse), and
`[demo steps=N]` (call again in N replies in a row). See docs/demo-server.md.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from .errors import bad_request

BAD_KINDS = ("json", "missing", "type")
MAX_STEPS_DIRECTIVE = 50
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?<!\w)'([^']+)'(?!\w)")
_WRONG: dict[str | None, Any] = {"string": 12345, "integer": "not a number", "number": "not a number"}
_WRONG["boolean"] = "yes"
_WRONG.update({"array": "not a list", "object": "not an object"})


@dataclass
class ToolDirective:
    """One `[demo tool=NAME key=value ...]`: call NAME with these values (typed by its schema)."""

    name: str
    values: dict[str, str] = field(default_factory=dict)
    bad: str | None = None


def parse_tool_directive(body: str) -> ToolDirective:
    """Read the inside of one tool directive (`tool=lookup city="New York" bad=json`)."""
    try:
        items = shlex.split(body)
    except ValueError:
        raise bad_request(
            f"Invalid demo directive [demo {body}]: unbalanced quotes.", param="messages"
        ) from None
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise bad_request(f"Invalid demo directive [demo {body}]: expected key=value.", param="messages")
        values[key] = value
    name = values.pop("tool", "")
    bad = values.pop("bad", None)
    if not _NAME.fullmatch(name) or (bad is not None and bad not in BAD_KINDS):
        raise bad_request(
            f"Invalid demo directive [demo {body}]: tool=NAME (1-64 letters, digits, _ or -), "
            f"bad= one of {', '.join(BAD_KINDS)}.",
            param="messages",
        )
    return ToolDirective(name, values, bad)


def pick(functions: list[dict[str, Any]], tool_choice: Any, prompt: str) -> dict[str, Any] | None:
    """The function the prompt asks for without a directive: forced by `tool_choice`, named in the
    prompt, or the first one for "use a tool" / `tool_choice: "required"`."""
    if isinstance(tool_choice, dict):
        wanted = (tool_choice.get("function") or {}).get("name")
        return next((f for f in functions if f["name"] == wanted), None)
    lowered = prompt.lower()
    named = [f for f in functions if re.search(rf"\b{re.escape(f['name'].lower())}\b", lowered)]
    if named:
        return named[0]
    if tool_choice == "required" or "use a tool" in lowered:
        return functions[0]
    return None


def steps_done(messages: list[dict[str, Any]]) -> int:
    """How many replies since the last user message asked for tool calls."""
    done = 0
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        if message.get("role") == "assistant" and message.get("tool_calls"):
            done += 1
    return done


def plan(
    tools: list[dict[str, Any]],
    tool_choice: Any,
    messages: list[dict[str, Any]],
    prompt: str,
    directives: list[ToolDirective],
    steps: int,
) -> list[tuple[str, str]]:
    """The `demo-tools` calls for this reply as (name, arguments JSON text); [] to answer in text."""
    if not tools or tool_choice == "none" or steps_done(messages) >= steps:
        return []
    functions = [t["function"] for t in tools]
    by_name = {f["name"]: f for f in functions}
    if not directives:
        picked = pick(functions, tool_choice, prompt)
        directives = [ToolDirective(picked["name"])] if picked else []
    # A name that is not offered is still called (clients must handle unknown names).
    return [(d.name, arguments(d, by_name.get(d.name), prompt)) for d in directives]


def arguments(directive: ToolDirective, function: dict[str, Any] | None, prompt: str) -> str:
    """Arguments as JSON text: the directive's values typed by the schema, every other required
    property filled with a fitting value; spoiled on purpose with `bad=`."""
    parameters = (function or {}).get("parameters") or {}
    properties = parameters.get("properties") or {}
    defs = parameters.get("$defs") or {}
    required = [name for name in parameters.get("required") or [] if name in properties]
    args = {name: fitting_value(name, properties[name], prompt, defs) for name in required}
    for key, raw in directive.values.items():
        args[key] = typed(raw, properties.get(key) or {})
    if directive.bad == "missing":
        args = {k: v for k, v in args.items() if k not in required}
    elif directive.bad == "type":
        args = {k: _WRONG.get(_kind(properties.get(k) or {}), v) for k, v in args.items()}
    text = json.dumps(args, ensure_ascii=False)
    return text[: max(1, len(text) // 2)] if directive.bad == "json" else text


def _kind(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def fitting_value(
    name: str, schema: Any, prompt: str, defs: dict[str, Any] | None = None, depth: int = 0
) -> Any:
    """A value of the type `schema` asks for (the first enum choice, a number, a word of the prompt)."""
    if not isinstance(schema, dict) or depth > 8:
        return name
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and defs:
        return fitting_value(name, defs.get(ref.rsplit("/", 1)[1]), prompt, defs, depth + 1)
    for union in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(union) or [] if isinstance(b, dict) and b.get("type") != "null"]
        if branches:
            return fitting_value(name, branches[0], prompt, defs, depth + 1)
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = _kind(schema)
    if kind == "object":
        properties = schema.get("properties") or {}
        required = [k for k in schema.get("required") or [] if k in properties]
        return {k: fitting_value(k, properties[k], prompt, defs, depth + 1) for k in required}
    simple = {"integer": 3, "number": 42.5, "boolean": True, "array": [], "null": None}
    if kind in simple:
        return simple[kind]
    return _word(name, prompt)


def _word(name: str, prompt: str) -> str:
    """A string from the prompt: the first quoted text, else its last capitalised word."""
    text = re.sub(r"\[demo\s+[^\]]*\]", "", prompt, flags=re.I)
    quoted = _QUOTED.search(text)
    if quoted:
        return next(g for g in quoted.groups() if g)
    words = re.findall(r"[A-Za-z][\w-]*", text)
    proper = [w for w in words[1:] if w[0].isupper()]
    return proper[-1] if proper else words[-1] if words else name


def typed(raw: str, schema: dict[str, Any]) -> Any:
    """A directive's text value as the property's JSON type; text that does not fit stays a string."""
    kind = _kind(schema)
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean" and raw.lower() in {"true", "false"}:
            return raw.lower() == "true"
        if kind == "null" and raw == "null":
            return None
        if kind == "array":
            items: dict[str, Any] = schema["items"] if isinstance(schema.get("items"), dict) else {}
            return [typed(part, items) for part in raw.split(",")] if raw else []
        if kind == "object":
            return json.loads(raw)
    except ValueError:
        pass
    return raw


def results_answer(messages: list[dict[str, Any]]) -> str | None:
    """The `demo-tools` answer once results came back: each tool message since the last user
    message quoted, in order, with the name of the call it answers; None when there are none."""
    names: dict[str, str] = {}
    quoted: list[str] = []
    for message in messages:
        role = message.get("role")
        if role == "user":
            names.clear()
            quoted.clear()
        elif role == "assistant":
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    names[str(call.get("id"))] = str((call.get("function") or {}).get("name", "?"))
        elif role == "tool":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            short = " ".join(text.split())
            short = short if len(short) <= 300 else short[:297] + "..."
            quoted.append(f"- `{names.get(str(message.get('tool_call_id')), '?')}` returned: {short}")
    if not quoted:
        return None
    count = f"{len(quoted)} tool result" + ("" if len(quoted) == 1 else "s")
    return (
        "Here is what the tools returned:\n\n" + "\n".join(quoted) + f"\n\nThat is my answer from {count}.\n"
    )


__all__ = [
    "BAD_KINDS",
    "MAX_STEPS_DIRECTIVE",
    "ToolDirective",
    "arguments",
    "fitting_value",
    "parse_tool_directive",
    "pick",
    "plan",
    "results_answer",
    "steps_done",
    "typed",
]
