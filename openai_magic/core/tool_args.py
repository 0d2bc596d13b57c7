"""The arguments a model sends for a tool call: decoded, checked against the schema, bound to Python.

Only `json.loads` ever touches the model's text (nothing is evaluated). The check covers what
`tool_schema` generates (types, enums, required and unknown names, items, nested objects, unions);
pydantic models are left to pydantic, which validates them while they are built.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Union, get_args, get_origin

from .tool_schema import Schema, type_hints

_MAX_ERRORS = 5


class ArgumentError(ValueError):
    """The model's arguments do not fit the function (the call is refused, not made)."""


def decode(raw: Any) -> dict[str, Any] | str:
    """The arguments as a dict when they are a JSON object ("" counts as {}), else the raw text."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        return str(raw)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, dict) else raw


def parse(raw: Any) -> dict[str, Any]:
    """The arguments as a JSON object, or `ArgumentError` saying why they are not one."""
    decoded = decode(raw)
    if isinstance(decoded, dict):
        return decoded
    try:
        value = json.loads(decoded)
    except ValueError as exc:
        raise ArgumentError(f"the arguments are not valid JSON ({exc})") from None
    raise ArgumentError(f"the arguments must be a JSON object, not {_json_name(value)}")


def check(value: Any, schema: Schema, path: str = "") -> list[str]:
    """What is wrong with `value` against `schema` (empty when it fits)."""
    problems: list[str] = []
    _check(value, schema, path, problems)
    return problems[:_MAX_ERRORS]


def _check(value: Any, schema: Schema, path: str, problems: list[str]) -> None:
    if not isinstance(schema, dict) or "$ref" in schema:
        return  # pydantic models validate themselves when they are built
    if "anyOf" in schema:
        if not any(not check(value, branch) for branch in schema["anyOf"]):
            problems.append(f"{_where(path)}: {_shown(value)} fits none of the accepted types")
        return
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
    if kinds and not any(_is(value, k) for k in kinds):
        wanted = " or ".join(_ARTICLE.get(k, k) for k in kinds)
        problems.append(f"{_where(path)}: expected {wanted}, got {_shown(value)}")
        return
    if "enum" in schema and not any(_same(value, choice) for choice in schema["enum"]):
        choices = ", ".join(json.dumps(c) for c in schema["enum"])
        problems.append(f"{_where(path)}: {_shown(value)} is not one of {choices}")
        return
    if isinstance(value, dict):
        _check_object(value, schema, path, problems)
    elif isinstance(value, list):
        _check_array(value, schema, path, problems)


def _check_object(value: dict[str, Any], schema: Schema, path: str, problems: list[str]) -> None:
    properties = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if name not in value:
            problems.append(f"missing required argument {_join(path, name)!r}")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            _check(item, properties[name], _join(path, name), problems)
        elif extra is False:
            known = ", ".join(properties) or "none"
            problems.append(f"unknown argument {_join(path, name)!r} (accepted: {known})")
        elif isinstance(extra, dict):
            _check(item, extra, _join(path, name), problems)


def _check_array(value: list[Any], schema: Schema, path: str, problems: list[str]) -> None:
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            problems.append(f"{_where(path)}: expected {len(prefix)} items, got {len(value)}")
            return
        for index, (item, inner) in enumerate(zip(value, prefix, strict=False)):
            _check(item, inner, f"{path}[{index}]", problems)
        return
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        problems.append(f"{_where(path)}: at most {schema['maxItems']} items, got {len(value)}")
    inner = schema.get("items")
    if isinstance(inner, dict):
        for index, item in enumerate(value):
            _check(item, inner, f"{path}[{index}]", problems)
            if len(problems) >= _MAX_ERRORS:
                return


_ARTICLE = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    types_of = {"string": str, "boolean": bool, "array": list, "object": dict}
    if kind in types_of:
        return isinstance(value, types_of[kind])
    return value is None if kind == "null" else True


def _same(value: Any, choice: Any) -> bool:
    return bool(value == choice) and isinstance(value, bool) == isinstance(choice, bool)


def _json_name(value: Any) -> str:
    for kind, article in _ARTICLE.items():
        if kind != "integer" and _is(value, kind):
            return article
    return type(value).__name__


def _where(path: str) -> str:
    return f"argument {path!r}" if path else "the arguments"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def bind(fn: Callable[..., Any], arguments: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments for `fn`, each value converted to its parameter's hint
    (an Enum member from its value, a pydantic model or dataclass from an object, a tuple from a list)."""
    hints = type_hints(fn)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    rest = dict(arguments)
    try:
        for param in inspect.signature(fn).parameters.values():
            if param.kind is param.VAR_POSITIONAL or param.name not in rest:
                continue
            if param.kind is param.VAR_KEYWORD:
                break
            value = convert(hints.get(param.name, Any), rest.pop(param.name))
            if param.kind is param.POSITIONAL_ONLY:
                args.append(value)
            else:
                kwargs[param.name] = value
    except (TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise ArgumentError(f"{type(exc).__name__}: {exc}") from None
    kwargs.update(rest)  # what is left goes to **kwargs (the schema refused it otherwise)
    return args, kwargs


def convert(hint: Any, value: Any) -> Any:
    """`value` (decoded JSON) as the Python type `hint` asks for, where the two differ."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        return convert(args[0], value)
    if value is None:
        return None
    if origin is Union or origin is types.UnionType:
        others = [a for a in args if a is not type(None)]
        return convert(others[0], value) if len(others) == 1 else value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):
        return hint(value)
    if inspect.isclass(hint) and hasattr(hint, "model_validate"):  # a pydantic model
        return hint.model_validate(value)
    if inspect.isclass(hint) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        fields = typing.get_type_hints(hint)
        return hint(**{k: convert(fields.get(k, Any), v) for k, v in value.items()})
    if isinstance(value, list):
        return _convert_list(origin or hint, args, value)
    if isinstance(value, dict) and len(args) == 2:
        return {k: convert(args[1], v) for k, v in value.items()}
    return value


def _convert_list(container: Any, args: tuple[Any, ...], value: list[Any]) -> Any:
    if container is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], v) for v in value)
        if args:
            return tuple(convert(a, v) for a, v in zip(args, value, strict=False))
        return tuple(value)
    items = [convert(args[0], v) for v in value] if args else list(value)
    if container in (set, frozenset):
        return container(items)
    return items


__all__ = ["ArgumentError", "bind", "check", "convert", "decode", "parse"]
