"""One chat or image request, end to end: build the body once, then send it (or answer it from a
replay file), and scrub every secret from whatever error comes out.

`OpenaiTemplate.create_async_generator` checks its arguments and calls `generate`; the tool loop
calls it once per model reply.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from . import arguments, errors, replay
from .messages import Messages, last_user_text, prepare_messages
from .request import Call, Target, replay_request
from .secret import Secret


async def generate(
    provider: Any,
    model: str,
    messages: Messages | str,
    *,
    proxy: str | Secret | None,
    timeout: Any,
    media: Any,
    api_key: Secret | None,
    api_endpoint: str | Secret | None,
    api_base: str | Secret | None,
    sampling: dict[str, Any],
    stream: bool,
    prompt: str | None,
    headers: dict[str, Any] | None,
    impersonate: str | None,
    extra_parameters: tuple[str, ...],
    extra_data: dict[str, Any] | None,
    retries: tuple[int | None, float | None],
    kwargs: dict[str, Any],
) -> AsyncGenerator[Any, None]:
    key = provider.get_api_key(api_key)
    # Grows as the request learns its URL's credentials and headers: all of them are scrubbed.
    secrets: list[str | Secret | None] = [key, api_key]
    try:
        model = model or provider.default_model
        prepared = prepare_messages(provider, messages, media)
        image_prompt = (prompt or last_user_text(prepared)) if provider.is_image_model(model) else None
        if image_prompt is not None:
            body = arguments.image_body(model, image_prompt, kwargs, extra_data)
        else:
            body = arguments.chat_body(
                model, prepared, sampling, kwargs, extra_parameters, stream, extra_data
            )

        async def send() -> AsyncGenerator[Any, None]:
            """The request itself, over the network (unless a replay file answers it)."""
            target = await Target.resolve(provider, api_base, api_endpoint)
            secrets.extend(target.url_secrets)
            provider.check_auth(key, target.base)
            sent = {"User-Agent": arguments.BROWSER_USER_AGENT, **(headers or {})} if impersonate else headers
            call = Call(provider, target, key, proxy=proxy, timeout=timeout, headers=sent, retries=retries)
            secrets.extend(call.secrets)
            if image_prompt is not None:
                return call.images(body, image_prompt)
            return call.chat(target.endpoint or f"{target.base}/chat/completions", body, stream)

        settings = replay.active()
        if settings is None:
            items = await send()
        else:
            kind = "chat" if image_prompt is None else "images"
            request, found = await replay_request(provider, api_base, api_endpoint, kind, body)
            secrets.extend(found)
            items = replay.exchange(settings, request, send, secrets)
        async with contextlib.aclosing(items):
            async for item in items:
                yield item
    except errors.ProviderError as exc:
        # One exit for every error: whatever path raised it, no secret leaves a trace on it.
        raise errors.scrub(exc, *secrets) from None
    except Exception as exc:
        # Misuse found late (a media file, a value JSON cannot carry) or a bug: kept as it is,
        # but the frames it came through (a request, a server's text) lose their variables.
        errors.clear_locals(exc)
        raise


__all__ = ["generate"]
