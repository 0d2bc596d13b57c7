"""A Python function as an OpenAI tool definition: JSON schema from its signature, hints and docstring.

`schema(fn)` gives `{"type": "function", "function": {"name", "description", "parameters"}}`.
Parameters without a default are required; a default of None (or an `Optional` hint) makes `null`
acceptable; unknown names are refused (`additionalProperties: false`) unless the function takes
`**kwargs`. pydantic models use pydantic's own schema (pydantic is imported only if it is installed).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from . import docstrings

Schema = dict[str, Any]

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
# Type names a docstring may give for a parameter that has no annotation.
_DOC_TYPES = {
    "str": "string",
    "string": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "dict": "object",
}
_ARRAYS = (list, Sequence, Iterable, AbstractSet, set, frozenset)
_OBJECTS = (dict, Mapping)
_NULL: Schema = {"type": "null"}


def schema(tool: Callable[..., Any] | Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAI tool definition of `tool`; a dict (already a definition) is returned unchanged."""
    if isinstance(tool, Mapping):
        return tool  # type: ignore[return-value]  # raw definitions pass through as given
    if not callable(tool):
        raise TypeError(f"a tool is a function or a tool definition dict, not {type(tool).__name__}")
    name = function_name(tool)
    doc = docstrings.parse(_doc(tool))
    function: dict[str, Any] = {"name": name}
    if doc.description:
        function["description"] = doc.description
    function["parameters"] = parameters(tool, doc)
    return {"type": "function", "function": function}


def function_name(fn: Callable[..., Any]) -> str:
    """The name the model calls `fn` by: its `__name__` (a model only accepts `[A-Za-z0-9_-]{1,64}`)."""
    inner = _unwrap(fn)
    name = getattr(inner, "__name__", None) if _is_plain(inner) else type(inner).__name__
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"a tool needs a name of 1-64 letters, digits, _ or -, not {name!r}: define it with def"
        )
    return name


def _unwrap(fn: Callable[..., Any]) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _is_plain(fn: Any) -> bool:
    """A function, method or class, as opposed to an instance with a `__call__` method."""
    return inspect.isroutine(fn) or inspect.isclass(fn)


def _hinted(fn: Callable[..., Any]) -> Any:
    """What holds the parameter hints: the function, a class's `__init__`, an instance's `__call__`."""
    inner = _unwrap(fn)
    if inspect.isclass(inner):
        return inner.__init__
    return inner if inspect.isroutine(inner) else type(inner).__call__


def _doc(fn: Callable[..., Any]) -> str | None:
    inner = _unwrap(fn)
    return inspect.getdoc(inner) or inspect.getdoc(_hinted(fn))


def type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """The resolved type hints of `fn`'s parameters (with `Annotated` kept)."""
    try:
        return typing.get_type_hints(_hinted(fn), include_extras=True)
    except Exception as exc:  # NameError for a hint naming something undefined, TypeError...
        raise TypeError(f"cannot read the type hints of {function_name(fn)}: {exc}") from None


def parameters(fn: Callable[..., Any], doc: docstrings.Docstring | None = None) -> Schema:
    """The JSON schema of `fn`'s arguments as one object."""
    doc = doc or docstrings.parse(_doc(fn))
    hints = type_hints(fn)
    properties: dict[str, Schema] = {}
    required: list[str] = []
    definitions: dict[str, Schema] = {}
    extra: Schema | bool = False
    for param in inspect.signature(fn).parameters.values():
        where = f"parameter {param.name!r} of {function_name(fn)}"
        hint = hints.get(param.name, param.annotation)
        if param.kind is param.VAR_POSITIONAL:
            continue  # cannot be passed by name
        if param.kind is param.VAR_KEYWORD:
            extra = _param_schema(hint, doc.types.get(param.name), where, definitions) or True
            continue
        prop = _param_schema(hint, doc.types.get(param.name), where, definitions)
        if param.default is param.empty:
            required.append(param.name)
        else:
            if param.default is None:
                prop = nullable(prop)
            default = _json_default(param.default)
            if default is not _NO_DEFAULT:
                prop["default"] = default
        if doc.params.get(param.name) and "description" not in prop:
            prop["description"] = doc.params[param.name]
        properties[param.name] = prop
    result: Schema = {"type": "object", "properties": properties, "required": required}
    result["additionalProperties"] = extra
    if definitions:
        result["$defs"] = definitions
    return result


def _param_schema(hint: Any, doc_type: str | None, where: str, definitions: dict[str, Schema]) -> Schema:
    if hint is inspect.Parameter.empty:
        kind = _DOC_TYPES.get((doc_type or "").split(",")[0].strip().lower())
        return {"type": kind} if kind else {}
    return type_schema(hint, where, definitions)


def type_schema(hint: Any, where: str = "a value", definitions: dict[str, Schema] | None = None) -> Schema:
    """The JSON schema of values of type `hint`; `definitions` collects pydantic `$defs`."""
    definitions = {} if definitions is None else definitions
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        result = type_schema(args[0], where, definitions)
        notes = [a for a in args[1:] if isinstance(a, str)]
        if notes:
            result["description"] = " ".join(notes)
        return result
    if hint is Any or hint is object:
        return {}
    if hint is None or hint is type(None):
        return dict(_NULL)
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if origin is Union or origin is types.UnionType:
        return _union(args, where, definitions)
    if origin is Literal:
        return _enum(list(args), where)
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):
        return _enum([member.value for member in hint], where)
    if _is_pydantic_model(hint):
        return _pydantic(hint, definitions)
    if typing.is_typeddict(hint):
        return _typed_dict(hint, where, definitions)
    if inspect.isclass(hint) and dataclasses.is_dataclass(hint):
        return _dataclass(hint, where, definitions)
    container = origin or hint
    if container is tuple:
        return _tuple(args, where, definitions)
    if inspect.isclass(container) and issubclass(container, _OBJECTS):
        values = args[1] if len(args) == 2 else Any
        result = {"type": "object"}
        inner = type_schema(values, where, definitions)
        if inner:
            result["additionalProperties"] = inner
        return result
    if (
        inspect.isclass(container)
        and issubclass(container, _ARRAYS)
        and not issubclass(container, str | bytes | bytearray)
    ):
        result = {"type": "array"}
        inner = type_schema(args[0], where, definitions) if args else {}
        if inner:
            result["items"] = inner
        if container in (set, frozenset, AbstractSet):
            result["uniqueItems"] = True
        return result
    raise TypeError(f"{where}: no JSON schema for type {getattr(hint, '__name__', hint)!r}")


def nullable(prop: Schema) -> Schema:
    """`prop` that also accepts null."""
    kind = prop.get("type")
    if not prop or kind == "null" or (isinstance(kind, list) and "null" in kind):
        return prop
    if any(_accepts_null(branch) for branch in prop.get("anyOf", [])):
        return prop
    if isinstance(kind, str) and not ({"$ref", "anyOf", "allOf", "oneOf"} & prop.keys()):
        result = {**prop, "type": [kind, "null"]}
        if "enum" in prop:
            result["enum"] = [*prop["enum"], None]
        return result
    if "anyOf" in prop and len(prop) == 1:
        return {"anyOf": [*prop["anyOf"], dict(_NULL)]}
    return {"anyOf": [prop, dict(_NULL)]}


def _accepts_null(branch: Schema) -> bool:
    kind = branch.get("type")
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


def _union(args: tuple[Any, ...], where: str, definitions: dict[str, Schema]) -> Schema:
    others = [a for a in args if a is not type(None)]
    if len(others) == 1:
        result = type_schema(others[0], where, definitions)
    else:
        result = {"anyOf": [type_schema(a, where, definitions) for a in others]}
    return nullable(result) if len(others) < len(args) else result


def _enum(values: list[Any], where: str) -> Schema:
    kinds = {_json_type(v, where) for v in values}
    result: Schema = {"type": kinds.pop()} if len(kinds) == 1 else {}
    result["enum"] = values
    return result


def _json_type(value: Any, where: str) -> str:
    if value is None:
        return "null"
    for python_type, name in _SCALARS.items():
        if type(value) is python_type:
            return name
    raise TypeError(f"{where}: a choice must be a string, number, boolean or None, not {value!r}")


def _tuple(args: tuple[Any, ...], where: str, definitions: dict[str, Schema]) -> Schema:
    if not args or args == ((),):
        return {"type": "array"} if not args else {"type": "array", "maxItems": 0}
    if len(args) == 2 and args[1] is Ellipsis:
        inner = type_schema(args[0], where, definitions)
        return {"type": "array", "items": inner} if inner else {"type": "array"}
    items = [type_schema(a, where, definitions) for a in args]
    return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}


def _typed_dict(hint: Any, where: str, definitions: dict[str, Schema]) -> Schema:
    fields = typing.get_type_hints(hint, include_extras=True)
    properties = {
        name: type_schema(_strip_required(value), where, definitions) for name, value in fields.items()
    }
    # The wrappers decide when the class was made with string annotations (its key sets can't tell).
    required = [
        name
        for name, value in fields.items()
        if get_origin(value) is typing.Required
        or (name in hint.__required_keys__ and get_origin(value) is not typing.NotRequired)
    ]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _strip_required(hint: Any) -> Any:
    origin = get_origin(hint)
    return get_args(hint)[0] if origin in (typing.Required, typing.NotRequired) else hint


def _dataclass(hint: Any, where: str, definitions: dict[str, Schema]) -> Schema:
    hints = typing.get_type_hints(hint, include_extras=True)
    properties: dict[str, Schema] = {}
    required: list[str] = []
    for item in dataclasses.fields(hint):
        if not item.init:
            continue
        prop = type_schema(hints.get(item.name, Any), where, definitions)
        if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            required.append(item.name)
        elif (default := _json_default(item.default)) is not _NO_DEFAULT:
            prop["default"] = default
        properties[item.name] = prop
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _is_pydantic_model(hint: Any) -> bool:
    pydantic = sys.modules.get("pydantic")  # a model class exists only if pydantic was imported
    return pydantic is not None and inspect.isclass(hint) and issubclass(hint, pydantic.BaseModel)


def _pydantic(model: Any, definitions: dict[str, Schema]) -> Schema:
    """pydantic's own schema; its `$defs` move to the parameters' root, where `$ref`s point."""
    result: Schema = model.model_json_schema(ref_template="#/$defs/{model}")
    definitions.update(result.pop("$defs", {}))
    return result


_NO_DEFAULT = object()


def _json_default(value: Any) -> Any:
    """A default as JSON (an Enum by its value), or `_NO_DEFAULT` when it has no JSON form."""
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return _NO_DEFAULT
    return value


__all__ = ["NAME_PATTERN", "function_name", "nullable", "parameters", "schema", "type_hints", "type_schema"]
