"""Chat replies (streamed chunks or one JSON body) to response items, tolerant of odd servers.

Every shape check here exists because some OpenAI-compatible server sends it: `"error": null`,
`"delta": null`, usage-only chunks, content as a list of parts, tool-call fragments without
`index`, reasoning as `reasoning_content`, `reasoning` or inline `<think>` tags.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .responses import FinishReason, Reasoning, ToolCalls, Usage
from .secret import Secrets

_OPEN, _CLOSE = "<think>", "</think>"
_START, _THINK, _ANSWER = 0, 1, 2


class ThinkSplitter:
    """Split streamed content into answer text and `<think>...</think>` reasoning.

    A think block is recognised only at the start of the answer (after optional whitespace), so an
    answer that merely talks about the tag is left alone. Tags may be split across chunks.
    """

    __slots__ = ("_buffer", "mode")

    def __init__(self) -> None:
        self.mode = _START
        self._buffer = ""

    def feed(self, text: str) -> list[str | Reasoning]:
        """Items for the next piece of content (answer text as `str`, reasoning as `Reasoning`)."""
        if self.mode == _ANSWER:
            return [text]
        buffer = self._buffer + text
        self._buffer = ""
        if self.mode == _START:
            stripped = buffer.lstrip()
            if not stripped or (len(stripped) < len(_OPEN) and _OPEN.startswith(stripped)):
                self._buffer = buffer  # whitespace or a partial "<think>": wait for more
                return []
            if not stripped.startswith(_OPEN):
                self.mode = _ANSWER
                return [buffer]
            self.mode = _THINK
            buffer = stripped[len(_OPEN) :]
        return self._think(buffer)

    def _think(self, buffer: str) -> list[str | Reasoning]:
        end = buffer.find(_CLOSE)
        if end >= 0:
            self.mode = _ANSWER
            items: list[str | Reasoning] = [Reasoning(buffer[:end])] if end else []
            rest = buffer[end + len(_CLOSE) :]
            if rest:
                items.append(rest)
            return items
        keep = _partial_suffix(buffer, _CLOSE)
        if keep:
            self._buffer = buffer[-keep:]
            buffer = buffer[:-keep]
        return [Reasoning(buffer)] if buffer else []

    def flush(self) -> list[str | Reasoning]:
        """What is still buffered at the end of the reply."""
        buffer, self._buffer = self._buffer, ""
        if not buffer:
            return []
        return [Reasoning(buffer)] if self.mode == _THINK else [buffer]


def _partial_suffix(text: str, tag: str) -> int:
    # Length of the longest end of `text` that is a proper prefix of `tag`.
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


def split_think(text: str) -> list[str | Reasoning]:
    """Non-streaming `<think>` split of a whole content string."""
    splitter = ThinkSplitter()
    return splitter.feed(text) + splitter.flush()


def content_text(content: Any) -> str:
    """Text of `content` given as a string or a list of parts (`{"type": "text", "text": ...}`)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif (
                isinstance(part, dict)
                and isinstance(part.get("text"), str)
                and part.get("type") in (None, "text", "output_text")
            ):
                texts.append(part["text"])
        return "".join(texts)
    return ""


def reasoning_text(message: dict[str, Any]) -> str:
    """Reasoning sent as a separate field (`reasoning_content` or `reasoning`)."""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


class ToolCallAssembler:
    """Join streamed tool-call fragments into complete OpenAI-format calls."""

    __slots__ = ("_by_id", "_by_index", "calls")

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._by_index: dict[int, dict[str, Any]] = {}
        self._by_id: dict[str, dict[str, Any]] = {}

    def add(self, fragments: Any) -> None:
        """Merge one delta's `tool_calls` list."""
        if not isinstance(fragments, list):
            return
        for fragment in fragments:
            if isinstance(fragment, dict):
                self._merge(self._target(fragment), fragment)

    def _target(self, fragment: dict[str, Any]) -> dict[str, Any]:
        index, call_id = fragment.get("index"), fragment.get("id")
        if isinstance(call_id, str) and call_id in self._by_id:
            return self._by_id[call_id]
        if isinstance(index, int) and index in self._by_index:
            return self._by_index[index]
        if index is None and not call_id and self.calls:
            return self.calls[-1]  # no index and no id: a continuation of the latest call
        call: dict[str, Any] = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        self.calls.append(call)
        if isinstance(index, int):
            self._by_index[index] = call
        return call

    def _merge(self, call: dict[str, Any], fragment: dict[str, Any]) -> None:
        call_id = fragment.get("id")
        if isinstance(call_id, str) and call_id and not call["id"]:
            call["id"] = call_id
            self._by_id[call_id] = call
        if isinstance(fragment.get("type"), str):
            call["type"] = fragment["type"]
        function = fragment.get("function")
        if isinstance(function, dict):
            name = function.get("name")
            if isinstance(name, str) and name and not call["function"]["name"]:
                call["function"]["name"] = name
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                call["function"]["arguments"] += arguments
            elif isinstance(arguments, dict):  # some servers send parsed arguments
                import json

                call["function"]["arguments"] += json.dumps(arguments)


def message_items(body: Any, secrets: Secrets = ()) -> tuple[str, list[Any]]:
    """Model id and items (reasoning, text, tool calls, finish reason, usage) of a non-stream reply."""
    if not isinstance(body, dict):
        raise errors.ResponseError(
            f"expected a JSON object, got {type(body).__name__}", body=errors.bounded(body)
        )
    if body.get("error"):
        raise errors.from_stream_error(body["error"], secrets=secrets)
    choices = body.get("choices")
    if not isinstance(choices, list):
        raise errors.ResponseError(
            f"reply has no 'choices': {errors.error_message(body, 'unexpected JSON')}",
            body=errors.bounded(body),
        )
    items: list[Any] = []
    choice = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
    if choice is None and choices and isinstance(choices[0], dict):
        choice = choices[0]
    if choice is not None:
        message = choice.get("message") or choice.get("delta") or {}
        if not isinstance(message, dict):
            message = {}
        reasoning = reasoning_text(message)
        if reasoning:
            items.append(Reasoning(reasoning))
        text = content_text(message.get("content"))
        if not text and isinstance(choice.get("text"), str):
            text = choice["text"]  # legacy completions shape
        if text:
            items.extend(split_think(text))
        calls = message.get("tool_calls")
        if isinstance(calls, list) and calls:
            # Each entry of a whole reply is a complete call: never merged with the one before
            # (as streamed fragments without id and index are), but normalised the same way.
            complete: list[dict[str, Any]] = []
            for entry in calls:
                assembler = ToolCallAssembler()
                assembler.add([entry])
                complete += assembler.calls
            if complete:
                items.append(ToolCalls(complete))
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            items.append(FinishReason(reason))
    usage = body.get("usage")
    if isinstance(usage, dict):
        items.append(Usage.from_dict(usage))
    model = body.get("model")
    return (model if isinstance(model, str) else ""), items


__all__ = [
    "ThinkSplitter",
    "ToolCallAssembler",
    "content_text",
    "message_items",
    "reasoning_text",
    "split_think",
]
