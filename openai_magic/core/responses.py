"""Typed items that `create_async_generator` yields besides plain `str` text deltas.

Each item is a small frozen-ish dataclass so callers can `match`/`isinstance` on it and
render it (reasoning collapsed, images inline, usage in a footer) without parsing JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ResponseItem:
    """Base class of every non-text item a provider yields."""


@dataclass
class Reasoning(ResponseItem):
    """A piece of the model's reasoning ("thinking"), never part of the answer text."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class ToolCalls(ResponseItem):
    """Complete tool calls in OpenAI format: `{id, type, function: {name, arguments}}`."""

    calls: list[dict[str, Any]]


@dataclass
class Usage(ResponseItem):
    """Token accounting as the server reported it; unknown extra fields are kept in `extra`."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Usage:
        known = {"prompt_tokens", "completion_tokens", "total_tokens"}

        def as_int(value: Any) -> int:
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        prompt = as_int(data.get("prompt_tokens"))
        completion = as_int(data.get("completion_tokens"))
        total = as_int(data.get("total_tokens")) or prompt + completion
        return cls(prompt, completion, total, {k: v for k, v in data.items() if k not in known})

    def __getattr__(self, name: str) -> Any:
        # Fields the server sent beyond the three standard ones (e.g. `completion_tokens_details`).
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(name)

    def __add__(self, other: Usage) -> Usage:
        """The sum of two requests' usage (a tool loop makes several): counts add, nested ones too."""
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            _add_counts(self.extra, other.extra),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            **self.extra,
        }


def _add_counts(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    # Integers present in both add up (e.g. completion_tokens_details.reasoning_tokens); anything
    # else keeps the later value.
    merged = dict(first)
    for key, value in second.items():
        mine = merged.get(key)
        if _is_count(mine) and _is_count(value):
            merged[key] = mine + value
        elif isinstance(mine, dict) and isinstance(value, dict):
            merged[key] = _add_counts(mine, value)
        elif value is not None or key not in merged:
            merged[key] = value
    return merged


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class FinishReason(ResponseItem):
    """Why the model stopped: "stop", "length", "tool_calls", "content_filter", ..."""

    reason: str


@dataclass
class ImageResponse(ResponseItem):
    """Generated images as URLs or `data:` URIs; `alt` is the prompt that produced them."""

    images: list[str]
    alt: str = ""


@dataclass
class ProviderInfo(ResponseItem):
    """Which provider and model actually answered (the server may substitute a model)."""

    provider: str
    model: str


@dataclass
class RetryWait(ResponseItem):
    """The request failed and is sent again after `seconds` (`attempt` counts retries from 1).

    `reason` is short, for a one-line notice: "rate limited", "server error 503",
    "connection failed (ConnectError)". Yielded before anything else of the reply.
    """

    seconds: float
    reason: str
    attempt: int


@dataclass
class ToolCall(ResponseItem):
    """The model calls one of the offered Python functions; yielded before the call runs.

    `arguments` is the decoded JSON object, or the raw text when it is not one (the call then fails
    with an error result instead of running).
    """

    id: str
    name: str
    arguments: dict[str, Any] | str


@dataclass
class ToolResult(ResponseItem):
    """What one tool call gave back, yielded after it returned (or was refused).

    `output` is the text sent to the model; `error` is None on success, else a one-line reason
    (`"ValueError: bad city"`, `"denied by the user"`, invalid arguments, an unknown name), which
    `output` then also carries. `seconds` is how long the function ran (0 when it never ran).
    """

    id: str
    name: str
    output: str
    error: str | None = None
    seconds: float = 0.0


@dataclass
class ToolMessages(ResponseItem):
    """Messages one tool step added to the conversation: the assistant `tool_calls` message, then
    one `tool` message per call, in call order. Append them to the thread (each step yields one), so
    a follow-up request continues correctly; text streamed after the last one is the final reply."""

    messages: list[dict[str, Any]]


@dataclass
class Replayed(ResponseItem):
    """The reply that follows comes from a replay file, not from the provider (see `openai_magic.replay`).

    Yielded first, before the replayed reply's items (once per request: a tool loop yields one per
    step). `path` is the replay file as it was given; `recorded_at` when the reply was recorded, ISO
    8601 in UTC (`"2025-06-01T12:00:00Z"`).
    """

    path: str
    recorded_at: str


@dataclass
class Notice(ResponseItem):
    """Something the caller should tell the user that is not an error, e.g. a tool loop that stopped
    at `max_steps` while the model still asked for calls."""

    text: str

    def __str__(self) -> str:
        return self.text


__all__ = [
    "FinishReason",
    "ImageResponse",
    "Notice",
    "ProviderInfo",
    "Reasoning",
    "Replayed",
    "ResponseItem",
    "RetryWait",
    "ToolCall",
    "ToolCalls",
    "ToolMessages",
    "ToolResult",
    "Usage",
]
