"""One parameter model for a chat request, shared by the magics and the ChatPanel.

Usage::

    from openai_magic.notebook.options import ChatOptions

    opts = ChatOptions(model="demo-chat", temperature=0.2)
    opts = opts.merged(ChatOptions(max_tokens=100))   # later non-None values win
    provider = opts.provider_class()                  # providers.get(...) or the default
    kwargs = opts.request_kwargs(messages)            # for create_async_generator(**kwargs)
    opts.metadata()                                   # what a saved notebook records (no key)

Defaults when nothing names a provider: `$OPENAI_API_KEY`/`$OPENAI_BASE_URL` select the generic
OpenAI-compatible provider, else the embedded demo backend (`default_provider()` says which).
Importing this module is cheap: core (httpx) is imported on first use.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("markdown", "text", "code", "html", "json")
SAMPLING = ("temperature", "top_p", "max_tokens", "stop", "seed")
DEFAULT_CONVERSATION = "default"


@dataclass
class ChatOptions:
    """Everything that shapes one chat request and how its answer is shown."""

    model: str | None = None
    provider: str | None = None  # preset name or base URL; None: environment, then Demo
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    stream: bool = True
    format: str = "markdown"
    image: bool = False
    json: bool = False
    media: list[Any] = field(default_factory=list)
    conversation: str = DEFAULT_CONVERSATION
    new: bool = False
    history: bool = True
    out: str | None = None
    raw: bool = False
    timeout: float | None = None
    headers: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # merged last into the request body
    api_key: str | None = field(default=None, repr=False, compare=False)  # never shown or saved

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if isinstance(self.stop, str):
            self.stop = [self.stop]

    def merged(self, other: ChatOptions | None = None, **changes: Any) -> ChatOptions:
        """A copy with `other`'s fields that differ from the defaults, then `changes`, on top."""
        values = dataclasses.asdict(self) | {"api_key": self.api_key, "media": list(self.media)}
        if other is not None:
            base = ChatOptions()
            for f in dataclasses.fields(other):
                value = getattr(other, f.name)
                if value != getattr(base, f.name) or (f.name == "api_key" and value):
                    values[f.name] = value
        values.update({k: v for k, v in changes.items()})
        return ChatOptions(**values)

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters that are set."""
        return {name: getattr(self, name) for name in SAMPLING if getattr(self, name) is not None}

    def provider_class(self) -> Any:
        """The provider class: the named preset or base URL, else `default_provider()`."""
        if self.provider:
            return resolve_provider(self.provider)
        return default_provider()[0]

    def resolved_model(self, provider: Any = None) -> str:
        """The model to ask for: the option, else the provider's (image) default."""
        if self.model:
            return self.model
        provider = provider or self.provider_class()
        if self.image:
            images = list(getattr(provider, "image_models", []) or [])
            return getattr(provider, "default_image_model", "") or (images[0] if images else "")
        return getattr(provider, "default_model", "") or ""

    def request_kwargs(self, messages: list[dict[str, Any]], provider: Any = None) -> dict[str, Any]:
        """Keyword arguments for `provider.create_async_generator(**kwargs)`."""
        kwargs: dict[str, Any] = {
            "model": self.resolved_model(provider),
            "messages": messages,
            "stream": self.stream,
            **self.sampling(),
        }
        if self.image:
            kwargs["prompt"] = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        if self.json:
            kwargs["response_format"] = {"type": "json_object"}
        if self.media:
            kwargs["media"] = list(self.media)
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if self.headers:
            kwargs["headers"] = dict(self.headers)
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        if self.extra:
            kwargs["extra_data"] = dict(self.extra)
        return kwargs

    def metadata(self, provider: Any = None) -> dict[str, Any]:
        """Provider, model and parameters for output metadata; never the key."""
        provider = provider or self.provider_class()
        return {
            "provider": provider_label(provider),
            "model": self.resolved_model(provider),
            "parameters": {
                **self.sampling(),
                **({"system": self.system} if self.system else {}),
                "stream": self.stream,
                **({"json": True} if self.json else {}),
                **({"image": True} if self.image else {}),
            },
            "conversation": self.conversation,
        }


def provider_label(provider: Any) -> str:
    """A short human name for a provider class (its base URL for custom ones)."""
    if getattr(provider, "__name__", "") == "Custom" or not getattr(provider, "label", ""):
        return str(getattr(provider, "api_base", None) or getattr(provider, "label", "custom"))
    return str(provider.label)


def resolve_provider(name_or_url: str) -> Any:
    """`providers.get` (one class per base URL, so model lists stay cached), imported on first use."""
    from ..core import providers

    return providers.get(name_or_url)


def default_provider() -> tuple[Any, bool]:
    """(provider class, is_demo) when no provider is named: environment first, then Demo."""
    from ..core import providers
    from ..core.template import OpenaiTemplate

    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return OpenaiTemplate, False
    return providers.Demo, True


__all__ = [
    "DEFAULT_CONVERSATION",
    "FORMATS",
    "ChatOptions",
    "default_provider",
    "provider_label",
    "resolve_provider",
]
