"""Python functions as tools: their schema, and the call-result-answer loop.

`create_async_generator(..., tools=[fn, ...])` (and `chat` / `chat_async`) run `loop` when `tools`
holds a callable. Each step streams one model reply; when it asks for tool calls the loop yields,
for each call in order, a `ToolCall` (then, for a refused call, its `ToolResult` at once), runs the
accepted calls (async ones concurrently), yields each `ToolResult` as it completes, then one
`ToolMessages` with the assistant `tool_calls` message and the `tool` messages in call order, and
streams the next reply. It ends with a reply that asks for no call, or with a `Notice` when the
reply of step `max_steps` still asks for calls (those are then not made).

The other items of each reply pass through as usual (text, `Reasoning`, `ProviderInfo`,
`FinishReason`, and one `Usage` per step: sum them, e.g. with `+`); `ToolCalls` is replaced by the
items above. Text streamed after the last `ToolMessages` is the final answer.

Where functions run: async functions (and async `confirm`) on the event loop. Sync ones, when the
generator is driven from sync code through `bridge` (`chat`, `create_completion`, a notebook cell),
run on the caller's thread (in a kernel: the main thread, where the stop button interrupts them);
otherwise (`asyncio.run`, a kernel's running loop) inline on the loop's thread, which they block.

Errors from a function, arguments that are not JSON or do not fit the schema, an unknown name, or
a `confirm` that says no become that call's result (the function is not called) and the loop goes
on. Only `json.loads` reads the model's text; nothing it sends is evaluated.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import time
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from dataclasses import dataclass
from typing import Any

from . import bridge, tool_args
from .responses import Notice, ToolCall, ToolCalls, ToolMessages, ToolResult
from .tool_schema import schema

MAX_RESULT_CHARS = 20_000  # a longer result is cut (read at call time: adjustable)
DEFAULT_MAX_STEPS = 8
DENIED = "denied by the user"

Confirm = Callable[[ToolCall], "bool | Awaitable[bool]"]
Request = Callable[..., AsyncIterator[Any]]


class ToolLoopWarning(UserWarning):
    """`chat()` stopped at `max_steps` while the model still asked for tool calls."""


warnings.simplefilter("always", ToolLoopWarning, append=True)  # each stop is news, not a repeat


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
class _Call:
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

    def prepare(self, call: _Call) -> tuple[_Tool, list[Any], dict[str, Any]]:
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


def has_functions(tools: Any) -> bool:
    """Whether `tools` (a `create_async_generator` argument) holds a callable, so the loop runs."""
    return callable(tools) or (
        isinstance(tools, list | tuple) and any(callable(t) and not isinstance(t, Mapping) for t in tools)
    )


def loop(request: Request, messages: Any, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
    """The tool loop over `request(messages, kwargs=...)` (one model reply per call).

    `kwargs` holds `tools`, and optionally `max_steps` and `confirm`; bad ones raise here, before
    anything is sent.
    """
    options = dict(kwargs)
    tools = options.pop("tools")
    toolset = Toolset([tools] if callable(tools) else tools)
    max_steps = options.pop("max_steps", None)
    max_steps = DEFAULT_MAX_STEPS if max_steps is None else max_steps
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a whole number of at least 1, not {max_steps!r}")
    confirm = options.pop("confirm", None)
    if confirm is not None and not callable(confirm):
        raise TypeError("confirm must be a function of a ToolCall returning True (run it) or False")
    options["tools"] = toolset.definitions
    if isinstance(messages, str):
        history = [{"role": "user", "content": messages}]
    elif isinstance(messages, list | tuple):
        history = list(messages)
    else:
        raise TypeError("messages must be a list of {'role', 'content'} dicts or a string")
    return _steps(request, history, options, toolset, max_steps, confirm)


async def _steps(
    request: Request,
    history: list[dict[str, Any]],
    options: dict[str, Any],
    toolset: Toolset,
    max_steps: int,
    confirm: Confirm | None,
) -> AsyncIterator[Any]:
    for step in range(1, max_steps + 1):
        text: list[str] = []
        asked: list[dict[str, Any]] = []
        reply = request(history, kwargs=options)
        try:
            async for item in reply:
                if isinstance(item, ToolCalls):
                    asked.extend(item.calls)
                    continue
                if isinstance(item, str):
                    text.append(item)
                yield item
        finally:  # cancelled or closed mid-reply: the response is closed now, not at GC
            aclose = getattr(reply, "aclose", None)
            if aclose is not None:
                await aclose()
        if not asked:
            return
        calls = _calls(asked, step)
        if step == max_steps:
            names = ", ".join(dict.fromkeys(call.name or "?" for call in calls))
            yield Notice(
                f"Stopped after {max_steps} steps: the model still asked to call {names}. Those "
                "calls were not made; allow more steps (max_steps) to let it go on."
            )
            return
        outputs: dict[str, str] = {}
        async with contextlib.aclosing(_run_calls(toolset, calls, confirm)) as events:
            async for event in events:
                if isinstance(event, ToolResult):
                    outputs[event.id] = event.output
                yield event
        assistant = {
            "role": "assistant",
            "content": "".join(text) or None,
            "tool_calls": [call.message() for call in calls],
        }
        added = [assistant]
        added += [{"role": "tool", "tool_call_id": c.id, "content": outputs[c.id]} for c in calls]
        history.extend(added)
        yield ToolMessages(added)


def _calls(asked: list[dict[str, Any]], step: int) -> list[_Call]:
    """The reply's calls with an id each (made up when the server sent none or a repeated one)."""
    calls: list[_Call] = []
    seen: set[str] = set()
    for index, entry in enumerate(asked):
        function = entry.get("function") or {}
        call_id = entry.get("id")
        if not isinstance(call_id, str) or not call_id or call_id in seen:
            call_id = f"call_{step}_{index}"
        seen.add(call_id)
        name, raw = function.get("name"), function.get("arguments")
        calls.append(
            _Call(call_id, name if isinstance(name, str) else "", raw if isinstance(raw, str) else "")
        )
    return calls


async def _run_calls(
    toolset: Toolset, calls: list[_Call], confirm: Confirm | None
) -> AsyncGenerator[ToolCall | ToolResult, None]:
    accepted: list[tuple[_Call, _Tool, list[Any], dict[str, Any]]] = []
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


async def _invoke(call: _Call, tool: _Tool, args: list[Any], kwargs: dict[str, Any]) -> ToolResult:
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


async def answer_text(items: AsyncIterable[Any]) -> str:
    """The final answer of a (tool loop) stream: the text after the last `ToolMessages`; a `Notice`
    becomes a `ToolLoopWarning`."""
    parts: list[str] = []
    async for item in items:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, ToolMessages):
            parts.clear()
        elif isinstance(item, Notice):
            warnings.warn(item.text, ToolLoopWarning, stacklevel=2)
    return "".join(parts)


__all__ = [
    "DEFAULT_MAX_STEPS",
    "DENIED",
    "MAX_RESULT_CHARS",
    "Notice",
    "ToolCall",
    "ToolLoopWarning",
    "ToolMessages",
    "ToolResult",
    "Toolset",
    "answer_text",
    "cut",
    "format_result",
    "has_functions",
    "loop",
    "schema",
]
