"""`OpenaiTemplate`: an async provider for any OpenAI-compatible API (subclass it to make a preset).

Class attributes describe a provider; every method is usable on the class or on an instance (whose
attributes then win), and nothing is read from the environment before a request is made.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
from collections.abc import Iterator
from typing import Any, ClassVar, cast

import httpx

from . import arguments, bodies, bridge, errors, replay, retry, secret, sse, transport
from . import models as listing
from . import tools as tool_loop
from .arguments import DEFAULT_EXTRA_PARAMETERS, IMAGE_PARAMETERS
from .generate import generate
from .hybrid import AsyncResult, hybridmethod
from .messages import Messages, prepare_messages
from .secret import Secret, reveal
from .urls import strip_credentials

# What an API key may hold to be sent in a header: printable ASCII, no spaces. Anything else would
# make httpx or h11 raise an error whose text or args contain the key itself.
_SENDABLE_KEY = re.compile(r"[\x21-\x7e]+")


class OpenaiTemplate:
    """Base provider: OpenAI's own API unless `OPENAI_BASE_URL` (or a subclass) says otherwise."""

    label: ClassVar[str] = "OpenAI-compatible"
    url: str | None = None  # the provider's home page, for display
    api_base: str | None = None  # None: $OPENAI_BASE_URL, else OpenAI's URL
    default_api_base: ClassVar[str] = "https://api.openai.com/v1"
    api_key: str | Secret | None = None
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
    max_retry_wait: float = retry.DEFAULT_MAX_WAIT  # seconds slept in all retries of one request
    max_connections: int = transport.DEFAULT_MAX_CONNECTIONS  # per server and event loop
    max_event_bytes: int = sse.DEFAULT_MAX_EVENT_SIZE  # one streamed event
    max_reply_bytes: int = bodies.DEFAULT_MAX_REPLY_BYTES  # a whole non-streamed reply (decoded)
    max_error_bytes: int = bodies.DEFAULT_MAX_ERROR_BYTES  # an error body; the rest is not read
    models_timeout: float = 15.0
    default_headers: dict[str, str] = {}  # noqa: RUF012 - e.g. OpenRouter's X-Title
    # Stands for the base URL in replay fingerprints when none is given explicitly: for a server
    # whose URL changes between runs (the embedded demo server's free port). See core/replay.py.
    replay_name: str | None = None
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
        if "api_key" in attributes:
            attributes["api_key"] = secret.argument(attributes["api_key"])
            if isinstance(attributes["api_key"], TypeError):
                raise attributes["api_key"]
        for name, value in attributes.items():
            if not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} has no attribute {name!r}")
            setattr(self, name, value)

    def __repr__(self) -> str:
        name = type(self).__name__
        base = strip_credentials(reveal(self.api_base) or "") or None
        return f"<{name} {self.label!r} api_base={base!r} key={'set' if self.api_key else 'unset'}>"

    # --- configuration resolved at call time ------------------------------------------------------

    @hybridmethod
    def get_api_key(self, api_key: str | Secret | None = None) -> Secret | None:
        """The key: explicit argument, then the `api_key` attribute, then `$<api_key_env>` (stripped).

        Always a `Secret` (or None): its `repr` is a mask, `.reveal()` gives the text.
        """
        key = (
            Secret.wrap(api_key)
            or Secret.wrap(self.api_key)
            or Secret.wrap(os.environ.get(self.api_key_env) if self.api_key_env else None)
        )
        return Secret(key.reveal().strip()) or None if key is not None else None

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
        base: str = self.get_api_base(api_base)
        return base

    @hybridmethod
    def requires_key(self, api_base: str) -> bool:
        """Whether a request to `api_base` needs a key."""
        if self.needs_auth is not None:
            return bool(self.needs_auth)
        return api_base.rstrip("/") == self.default_api_base

    @hybridmethod
    def check_auth(self, api_key: str | Secret | None = None, api_base: str | None = None) -> None:
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
        self, stream: bool, api_key: str | Secret | None = None, headers: dict[str, Any] | None = None
    ) -> dict[str, str]:
        """Request headers: Accept by mode, JSON body, Bearer auth when a key is given, then `headers`.

        The only place where the key (and any `Secret` header value) is revealed.
        """
        result = {
            "Accept": "text/event-stream" if stream else "application/json",
            "Content-Type": "application/json",
            **self.default_headers,
        }
        key = Secret.wrap(api_key)
        if key:
            if not _SENDABLE_KEY.fullmatch(key.reveal()):
                raise errors.AuthenticationError(
                    "the API key holds characters an HTTP header cannot carry (spaces, line breaks or "
                    "non-ASCII letters such as curly quotes): check how it was copied"
                )
            result["Authorization"] = f"Bearer {key.reveal()}"
        result.update(arguments.sendable_headers(headers))
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
    def retry_policy(
        self, max_retries: int | None = None, max_retry_wait: float | None = None
    ) -> retry.RetryPolicy:
        """Retry settings from the class attributes (and a per-call `max_retries`, `max_retry_wait`)."""
        return retry.RetryPolicy(
            max_retries=self.max_retries if max_retries is None else max_retries,
            base_delay=self.retry_base_delay,
            max_wait=self.max_retry_wait if max_retry_wait is None else max_retry_wait,
        )

    # --- models -----------------------------------------------------------------------------------

    @hybridmethod
    def get_models(
        self, api_key: str | Secret | None = None, api_base: str | Secret | None = None
    ) -> list[str]:
        """Model ids from `GET {api_base}/models` (cached), else `fallback_models` (sync; via bridge)."""
        # Only Secrets from here on (a URL with user:password@ too): a traceback shows every local.
        key, api_base = secret.argument(api_key), secret.protect({"api_base": api_base})["api_base"]
        del api_key
        if isinstance(key, TypeError):
            raise key
        models: list[str] = bridge.run(self.get_models_async(api_key=key, api_base=api_base))
        return models

    @hybridmethod
    async def get_models_async(
        self,
        api_key: str | Secret | None = None,
        api_base: str | Secret | None = None,
        *,
        refresh: bool = False,
    ) -> list[str]:
        """Async `get_models`; fills `image_models` from the listing."""
        key, api_base = secret.argument(api_key), secret.protect({"api_base": api_base})["api_base"]
        del api_key
        if isinstance(key, TypeError):
            raise key
        try:
            models, discovered = await listing.get_listing(self, self.get_api_key(key), api_base, refresh)
        except errors.ReplayMissError:
            raise  # replay mode: the fallback list would hide that the listing was never recorded
        except errors.ProviderError:
            if self.fallback_models:
                return list(self.fallback_models)
            raise
        if self is not cast(Any, OpenaiTemplate):  # the base class's lists are inherited by every preset
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
        api_key: str | Secret | None = None,
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
        max_retry_wait: float | None = None,
        **kwargs: Any,
    ) -> AsyncResult[Any]:
        """Chat (or generate images): an async iterator of `str` deltas and `responses` items.

        Usable as `async for item in ...` and as `result = await ...; async for item in result`.
        Keyword arguments named in `extra_parameters` (e.g. `seed`, `tools`) go into the body; any
        other unknown keyword is a TypeError. gpt4free's `base_url=` and `extra_body=` are aliases
        of `api_base=` and `extra_data=`. `impersonate` only sends a browser User-Agent (httpx
        cannot mimic a browser's TLS fingerprint). `timeout` is the read limit in seconds (connect
        is capped at 10 s), a `(connect, read)` pair, or an `httpx.Timeout`. Retries sleep at most
        `max_retry_wait` seconds in total (the class attribute, 60 s, by default), announced by a
        `responses.RetryWait` item before each wait. With Python functions in `tools`, runs the
        tool loop (`max_steps=8`, `confirm=None`; see `openai_magic.tools`).
        """
        # Credentials become Secrets before anything can raise: a traceback prints every local.
        given = {"api_key": api_key, "headers": headers, "api_base": api_base, "proxy": proxy}
        kwargs = secret.protect({**kwargs, **given, "api_endpoint": api_endpoint})
        key, headers, api_base = kwargs.pop("api_key"), kwargs.pop("headers"), kwargs.pop("api_base")
        proxy, api_endpoint = kwargs.pop("proxy"), kwargs.pop("api_endpoint")
        del api_key, given
        if isinstance(key, TypeError):
            raise key
        named = arguments.take_aliases(kwargs, {"api_base": api_base, "extra_data": extra_data})
        api_base, extra_data = named["api_base"], named["extra_data"]
        extra = self.extra_parameters if extra_parameters is None else tuple(extra_parameters)
        accepted = (*extra, *IMAGE_PARAMETERS, *arguments.ALWAYS_ACCEPTED, *arguments.TOOL_LOOP_KEYWORDS)
        arguments.check_keywords(kwargs, accepted, _NAMED)
        sampling = {"temperature": temperature, "max_tokens": max_tokens, "top_p": top_p, "stop": stop}
        arguments.check_call(model, messages, {**sampling, **kwargs}, max_retries, max_retry_wait)
        request = functools.partial(
            generate,
            self,
            model,
            proxy=proxy,
            timeout=timeout,
            media=media,
            api_key=key,
            api_endpoint=api_endpoint,
            api_base=api_base,
            sampling=sampling,
            stream=stream,
            prompt=prompt,
            headers=headers,
            impersonate=impersonate,
            extra_parameters=extra,
            extra_data=extra_data,
            retries=(max_retries, max_retry_wait),
        )
        if tool_loop.has_functions(kwargs.get("tools")):
            agen = tool_loop.loop(request, messages, kwargs)
        else:
            agen = request(messages, kwargs=kwargs)

        def precheck() -> None:
            # A request a replay file may answer needs no key: a replayed notebook runs without one.
            if replay.current().mode in ("off", "record"):
                self.check_auth(key, reveal(api_base))

        return AsyncResult(agen, precheck=precheck)

    @hybridmethod
    def create_completion(
        self, model: str = "", messages: Messages | str = "", **kwargs: Any
    ) -> Iterator[Any]:
        """Sync twin of `create_async_generator` for scripts and cells (works inside a running loop)."""
        kwargs = secret.protect(kwargs)
        return bridge.iterate(self.create_async_generator(model, messages, **kwargs))

    @hybridmethod
    async def chat_async(self, prompt_or_messages: Messages | str, model: str = "", **kwargs: Any) -> str:
        """The answer text of one chat request (reasoning and other items dropped); with Python
        functions in `tools=[...]`, the final answer of the tool loop."""
        kwargs = secret.protect(kwargs)
        return await tool_loop.answer_text(self.create_async_generator(model, prompt_or_messages, **kwargs))

    @hybridmethod
    def chat(self, prompt_or_messages: Messages | str, model: str = "", **kwargs: Any) -> str:
        """Sync: the answer text of one chat request, e.g. `Demo.chat("hello")`."""
        kwargs = secret.protect(kwargs)
        answer: str = bridge.run(self.chat_async(prompt_or_messages, model, **kwargs))
        return answer


# The keywords of create_async_generator, for "did you mean" hints on a misspelt one.
_NAMED = tuple(
    name
    for name in inspect.signature(OpenaiTemplate.create_async_generator.__func__).parameters
    if name not in ("self", "kwargs")
)


__all__ = ["AsyncResult", "OpenaiTemplate", "hybridmethod", "prepare_messages"]
