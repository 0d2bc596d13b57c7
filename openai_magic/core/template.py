"""`OpenaiTemplate`: an async provider for any OpenAI-compatible API (subclass it to make a preset).

Class attributes describe a provider; every method is usable on the class or on an instance (whose
attributes then win), and nothing is read from the environment before a request is made.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import json.scanner
import os
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from types import MethodType
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from . import bridge, errors, parse, sse, transport
from . import media as media_mod
from .responses import FinishReason, ImageResponse, ProviderInfo, Reasoning, ToolCalls, Usage

T = TypeVar("T")
Messages = list[dict[str, Any]]

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

# Ids that denote image generation models on common providers.
IMAGE_MODEL_PATTERN = re.compile(
    r"dall-e|gpt-image|flux|stable-diffusion|sdxl|\bsd3|imagen|midjourney|playground-v|ideogram|recraft"
    r"|image-gen|(?:^|[-_/.])image(?:$|[-_.])",
    re.IGNORECASE,
)

# `impersonate` comes from gpt4free (curl_cffi). httpx cannot mimic a browser's TLS fingerprint, so
# here it only sends a browser User-Agent, which is what some gateways check.
_BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)

_models_cache: dict[tuple[Any, ...], tuple[list[str], list[str]]] = {}
_models_lock = threading.Lock()


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
        """The key: explicit argument, then the `api_key` attribute, then `$<api_key_env>`."""
        if api_key:
            return api_key
        if self.api_key:
            return self.api_key
        return os.environ.get(self.api_key_env) or None if self.api_key_env else None

    @hybridmethod
    def get_api_base(self, api_base: str | None = None) -> str:
        """The base URL: explicit argument, then `$<base_url_env>`, then `api_base`, then OpenAI's."""
        base = api_base or (os.environ.get(self.base_url_env) if self.base_url_env else None)
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
            result["Authorization"] = f"Bearer {api_key}"
        if headers:
            result.update(headers)
        return result

    @hybridmethod
    def is_image_model(self, model: str) -> bool:
        """Whether `model` generates images (listed in `image_models` or a known id pattern)."""
        return (
            model in self.image_models
            or (bool(model) and model == self.default_image_model)
            or bool(IMAGE_MODEL_PATTERN.search(model or ""))
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
        cache_key = _cache_key(self, base, key)
        cached = None if refresh else _models_cache.get(cache_key)
        if cached is None:
            try:
                cached = await _fetch_models(self, base, key)
            except errors.ProviderError as exc:
                if self.fallback_models:
                    return list(self.fallback_models)
                raise type(exc)(
                    f"could not list models of {self.label} at {base}: {exc.message}",
                    status_code=exc.status_code,
                    body=exc.body,
                ) from None
            with _models_lock:
                _models_cache[cache_key] = cached
        models, discovered = cached
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
        others are ignored, as in gpt4free.
        """
        agen = _generate(
            self,
            model,
            messages,
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
            kwargs=kwargs,
        )
        return AsyncResult(agen, precheck=lambda: self.check_auth(api_key, api_base))

    @hybridmethod
    def create_completion(
        self, model: str = "", messages: Messages | str = "", **kwargs: Any
    ) -> Iterator[Any]:
        """Sync twin of `create_async_generator` for scripts and cells (works inside a running loop)."""
        return bridge.iterate(self.create_async_generator(model, messages, **kwargs))

    @hybridmethod
    async def chat_async(self, prompt_or_messages: Messages | str, model: str = "", **kwargs: Any) -> str:
        """The answer text of one chat request (reasoning and other items dropped)."""
        parts = []
        async for item in self.create_async_generator(model, prompt_or_messages, **kwargs):
            if isinstance(item, str):
                parts.append(item)
        return "".join(parts)

    @hybridmethod
    def chat(self, prompt_or_messages: Messages | str, model: str = "", **kwargs: Any) -> str:
        """Sync: the answer text of one chat request, e.g. `Demo.chat("hello")`."""
        return bridge.run(self.chat_async(prompt_or_messages, model, **kwargs))


# --- implementation -------------------------------------------------------------------------------


def _cache_key(provider: Any, base: str, key: str | None) -> tuple[Any, ...]:
    # Keys are hashed so the cache never holds a secret in clear.
    digest = hashlib.sha256(key.encode()).hexdigest() if key else ""
    owner = provider if isinstance(provider, type) else type(provider)
    return (owner, base, digest)


async def _fetch_models(provider: Any, base: str, key: str | None) -> tuple[list[str], list[str]]:
    client = transport.get_client(base, None, provider.ssl)
    request = client.build_request(
        "GET",
        f"{base}/models",
        headers=provider.get_headers(False, key),
        timeout=transport.make_timeout(provider.models_timeout),
    )
    response = await transport.send(
        client, request, policy=provider.retry_policy(0), secrets=(key,), context="listing models: "
    )
    try:
        raw = await response.aread()
    except httpx.HTTPError as exc:
        raise transport.transport_error(exc, secrets=(key,), what="listing models") from None
    finally:
        await response.aclose()
    try:
        body = json.loads(raw)
    except ValueError:
        raise errors.ResponseError(
            f"model list is not JSON: {errors.error_message(raw.decode('utf-8', 'replace'))}"
        ) from None
    return _parse_models(provider, body)


def _parse_models(provider: Any, body: Any) -> tuple[list[str], list[str]]:
    entries = body
    if isinstance(body, dict):
        entries = body.get("data")
        if entries is None:
            entries = body.get("models")
    if not isinstance(entries, list):
        raise errors.ResponseError("model list has neither 'data' nor 'models'", body=body)
    models: list[str] = []
    images: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            model_id, info = entry, {}
        elif isinstance(entry, dict):
            model_id, info = entry.get("id") or entry.get("name") or entry.get("model"), entry
        else:
            continue
        if not isinstance(model_id, str) or not model_id or model_id in models:
            continue
        models.append(model_id)
        if _is_image_entry(model_id, info):
            images.append(model_id)
    if provider.sort_models:
        models.sort()
    return models, images


def _is_image_entry(model_id: str, info: dict[str, Any]) -> bool:
    if info.get("type") == "image" or info.get("image") is True or info.get("supports_images") is True:
        return True
    architecture = info.get("architecture")
    if isinstance(architecture, dict):
        outputs = architecture.get("output_modalities")
        if isinstance(outputs, list) and "image" in outputs and "text" not in outputs:
            return True
    return bool(IMAGE_MODEL_PATTERN.search(model_id))


def _normalize_messages(messages: Messages | str) -> Messages:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, list | tuple):
        raise TypeError("messages must be a list of {'role', 'content'} dicts or a string")
    return [dict(message) for message in messages]


def _fold_system(messages: Messages) -> Messages:
    """System messages become a prefix of the first user message (for servers without them)."""
    system = "\n\n".join(
        parse.content_text(m.get("content")) for m in messages if m.get("role") == "system"
    ).strip()
    rest = [m for m in messages if m.get("role") != "system"]
    if not system:
        return rest
    for index, message in enumerate(rest):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                message["content"] = [{"type": "text", "text": f"{system}\n\n"}, *content]
            else:
                message["content"] = f"{system}\n\n{content or ''}"
            rest[index] = message
            return rest
    return [{"role": "user", "content": system}, *rest]


def _last_turn(messages: Messages) -> Messages:
    """System messages plus the last user message (for servers without conversation history)."""
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    system = [m for m in messages if m.get("role") == "system"]
    return system + ([last_user] if last_user is not None else messages[-1:])


def prepare_messages(provider: Any, messages: Messages | str, media: Any = None) -> Messages:
    """The messages as they will be sent: history and system folding applied, media attached."""
    result = _normalize_messages(messages)
    if not provider.supports_message_history:
        result = _last_turn(result)
    if not provider.supports_system_message:
        result = _fold_system(result)
    return media_mod.attach(result, media_mod.to_parts(media))


def _last_user_text(messages: Messages) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return parse.content_text(message.get("content"))
    return ""


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
    base = await provider.get_api_base_async(api_base)
    provider.check_auth(key, base)
    model = model or provider.default_model
    if impersonate:
        headers = {"User-Agent": _BROWSER_UA, **(headers or {})}
    call = _Call(provider, base, key, proxy, timeout, headers, max_retries)
    prepared = prepare_messages(provider, messages, media)
    if provider.is_image_model(model):
        image_prompt = prompt or _last_user_text(prepared)
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


class _Call:
    """One request's settings and the code that turns its reply into items."""

    def __init__(
        self,
        provider: Any,
        base: str,
        key: str | None,
        proxy: str | None,
        timeout: Any,
        headers: dict[str, str] | None,
        max_retries: int | None,
    ) -> None:
        self.provider = provider
        self.base = base
        self.key = key
        self.secrets = (key,)
        self.headers = headers
        self.timeout = transport.make_timeout(timeout)
        self.client = transport.get_client(base, proxy, provider.ssl)
        self.policy = provider.retry_policy(max_retries)
        self.label = provider.label or type(provider).__name__

    async def _open(self, url: str, body: dict[str, Any], stream: bool) -> httpx.Response:
        request = self.client.build_request(
            "POST",
            url,
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers=self.provider.get_headers(stream, self.key, self.headers),
            timeout=self.timeout,
        )
        try:
            return await transport.send(self.client, request, policy=self.policy, secrets=self.secrets)
        except errors.ModelNotFoundError as exc:
            exc.suggestions = await self._suggestions(body.get("model"))
            if exc.suggestions:
                exc.message += f"; did you mean {', '.join(exc.suggestions)}?"
                exc.args = (exc.message,)
            raise

    async def _suggestions(self, model: Any) -> list[str]:
        if not isinstance(model, str) or not model:
            return []
        try:
            available = await self.provider.get_models_async(api_key=self.key, api_base=self.base)
        except errors.ProviderError:
            return []
        return difflib.get_close_matches(model, available, n=3, cutoff=0.5)

    async def _json(self, response: httpx.Response) -> Any:
        try:
            raw = await response.aread()
        except httpx.HTTPError as exc:
            raise transport.transport_error(exc, secrets=self.secrets) from None
        try:
            return json.loads(raw)
        except ValueError:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            text = errors.error_message(raw.decode("utf-8", "replace"), "an empty body")
            problem = "malformed JSON" if "json" in kind else f"{kind} instead of JSON"
            raise errors.ResponseError(
                errors.redact(f"{self.label} sent {problem}: {text}", *self.secrets),
                status_code=response.status_code,
                body=raw.decode("utf-8", "replace")[:2000],
            ) from None

    async def images(self, body: dict[str, Any], alt: str) -> AsyncIterator[Any]:
        response = await self._open(f"{self.base}/images/generations", body, False)
        try:
            reply = await self._json(response)
        finally:
            await response.aclose()
        if isinstance(reply, dict) and reply.get("error"):
            raise errors.from_stream_error(reply["error"], secrets=self.secrets)
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, list):
            raise errors.ResponseError("image reply has no 'data' list", body=reply)
        images = []
        for entry in data:
            if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                images.append(entry["url"])
            elif isinstance(entry, dict) and isinstance(entry.get("b64_json"), str):
                mime = media_mod.sniff_mime(_b64_head(entry["b64_json"]))
                images.append(
                    f"data:{mime if mime.startswith('image/') else 'image/png'};base64,{entry['b64_json']}"
                )
        if not images:
            raise errors.ResponseError("image reply contained no images", body=reply)
        yield ProviderInfo(self.label, reply.get("model") or body["model"])
        yield ImageResponse(images, alt)

    async def chat(self, url: str, body: dict[str, Any], stream: bool) -> AsyncIterator[Any]:
        response = await self._open(url, body, stream)
        try:
            kind = response.headers.get("content-type", "")
            if stream and "json" not in kind:
                async for item in self._stream(response, body["model"]):
                    yield item
                return
            reply = await self._json(response)
        finally:
            await response.aclose()
        model, items = parse.message_items(reply, self.secrets)
        yield ProviderInfo(self.label, model or body["model"])
        for item in items:
            yield item

    async def _stream(self, response: httpx.Response, requested_model: str) -> AsyncIterator[Any]:
        state = _StreamState()
        chunks = response.aiter_bytes()
        decoder = sse.SSEDecoder()
        scan = _scan_json
        think = parse.ThinkSplitter()
        text_parts = state.text
        first = True
        try:
            async for raw in chunks:
                if first:
                    first = False
                    _check_sse_start(raw, response, self.label, self.secrets)
                for event in decoder.feed(raw):
                    data = event.data
                    if data == "[DONE]":
                        state.done = True
                        break
                    if event.event == "error":
                        raise errors.from_stream_error(
                            _loads_or_text(data), partial_text=state.partial(), secrets=self.secrets
                        )
                    try:
                        chunk, end = scan(data, 0)
                        if end != len(data):
                            chunk = json.loads(data)  # trailing whitespace is fine, garbage raises
                    except (StopIteration, ValueError):
                        raise errors.ResponseError(
                            f"malformed stream event from {self.label}: {data[:200]!r}",
                            partial_text=state.partial(),
                        ) from None
                    if type(chunk) is not dict:
                        raise errors.ResponseError(
                            f"unexpected stream event from {self.label}: {data[:200]!r}",
                            partial_text=state.partial(),
                        )
                    if chunk.get("error"):
                        raise errors.from_stream_error(
                            chunk["error"], partial_text=state.partial(), secrets=self.secrets
                        )
                    if state.info is None:
                        model = chunk.get("model")
                        state.info = ProviderInfo(
                            self.label, model if isinstance(model, str) and model else requested_model
                        )
                        yield state.info
                    choices = chunk.get("choices")
                    if choices:
                        choice = choices[0]
                        if type(choice) is dict and choice.get("index", 0) in (0, None):
                            delta = choice.get("delta")
                            if delta and type(delta) is dict:
                                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                                if reasoning and type(reasoning) is str:
                                    yield Reasoning(reasoning)
                                content = delta.get("content")
                                if content:
                                    if type(content) is not str:
                                        content = parse.content_text(content)
                                    if think.mode == 2:  # answer mode: the fast path
                                        text_parts.append(content)
                                        yield content
                                    else:
                                        for item in think.feed(content):
                                            if type(item) is str:
                                                text_parts.append(item)
                                            yield item
                                calls = delta.get("tool_calls")
                                if calls:
                                    state.tools.add(calls)
                            reason = choice.get("finish_reason")
                            if reason and type(reason) is str:
                                state.finish = reason
                    usage = chunk.get("usage")
                    if usage and type(usage) is dict:
                        state.usage = usage
                if state.done:
                    break
            if state.done:
                await _drain(chunks)
            else:
                for event in decoder.flush():
                    if event.data == "[DONE]":
                        state.done = True
        except httpx.HTTPError as exc:
            raise transport.transport_error(
                exc, partial_text=state.partial(), secrets=self.secrets, what="stream"
            ) from None
        for item in think.flush():
            if type(item) is str:
                text_parts.append(item)
            yield item
        if not state.done and state.finish is None:
            raise errors.ResponseError(
                f"the stream from {self.label} ended early (no finish reason, no [DONE])",
                partial_text=state.partial(),
            )
        if state.info is None:
            yield ProviderInfo(self.label, requested_model)
        if state.tools.calls:
            yield ToolCalls(state.tools.calls)
        if state.finish is not None:
            yield FinishReason(state.finish)
        if state.usage is not None:
            yield Usage.from_dict(state.usage)


# json.loads wraps the C scanner in two Python-level calls and a whitespace regex; on the per-chunk
# hot path the scanner is called directly (falling back to json.loads for anything unusual).
_scan_json = json.scanner.make_scanner(json.JSONDecoder())


class _StreamState:
    __slots__ = ("done", "finish", "info", "text", "tools", "usage")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.tools = parse.ToolCallAssembler()
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.info: ProviderInfo | None = None
        self.done = False

    def partial(self) -> str:
        return "".join(self.text)


async def _drain(chunks: AsyncIterator[bytes], limit: int = 65536, seconds: float = 1.0) -> None:
    """Read what follows `[DONE]` (normally just the end of the chunked body) so the connection
    goes back to the keep-alive pool instead of being closed; bounded in size and time, since a
    server that keeps the body open after `[DONE]` must not delay the caller."""
    received = 0
    try:
        async with asyncio.timeout(seconds):
            async for raw in chunks:
                received += len(raw)
                if received > limit:
                    break
    except (TimeoutError, httpx.HTTPError):
        pass  # the connection is simply not reused


def _loads_or_text(data: str) -> Any:
    try:
        value = json.loads(data)
    except ValueError:
        return {"message": data}
    return value.get("error", value) if isinstance(value, dict) else value


def _check_sse_start(
    raw: bytes, response: httpx.Response, label: str, secrets: tuple[str | None, ...]
) -> None:
    # A 200 that is not an event stream (an HTML proxy page, plain text) must not pass as empty.
    kind = response.headers.get("content-type", "")
    if "event-stream" in kind:
        return
    head = raw.lstrip()[:16]
    if head.startswith((b"data:", b":", b"event:", b"id:", b"retry:")):
        return
    text = errors.error_message(raw[:2000].decode("utf-8", "replace"), "an empty body")
    raise errors.ResponseError(
        errors.redact(
            f"expected an event stream from {label} but got {kind.split(';')[0] or 'no content type'}: "
            + text,
            *secrets,
        ),
        status_code=response.status_code,
        body=raw[:2000].decode("utf-8", "replace"),
    )


def _b64_head(payload: str) -> bytes:
    import base64

    try:
        return base64.b64decode(payload[:64])
    except ValueError:
        return b""


__all__ = ["AsyncResult", "OpenaiTemplate", "hybridmethod", "prepare_messages"]
