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
on. Only `json.loads` reads the model's text; nothing it sends is evaluated. Results longer than
`MAX_RESULT_CHARS` (set in `core.tool_calls`) are cut with a note.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from typing import Any

from . import tool_calls
from .responses import Notice, ToolCall, ToolCalls, ToolMessages, ToolResult
from .tool_calls import DENIED, MAX_RESULT_CHARS, Confirm, Toolset, cut, format_result
from .tool_schema import schema

DEFAULT_MAX_STEPS = 8

Request = Callable[..., AsyncIterator[Any]]


class ToolLoopWarning(UserWarning):
    """`chat()` stopped at `max_steps` while the model still asked for tool calls."""


warnings.simplefilter("always", ToolLoopWarning, append=True)  # each stop is news, not a repeat


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

    def send(messages: list[dict[str, Any]], kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        return request(messages, kwargs=kwargs)

    # `request` may be a partial holding the api_key; the loop's frame (which a traceback with
    # locals prints) holds only `send`, whose repr shows no arguments.
    return _steps(send, history, options, toolset, max_steps, confirm)


async def _steps(
    send: Callable[[list[dict[str, Any]], dict[str, Any]], AsyncIterator[Any]],
    history: list[dict[str, Any]],
    options: dict[str, Any],
    toolset: Toolset,
    max_steps: int,
    confirm: Confirm | None,
) -> AsyncIterator[Any]:
    for step in range(1, max_steps + 1):
        text: list[str] = []
        asked: list[dict[str, Any]] = []
        reply = send(history, options)
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
        calls = tool_calls.parse_calls(asked, step)
        if step == max_steps:
            names = ", ".join(dict.fromkeys(call.name or "?" for call in calls))
            yield Notice(
                f"Stopped after {max_steps} steps: the model still asked to call {names}. Those "
                "calls were not made; allow more steps (max_steps) to let it go on."
            )
            return
        outputs: dict[str, str] = {}
        async with contextlib.aclosing(tool_calls.run(toolset, calls, confirm)) as events:
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
