"""`OpenaiTemplate`: an async provider for any OpenAI-compatible API (subclass it to make a preset).

Class attributes describe a provider; every method is usable on the class or on an instance (whose
attributes then win), and nothing is read from the environment before a request is made.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from types import MethodType
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from . import bridge, errors, transport
from . import models as listing
from . import tools as tool_loop
from .messages import Messages, last_user_text, prepare_messages
from .request import Call

T = TypeVar("T")

DEFAULT_EXTRA_PARAMETERS: tuple[str, ...] = (
    "seed",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "n",
    "user",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "modalities",
    "audio",
)
IMAGE_PARAMETERS = ("n", "size", "quality", "style", "response_format", "background", "output_format")

# `impersonate` comes from gpt4free (curl_cffi). httpx cannot mimic a browser's TLS fingerprint, so
# here it only sends a browser User-Agent, which is what some gateways check.
_BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)

# What an API key may hold to be sent in a header: printable ASCII, no spaces. Anything else would
# make httpx or h11 raise an error whose text or args contain the key itself.
_SENDABLE_KEY = re.compile(r"[\x21-\x7e]+")


class hybridmethod:
    """Like `classmethod`, but bound to the instance when called on one (so instance attributes win)."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.__func__ = func
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return MethodType(self.__func__, obj if obj is not None else owner)


class AsyncResult(Generic[T]):
    """An async iterator that is also awaitable (`await` returns the iterator itself).

    Supports both `async for x in create_async_generator(...)` and the gpt4free form
    `result = await create_async_generator(...); async for x in result`.
    """

    __slots__ = ("_agen", "_precheck")

    def __init__(self, agen: Any, precheck: Callable[[], None] | None = None) -> None:
        self._agen = agen
        self._precheck = precheck

    def __aiter__(self) -> AsyncResult[T]:
        return self

    def __anext__(self) -> Awaitable[T]:
        return self._agen.__anext__()

    def __await__(self) -> Generator[Any, None, AsyncResult[T]]:
        return self._resolve().__await__()

    async def _resolve(self) -> AsyncResult[T]:
        if self._precheck is not None:
            self._precheck()
        return self

    async def aclose(self) -> None:
        """Stop the request and release its connection."""
        await self._agen.aclose()

    def athrow(self, *args: Any) -> Awaitable[T]:
        return self._agen.athrow(*args)


class OpenaiTemplate:
    """Base provider: OpenAI's own API unless `OPENAI_BASE_URL` (or a subclass) says otherwise."""

    label: ClassVar[str] = "OpenAI-compatible"
    url: str | None = None  # the provider's home page, for display
    api_base: str | None = None  # None: $OPENAI_BASE_URL, else OpenAI's URL
    default_api_base: ClassVar[str] = "https://api.openai.com/v1"
    api_key: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"  # environment variable holding the key
    base_url_env: str | None = "OPENAI_BASE_URL"  # environment variable overriding api_base
    api_endpoint: str | None = None  # default: {api_base}/chat/completions
    needs_auth: bool | None = None  # None: only when talking to OpenAI's own URL
    working: bool = True
    supports_stream: bool = True
    supports_message_history: bool = True
    supports_system_message: bool = True
    default_model: str = "gpt-4o-mini"
    default_image_model: str = ""
    fallback_models: list[str] = []  # noqa: RUF012 - presets override, never mutated
    models: list[str] = []  # noqa: RUF012
    image_models: list[str] = []  # noqa: RUF012
    sort_models: bool = True
    ssl: bool | str = True  # verify TLS (or a CA bundle path)
    max_retries: int = 2
    retry_base_delay: float = 0.5
    max_retry_after: float = 120.0
    models_timeout: float = 15.0
    default_headers: dict[str, str] = {}  # noqa: RUF012 - e.g. OpenRouter's X-Title
    extra_parameters: tuple[str, ...] = DEFAULT_EXTRA_PARAMETERS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A class that points at its own server must not pick up OpenAI's key or URL from the
        # environment (that would send an OpenAI key to a third party).
        if "api_base" in cls.__dict__:
            if "api_key_env" not in cls.__dict__:
                cls.api_key_env = None
            if "base_url_env" not in cls.__dict__:
                cls.base_url_env = None
            if "needs_auth" not in cls.__dict__ and cls.needs_auth is None:
                cls.needs_auth = False

    def __init__(self, **attributes: Any) -> None:
        for name, value in attributes.items():
            if not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} has no attribute {name!r}")
            setattr(self, name, value)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"<{name} {self.label!r} api_base={self.api_base!r} key={'set' if self.api_key else 'unset'}>"

    # --- configuration resolved at call time ------------------------------------------------------

    @hybridmethod
    def get_api_key(self, api_key: str | None = None) -> str | None:
        """The key: explicit argument, then the `api_key` attribute, then `$<api_key_env>` (stripped)."""
        key = api_key or self.api_key or (os.environ.get(self.api_key_env) if self.api_key_env else None)
        return key.strip() or None if isinstance(key, str) else key

    @hybridmethod
    def get_api_base(self, api_base: str | None = None) -> str:
        """The base URL: explicit argument or instance attribute, `$<base_url_env>`, `api_base`, OpenAI's."""
        # An instance's own `api_base` is as explicit as the argument (as `OpenAI(base_url=...)` is).
        own = None if isinstance(self, type) else vars(self).get("api_base")
        base = api_base or own or (os.environ.get(self.base_url_env) if self.base_url_env else None)
        return (base or self.api_base or self.default_api_base).rstrip("/")

    @hybridmethod
    async def get_api_base_async(self, api_base: str | None = None) -> str:
        """Async twin of `get_api_base` (presets that start a server do it off the event loop)."""
        return self.get_api_base(api_base)

    @hybridmethod
    def requires_key(self, api_base: str) -> bool:
        """Whether a request to `api_base` needs a key."""
        if self.needs_auth is not None:
            return bool(self.needs_auth)
        return api_base.rstrip("/") == self.default_api_base

    @hybridmethod
    def check_auth(self, api_key: str | None = None, api_base: str | None = None) -> None:
        """Raise `MissingAuthError` when a key is needed and none is configured."""
        if self.get_api_key(api_key):
            return
        if self.needs_auth is None:
            needed = self.requires_key(api_base or self.get_api_base())
        else:
            needed = bool(self.needs_auth)
        if needed:
            where = f"set ${self.api_key_env} or " if self.api_key_env else ""
            raise errors.MissingAuthError(f"{self.label} needs an API key: {where}pass api_key=...")

    @hybridmethod
    def get_headers(
        self, stream: bool, api_key: str | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Request headers: Accept by mode, JSON body, Bearer auth when a key is given, then `headers`."""
        result = {
            "Accept": "text/event-stream" if stream else "application/json",
            "Content-Type": "application/json",
            **self.default_headers,
        }
        if api_key:
            if not _SENDABLE_KEY.fullmatch(api_key):
                raise errors.AuthenticationError(
                    "the API key holds characters an HTTP header cannot carry (spaces, line breaks or "
                    "non-ASCII letters such as curly quotes): check how it was copied"
                )
            result["Authorization"] = f"Bearer {api_key}"
        if headers:
            result.update(headers)
        return result

    @hybridmethod
    def is_image_model(self, model: str) -> bool:
        """Whether `model` generates images (listed in `image_models` or a known id pattern)."""
        if not model:
            return False
        return (
            model in self.image_models
            or model == self.default_image_model
            or listing.is_listed_image_model(self, model)
            or bool(listing.IMAGE_MODEL_PATTERN.search(model))
        )

    @hybridmethod
    def retry_policy(self, max_retries: int | None = None) -> transport.RetryPolicy:
        """Retry settings from the class attributes (and a per-call `max_retries`)."""
        return transport.RetryPolicy(
            max_retries=self.max_retries if max_retries is None else max_retries,
            base_delay=self.retry_base_delay,
            max_retry_after=self.max_retry_after,
        )

    # --- models -----------------------------------------------------------------------------------

    @hybridmethod
    def get_models(self, api_key: str | None = None, api_base: str | None = None) -> list[str]:
        """Model ids from `GET {api_base}/models` (cached), else `fallback_models` (sync; via bridge)."""
        return bridge.run(self.get_models_async(api_key=api_key, api_base=api_base))

    @hybridmethod
    async def get_models_async(
        self, api_key: str | None = None, api_base: str | None = None, *, refresh: bool = False
    ) -> list[str]:
        """Async `get_models`; fills `image_models` from the listing."""
        base = await self.get_api_base_async(api_base)
        key = self.get_api_key(api_key)
        cache_key = listing.cache_key(self, base, key)
        cached = None if refresh else listing.cache.get(cache_key)
        if cached is None:
            try:
                cached = await listing.fetch_models(self, base, key)
            except errors.ProviderError as exc:
                if self.fallback_models:
                    return list(self.fallback_models)
                errors.scrub(exc, key)
                exc.message = f"could not list models of {self.label} at {base}: {exc.message}"
                exc.args = (exc.message,)
                raise exc from None
            with listing.cache_lock:
                listing.cache[cache_key] = cached
        models, discovered = cached
        if self is not OpenaiTemplate:  # the base class's lists are inherited by every preset
            current = list(self.image_models)
            self.image_models = current + [m for m in discovered if m not in current]
            self.models = list(models)
        return list(models)

    # --- chat -------------------------------------------------------------------------------------

    @hybridmethod
    def create_async_generator(
        self,
        model: str,
        messages: Messages | str,
        proxy: str | None = None,
        timeout: float | tuple[float, float] | httpx.Timeout | None = 120,
        media: Any = None,
        api_key: str | None = None,
        api_endpoint: str | None = None,
        api_base: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | list[str] | None = None,
        stream: bool = False,
        prompt: str | None = None,
        headers: dict[str, str] | None = None,
        impersonate: str | None = None,
        extra_parameters: tuple[str, ...] | list[str] | None = None,
        extra_data: dict[str, Any] | None = None,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> AsyncResult[Any]:
        """Chat (or generate images): an async iterator of `str` deltas and `responses` items.

        Usable as `async for item in ...` and as `result = await ...; async for item in result`.
        Keyword arguments named in `extra_parameters` (e.g. `seed`, `tools`) go into the body;
        others are ignored, as in gpt4free. `impersonate` only sends a browser User-Agent (httpx
        cannot mimic a browser's TLS fingerprint). `timeout` is the read limit in seconds (connect
        is capped at 10 s), a `(connect, read)` pair, or an `httpx.Timeout`. With Python functions
        in `tools`, runs the tool loop (`max_steps=8`, `confirm=None`; see `openai_magic.tools`).
        """
        request = functools.partial(
            _generate,
            self,
            model,
            proxy=proxy,
            timeout=timeout,
            media=media,
            api_key=api_key,
            api_endpoint=api_endpoint,
            api_base=api_base,
            sampling={"temperature": temperature, "max_tokens": max_tokens, "top_p": top_p, "stop": stop},
            stream=stream,
            prompt=prompt,
            headers=headers,
            impersonate=impersonate,
            extra_parameters=self.extra_parameters if extra_parameters is None else tuple(extra_parameters),
            extra_data=extra_data,
            max_retries=max_retries,
        )
        if tool_loop.has_functions(kwargs.get("tools")):
            agen = tool_loop.loop(request, messages, kwargs)
        else:
            agen = request(messages, kwargs=kwargs)
        return AsyncResult(agen, precheck=lambda: self.check_auth(api_key, api_base))

    @hybridmethod
    def create_completion(
        self, model: str = "", messages: Messages | str = "", **kwargs: Any
    ) -> Iterator[Any]:
        """Sync twin of `create_async_generator` for scripts and cells (works inside a running loop)."""
        return bridge.iterate(self.create_async_generator(model, messages, **kwargs))

    @hybridmethod
    async def chat_async(self, prompt_or_messages: Messages | str, model: str = "", **kwargs: Any) -> str:
        """The answer text of one chat request (reasoning and other items dropped); with Python
        functions in `tools=[...]`, the final answer of the tool loop."""
        return await tool_loop.answer_text(self.create_async_generator(model, prompt_or_messages, **kwargs))

    @hybridmethod
    def chat(self, prompt_or_messages: Messages | str, model: str = "", **kwargs: Any) -> str:
        """Sync: the answer text of one chat request, e.g. `Demo.chat("hello")`."""
        return bridge.run(self.chat_async(prompt_or_messages, model, **kwargs))


async def _generate(
    provider: Any,
    model: str,
    messages: Messages | str,
    *,
    proxy: str | None,
    timeout: Any,
    media: Any,
    api_key: str | None,
    api_endpoint: str | None,
    api_base: str | None,
    sampling: dict[str, Any],
    stream: bool,
    prompt: str | None,
    headers: dict[str, str] | None,
    impersonate: str | None,
    extra_parameters: tuple[str, ...],
    extra_data: dict[str, Any] | None,
    max_retries: int | None,
    kwargs: dict[str, Any],
) -> AsyncIterator[Any]:
    key = provider.get_api_key(api_key)
    try:
        base = await provider.get_api_base_async(api_base)
        provider.check_auth(key, base)
        model = model or provider.default_model
        if impersonate:
            headers = {"User-Agent": _BROWSER_UA, **(headers or {})}
        call = Call(provider, base, key, proxy, timeout, headers, max_retries)
        prepared = prepare_messages(provider, messages, media)
        if provider.is_image_model(model):
            image_prompt = prompt or last_user_text(prepared)
            body = {"model": model, "prompt": image_prompt}
            body.update({k: kwargs[k] for k in IMAGE_PARAMETERS if kwargs.get(k) is not None})
            body.update(extra_data or {})
            async for item in call.images(body, image_prompt):
                yield item
            return
        body = {"model": model, "messages": prepared}
        body.update({k: v for k, v in sampling.items() if v is not None})
        body.update({k: kwargs[k] for k in extra_parameters if kwargs.get(k) is not None})
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(extra_data or {})
        endpoint = api_endpoint or provider.api_endpoint or f"{base}/chat/completions"
        async for item in call.chat(endpoint, body, stream):
            yield item
    except errors.ProviderError as exc:
        # One exit for every error: whatever path raised it, the key leaves no trace on it.
        raise errors.scrub(exc, key, api_key) from None


__all__ = ["AsyncResult", "OpenaiTemplate", "hybridmethod", "prepare_messages"]
