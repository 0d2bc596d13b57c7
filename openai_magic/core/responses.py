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

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            **self.extra,
        }


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


__all__ = [
    "FinishReason",
    "ImageResponse",
    "ProviderInfo",
    "Reasoning",
    "ResponseItem",
    "RetryWait",
    "ToolCalls",
    "Usage",
]
