"""One reply's tool calls: which function and arguments each is, running them, their results as text.

`Toolset` holds the offered tools; `run` announces each call (`ToolCall`), refuses the ones that
cannot be made (unknown name, arguments that do not fit, a `confirm` that says no) with an error
`ToolResult`, then runs the rest (async functions together, sync ones through `bridge.in_caller`)
and yields each `ToolResult` as it completes.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import bridge, tool_args
from .responses import ToolCall, ToolResult
from .tool_schema import schema

MAX_RESULT_CHARS = 20_000  # a longer result is cut (read at call time: adjustable here)
DENIED = "denied by the user"

Confirm = Callable[[ToolCall], "bool | Awaitable[bool]"]


class _Refused(Exception):
    """A call that is not made; the message goes back to the model as its result."""


@dataclass(frozen=True)
class _Tool:
    name: str
    definition: dict[str, Any]
    function: Callable[..., Any] | None

    @property
    def is_async(self) -> bool:
        fn = self.function
        method = getattr(type(fn), "__call__", None)  # noqa: B004 - an instance's async __call__
        return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(method)


@dataclass(frozen=True)
class Call:
    """One call of a reply: the id it is answered by, the name, and the arguments as sent."""

    id: str
    name: str
    raw: str

    def message(self) -> dict[str, Any]:
        """The call as the assistant message records it (arguments that are not a JSON object become
        `{}`, since some servers parse them when the history comes back)."""
        arguments = self.raw if self.raw.strip() and isinstance(tool_args.decode(self.raw), dict) else "{}"
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": arguments}}


class Toolset:
    """The tools offered in one loop: definitions for the request, functions by name."""

    def __init__(self, tools: Iterable[Callable[..., Any] | Mapping[str, Any]]) -> None:
        self.tools: dict[str, _Tool] = {}
        self.definitions: list[dict[str, Any]] = []
        for entry in tools:
            definition = schema(entry)
            function = None if isinstance(entry, Mapping) else entry
            name = (definition.get("function") or {}).get("name")
            if isinstance(name, str):
                if name in self.tools:
                    raise ValueError(f"two tools are named {name!r}: each name must be unique")
                self.tools[name] = _Tool(name, definition, function)
            self.definitions.append(definition)

    def prepare(self, call: Call) -> tuple[_Tool, list[Any], dict[str, Any]]:
        """The function and its arguments, or `_Refused` saying why the call cannot be made."""
        tool = self.tools.get(call.name)
        if tool is None:
            offered = ", ".join(name for name, t in self.tools.items() if t.function) or "none"
            raise _Refused(f"unknown tool {call.name!r} (the tools offered are: {offered})")
        if tool.function is None:
            raise _Refused(f"tool {call.name!r} was offered as a definition only: nothing here runs it")
        try:
            arguments = tool_args.parse(call.raw)
            problems = tool_args.check(arguments, tool.definition["function"].get("parameters") or {})
            if problems:
                raise tool_args.ArgumentError("; ".join(problems))
            args, kwargs = tool_args.bind(tool.function, arguments)
        except tool_args.ArgumentError as exc:
            raise _Refused(f"invalid arguments: {exc}") from None
        return tool, args, kwargs


def parse_calls(asked: list[dict[str, Any]], step: int) -> list[Call]:
    """The reply's calls with an id each (made up when the server sent none or a repeated one)."""
    calls: list[Call] = []
    seen: set[str] = set()
    for index, entry in enumerate(asked):
        function = entry.get("function") or {}
        call_id = entry.get("id")
        if not isinstance(call_id, str) or not call_id or call_id in seen:
            call_id = f"call_{step}_{index}"
        seen.add(call_id)
        name, raw = function.get("name"), function.get("arguments")
        calls.append(
            Call(call_id, name if isinstance(name, str) else "", raw if isinstance(raw, str) else "")
        )
    return calls


async def run(
    toolset: Toolset, calls: list[Call], confirm: Confirm | None
) -> AsyncGenerator[ToolCall | ToolResult, None]:
    """Announce, check and confirm each call in order, then run the accepted ones; one
    `ToolResult` per call (a refused call's right after its `ToolCall`)."""
    accepted: list[tuple[Call, _Tool, list[Any], dict[str, Any]]] = []
    for call in calls:
        announced = ToolCall(call.id, call.name, tool_args.decode(call.raw))
        yield announced
        try:
            tool, args, kwargs = toolset.prepare(call)
        except _Refused as exc:
            yield ToolResult(call.id, call.name, f"Error: {exc}", str(exc), 0.0)
            continue
        if confirm is not None and not await _confirmed(confirm, announced):
            yield ToolResult(call.id, call.name, DENIED, DENIED, 0.0)
            continue
        accepted.append((call, tool, args, kwargs))
    # Async functions start together; sync ones run one after another meanwhile (on the caller's
    # thread, or inline). Results are yielded as they complete, earlier calls first among equals.
    running: dict[asyncio.Future[ToolResult], int] = {}
    try:
        for index, (call, tool, args, kwargs) in enumerate(accepted):
            if tool.is_async:
                running[asyncio.ensure_future(_invoke(call, tool, args, kwargs))] = index
        for call, tool, args, kwargs in accepted:
            if not tool.is_async:
                yield await _invoke(call, tool, args, kwargs)
                for future in sorted((f for f in running if f.done()), key=running.__getitem__):
                    del running[future]
                    yield future.result()
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for future in sorted(done, key=running.__getitem__):
                del running[future]
                yield future.result()
    finally:
        for future in running:  # cancelled or closed early: stop what still runs
            future.cancel()


async def _confirmed(confirm: Confirm, call: ToolCall) -> bool:
    if inspect.iscoroutinefunction(confirm):
        answer = await confirm(call)
    else:
        answer = await bridge.in_caller(confirm, call)
        if inspect.isawaitable(answer):
            answer = await answer
    return bool(answer)


async def _invoke(call: Call, tool: _Tool, args: list[Any], kwargs: dict[str, Any]) -> ToolResult:
    function = tool.function
    assert function is not None
    started = time.perf_counter()
    try:
        if tool.is_async:
            value = await function(*args, **kwargs)
        else:
            value = await bridge.in_caller(function, *args, **kwargs)
            if inspect.isawaitable(value):
                value = await value
    except Exception as exc:
        error = cut(f"{type(exc).__name__}: {_text(exc)}")
        return ToolResult(call.id, call.name, f"Error: {error}", error, time.perf_counter() - started)
    return ToolResult(call.id, call.name, format_result(value), None, time.perf_counter() - started)


def format_result(value: Any) -> str:
    """A function's return value as the text the model reads: a `str` as is, JSON when it has a
    JSON form, else its `repr`; cut to `MAX_RESULT_CHARS`."""
    if isinstance(value, str):
        return cut(value)
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = _text(value, repr)
    return cut(text)


def cut(text: str, limit: int | None = None) -> str:
    """`text`, or its first `limit` (default `MAX_RESULT_CHARS`) characters and a note saying so."""
    limit = MAX_RESULT_CHARS if limit is None else limit
    if len(text) <= limit:
        return text
    return (
        f"{text[:limit]}\n[cut: the result has {len(text):,} characters; only the first {limit:,} are shown]"
    )


def _text(value: Any, show: Callable[[Any], str] = str) -> str:
    try:
        return show(value)
    except Exception:  # a broken __str__ / __repr__ must not end the loop
        return f"<{type(value).__name__} that cannot be shown>"


__all__ = ["DENIED", "MAX_RESULT_CHARS", "Confirm", "Toolset", "cut", "format_result", "parse_calls", "run"]
