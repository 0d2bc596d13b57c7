"""One chat or image request: send (with retries) and turn the reply, streamed or not, into items."""

from __future__ import annotations

import asyncio
import base64
import difflib
import json
import json.scanner
from collections.abc import AsyncIterator
from typing import Any

import httpx

from . import errors, parse, sse, transport
from . import media as media_mod
from .responses import FinishReason, ImageResponse, ProviderInfo, Reasoning, ToolCalls, Usage


class Call:
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
        try:
            request = self.client.build_request(
                "POST",
                url,
                content=json.dumps(body, ensure_ascii=False).encode(),
                headers=self.provider.get_headers(stream, self.key, self.headers),
                timeout=self.timeout,
            )
        except UnicodeEncodeError:
            # Its args would hold the whole header value, which may be a secret.
            raise errors.BadRequestError("a request header holds a non-ASCII character") from None
        try:
            return await transport.send(self.client, request, policy=self.policy, secrets=self.secrets)
        except errors.ModelNotFoundError as exc:
            exc.available = await self._listed_models()
            model = body.get("model")
            if isinstance(model, str) and model:
                exc.suggestions = difflib.get_close_matches(model, exc.available, n=3, cutoff=0.5)
            raise

    async def _listed_models(self) -> list[str]:
        """The provider's models (cached), for hints on an unknown model; [] when they can't be had."""
        try:
            return await self.provider.get_models_async(api_key=self.key, api_base=self.base)
        except errors.ProviderError:
            return []

    async def images(self, body: dict[str, Any], alt: str) -> AsyncIterator[Any]:
        response = await self._open(f"{self.base}/images/generations", body, False)
        try:
            reply = await transport.read_json(response, label=self.label, secrets=self.secrets)
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
            # Also a server that streams although asked not to (and one that answers a stream
            # request with plain JSON is parsed as a whole reply below).
            if "event-stream" in kind or (stream and "json" not in kind):
                async for item in self._stream(response, body["model"]):
                    yield item
                return
            reply = await transport.read_json(response, label=self.label, secrets=self.secrets)
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
                            f"malformed stream event from {self.label}: "
                            f"{errors.redact(data, *self.secrets)[:200]!r}",
                            partial_text=state.partial(),
                        ) from None
                    if type(chunk) is not dict:
                        raise errors.ResponseError(
                            f"unexpected stream event from {self.label}: "
                            f"{errors.redact(data, *self.secrets)[:200]!r}",
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
                    if choices and type(choices) is list:
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
    got = kind.split(";")[0] or "no content type"
    problem = f"expected an event stream from {label} but got {got}"
    raise transport.unexpected_body(raw, response, problem, secrets)


def _b64_head(payload: str) -> bytes:
    try:
        return base64.b64decode(payload[:64])
    except ValueError:
        return b""


__all__ = ["Call"]
