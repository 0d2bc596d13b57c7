"""What a turn talks to, resolved once before any request: provider class, key, model, chat or image.

The magics and the panel both plan through `plan_turn`, so they pick the same default provider (by
class: `$OPENAI_API_KEY` / `$OPENAI_BASE_URL`, else the embedded demo backend), the same key (typed
in the panel, `%chat_key`, the keyring, then the provider's environment variable) and the same model
(the option, the provider's default, else the first model it lists, awaiting the listing).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.urls import strip_credentials
from . import keys
from .conversation import Conversation, get_conversation
from .options import ChatOptions

DEMO_NOTICE = (
    "Using the embedded demo backend (no provider configured). For a real model: "
    "%config ChatMagics.provider = 'openai' (key: OPENAI_API_KEY or %chat_key), or -p <preset|base URL>."
)
_state = {"demo_notice": False}


class UnknownProviderError(ValueError):
    """A provider name that is neither a preset nor a base URL."""


class NoModelError(ValueError):
    """No model named and none to be found (no default, nothing listed of the right kind)."""


def resolve_provider(name: str | None) -> tuple[Any, bool]:
    """(provider class, is the demo default) for a preset name, a base URL, or None (the default)."""
    from ..core import providers
    from ..core.template import OpenaiTemplate

    if name:
        try:
            return providers.get(name), False
        except KeyError:
            known = ", ".join(n.lower() for n in providers.names())
            raise UnknownProviderError(
                f"Unknown provider {name!r}: use a preset ({known}) or a base URL such as "
                "http://localhost:8000/v1"
            ) from None
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return OpenaiTemplate, False
    return providers.Demo, True


def default_model(provider: Any) -> str:
    """The provider's default model ("" for none). OpenAI pointed elsewhere by `$OPENAI_BASE_URL` has
    none: a local server (Ollama, vLLM, LM Studio) has no `gpt-4o-mini`, so the first model the server
    lists is used instead, as for any base URL."""
    default = str(getattr(provider, "default_model", "") or "")
    if getattr(provider, "base_url_env", None) == "OPENAI_BASE_URL" and os.environ.get("OPENAI_BASE_URL"):
        try:
            moved = provider.get_api_base() != provider.default_api_base
        except Exception:  # a provider class of the user's own with an unusual base: keep its default
            moved = False
        return "" if moved else default
    return default


def provider_label(provider: Any) -> str:
    """A short human name for a provider class: its label, or its base URL's host for custom ones."""
    label = str(getattr(provider, "label", "") or "")
    if getattr(provider, "__name__", "") == "Custom" or not label:
        return strip_credentials(str(getattr(provider, "api_base", None) or label or "custom"))
    return label


def base_url(provider: Any) -> str | None:
    """The provider's base URL without credentials, if known without starting anything."""
    from ..core import providers

    if provider is providers.Demo:
        server = providers.Demo._server
        url = os.environ.get("OPENAI_MAGIC_DEMO_URL") or (server.base_url if server is not None else None)
        return strip_credentials(url) if url else None
    try:
        return strip_credentials(provider.get_api_base())
    except Exception:  # a preset whose base URL cannot be computed here: say nothing rather than fail
        return None


@dataclass
class Plan:
    """Everything one request needs, resolved; `request_kwargs()` is what goes to the provider."""

    prompt: str
    options: ChatOptions
    provider: Any
    model: str
    image: bool
    messages: list[dict[str, Any]]
    conversation: Conversation
    surface: str
    media: list[Any] = field(default_factory=list)
    key: Any = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return provider_label(self.provider)

    def with_model(self, model: str) -> Plan:
        """The same turn for another model (compare mode)."""
        image = is_image_model(self.provider, model)
        return Plan(**{**self.__dict__, "model": model, "image": image})

    def request_kwargs(self, confirm: Any = None) -> dict[str, Any]:
        """Keyword arguments for `provider.create_async_generator`; `confirm` asks before tool calls."""
        options = self.options
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": self.messages,
            "stream": options.stream,
            **options.sampling(),
        }
        if self.image:
            kwargs["prompt"] = self.prompt
        if options.json:
            kwargs["response_format"] = {"type": "json_object"}
        if self.media:
            kwargs["media"] = list(self.media)
        if self.key:
            kwargs["api_key"] = self.key
        if options.headers:
            kwargs["headers"] = dict(options.headers)
        if options.timeout is not None:
            kwargs["timeout"] = options.timeout
        if options.extra:
            kwargs["extra_data"] = dict(options.extra)
        if options.tools and not self.image:
            kwargs["tools"] = list(options.tools)
            kwargs["max_steps"] = options.max_steps
            if options.confirm and confirm is not None:
                kwargs["confirm"] = confirm
        return kwargs

    def metadata(self) -> dict[str, Any]:
        """Provider, model and parameters for output metadata and the log; never a key or credentials."""
        tools = [getattr(t, "__name__", None) or str(t) for t in self.options.tools or ()]
        return {
            "provider": self.label,
            "model": self.model,
            "parameters": {
                **self.options.parameters(),
                **({"image": True} if self.image else {}),
                **({"tools": tools, "max_steps": self.options.max_steps} if tools else {}),
            },
            "conversation": self.conversation.name,
        }


async def plan_turn(
    prompt: str,
    options: ChatOptions,
    *,
    surface: str,
    key: Any = None,
    media: Sequence[Any] = (),
    notify: Callable[[str], None] = print,
    model_given: bool = False,
) -> Plan:
    """Resolve provider, key, model and kind of request for one prompt.

    `model_given`: the model was named for this turn (`%chat -m X --image`), so an image request uses
    it even when nothing says it makes images; a configured default chat model is replaced instead.

    `key` is one typed in a panel or passed to it; otherwise the `%chat_key` store and the keyring are
    asked, and the core falls back to the provider's environment variable. Notices (the demo backend
    in use, a model picked from the listing) go to `notify` once each.
    """
    provider, is_demo = resolve_provider(options.provider)
    if is_demo and not _state["demo_notice"]:
        _state["demo_notice"] = True
        notify(DEMO_NOTICE)
    key = key or keys.lookup(provider, keyring=options.use_keyring)
    model, image = await _choose_model(provider, options, key, notify, surface, model_given)
    if image and not is_image_model(provider, model):  # named for an image: the core must ask it for one
        extra = {"image_models": [*(getattr(provider, "image_models", None) or []), model]}
        provider = type(provider.__name__, (provider,), {**extra, "__qualname__": provider.__qualname__})
    conversation = get_conversation(options.conversation)
    if options.new:
        from . import turn_log

        conversation.clear()
        turn_log.mark_cleared(conversation, options)  # a restore starts after it
    messages = conversation.request_messages(prompt, options.system, history=options.history)
    return Plan(
        prompt=prompt,
        options=options,
        provider=provider,
        model=model,
        image=image,
        messages=messages,
        conversation=conversation,
        surface=surface,
        media=list(media),
        key=key,
    )


async def _choose_model(
    provider: Any,
    options: ChatOptions,
    key: Any,
    notify: Callable[[str], None],
    surface: str,
    model_given: bool = False,
) -> tuple[str, bool]:
    """(model, image request?): what was asked (--image) and what the model is both decide."""
    model = options.model
    if not options.image:
        if model:
            return model, is_image_model(provider, model)
        default = default_model(provider)
        if default:
            return default, False
        chosen = await _first_listed(provider, key, image=False)
        if surface == "magic":
            notify(f"Using model {chosen} (the first the server lists; choose with -m).")
        return chosen, False
    # An image was asked for: the model if it makes images, else the provider's image model (so a
    # configured chat model such as `%config ChatMagics.model = "gpt-4o"` does not answer in text).
    if model and (model_given or is_image_model(provider, model)):
        return model, True
    default = getattr(provider, "default_image_model", "") or ""
    if default:
        return default, True
    listed = [m for m in getattr(provider, "image_models", None) or [] if m]
    if listed:
        return listed[0], True
    return await _first_listed(provider, key, image=True), True


async def _first_listed(provider: Any, key: Any, *, image: bool) -> str:
    """The first model of the right kind the provider lists (the listing's error if it fails)."""
    models = await provider.get_models_async(api_key=key)
    chosen = next((m for m in models if is_image_model(provider, m) == image), None)
    if chosen is None:
        kind = "image model" if image else "chat model"
        listed = f" (it lists: {', '.join(models[:8])})" if models else " (it lists none)"
        raise NoModelError(f"No {kind} to use for {provider_label(provider)}{listed}: choose one with -m")
    return str(chosen)


def is_image_model(provider: Any, model: str) -> bool:
    """Whether `provider` says `model` makes images (the turn, the panel's list and `%models` agree)."""
    try:
        return bool(provider.is_image_model(model))
    except Exception:  # a provider class of the user's own with an unusual check: treat as chat
        return model in (getattr(provider, "image_models", None) or [])


__all__ = [
    "DEMO_NOTICE",
    "NoModelError",
    "Plan",
    "UnknownProviderError",
    "base_url",
    "default_model",
    "is_image_model",
    "plan_turn",
    "provider_label",
    "resolve_provider",
]
