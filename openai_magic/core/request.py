"""One chat or image request: send (with retries) and turn the reply, streamed or not, into items."""

from __future__ import annotations

import base64
import difflib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from . import arguments, bodies, errors, parse, replay, retry, transport, urls
from . import media as media_mod
from .responses import ImageResponse, ProviderInfo, RetryWait
from .secret import Secret, header_secrets, reveal, unique
from .stream import StreamParser


@dataclass(frozen=True)
class Target:
    """Where requests go: the base URL without credentials, and those credentials as secrets."""

    base: str
    endpoint: str | None  # a full chat URL that replaces `{base}/chat/completions`
    logins: dict[str, tuple[Secret, Secret]]  # `user:password@` of `base` / `endpoint`, by URL
    url_secrets: tuple[Secret, ...]
    listing_base: Secret | None  # the explicit base URL argument, for the model listing

    @classmethod
    async def resolve(
        cls, provider: Any, api_base: str | Secret | None, api_endpoint: str | Secret | None = None
    ) -> Target:
        """The provider's base URL (the argument, the environment or its own), split up."""
        raw = await provider.get_api_base_async(reveal(api_base))
        endpoint = reveal(api_endpoint) or provider.api_endpoint
        found = urls.url_secrets(raw) + (urls.url_secrets(endpoint) if endpoint else ())
        logins = {}
        for url in (raw, endpoint):
            login = urls.credentials(url) if url else None
            if url and login:
                logins[urls.strip_credentials(url)] = (Secret(login[0]), Secret(login[1]))
        return cls(
            base=urls.strip_credentials(raw),
            endpoint=urls.strip_credentials(endpoint) if endpoint else None,
            logins=logins,
            url_secrets=unique(found),
            listing_base=Secret.wrap(api_base),
        )

    def auth(self, url: str) -> httpx.BasicAuth | None:
        """HTTP Basic auth from the credentials of the URL `url` was given as (the endpoint's for
        the endpoint, the base URL's for the rest), as httpx would send them from the URL itself."""
        login = self.logins.get(url if url == self.endpoint else self.base)
        return httpx.BasicAuth(login[0].reveal(), login[1].reveal()) if login else None


_REPLAY_ENDPOINTS = {"chat": "chat/completions", "images": "images/generations", "models": "models"}


async def replay_request(
    provider: Any,
    api_base: str | Secret | None,
    api_endpoint: str | Secret | None,
    kind: str,
    body: dict[str, Any] | None = None,
) -> tuple[replay.Request, tuple[Secret, ...]]:
    """The request as its replay fingerprint sees it (`kind`: chat, images or models), and the
    credentials its URLs held (to redact; they are not part of it).

    The base URL is taken without credentials, or is the provider's `replay_name` when none is given
    explicitly: the embedded demo server's port changes with every run (and it is not even started
    to replay). A chat `api_endpoint` (full URL) replaces the usual path.
    """
    explicit = reveal(api_base)
    found: tuple[str, ...] = ()  # the credentials in the URLs (made Secrets before returning)
    if provider.replay_name and not explicit:
        base = str(provider.replay_name)
    else:
        raw = await provider.get_api_base_async(explicit)
        base, found = urls.strip_credentials(raw), urls.url_secrets(raw)
    endpoint = _REPLAY_ENDPOINTS[kind]
    custom = (reveal(api_endpoint) or provider.api_endpoint) if kind == "chat" else None
    if custom:
        endpoint, found = urls.strip_credentials(custom), found + urls.url_secrets(custom)
    return replay.request(base, endpoint, body), unique(found)


class Call:
    """One request's settings and the code that turns its reply into items."""

    def __init__(
        self,
        provider: Any,
        target: Target,
        key: Secret | None,
        *,
        proxy: str | Secret | None,
        timeout: Any,
        headers: dict[str, Any] | None,
        retries: tuple[int | None, float | None] = (None, None),
    ) -> None:
        self.provider = provider
        self.target = target
        self.base = target.base
        self.key = key
        proxy_secrets = urls.url_secrets(reveal(proxy)) if proxy else ()
        sent = {**provider.default_headers, **(headers or {})}
        self.secrets = unique((key, *header_secrets(sent), *target.url_secrets, *proxy_secrets))
        self.headers = headers
        self.timeout = transport.make_timeout(timeout)
        self.pool = (target.endpoint or target.base, proxy, provider.ssl, provider.max_connections)
        self.client = transport.get_client(*self.pool)  # builds the request; a lease's client sends it
        self.lease: transport.Lease | None = None
        self.policy = provider.retry_policy(*retries)  # (max_retries, max_retry_wait)
        self.label = provider.label or type(provider).__name__

    async def _open(
        self, url: str, body: dict[str, Any], stream: bool
    ) -> AsyncIterator[RetryWait | httpx.Response]:
        """`RetryWait`s while the request is retried, then the successful response (unread)."""
        try:
            request = self.client.build_request(
                "POST",
                url,
                content=arguments.json_body(body),
                headers=self.provider.get_headers(stream, self.key, self.headers),
                timeout=self.timeout,
            )
        except UnicodeEncodeError:
            # Its args would hold the whole header value, which may be a secret.
            raise errors.BadRequestError("a request header holds a non-ASCII character") from None
        self.lease = transport.lease(*self.pool)
        try:
            async for step in retry.attempts(
                self.lease.client,
                request,
                policy=self.policy,
                secrets=self.secrets,
                auth=self.target.auth(url),
                base=self.base,
                max_error_bytes=self.provider.max_error_bytes,
            ):
                yield step
        except errors.ModelNotFoundError as exc:
            self.lease.release()
            exc.available = await self._listed_models()
            model = body.get("model")
            if isinstance(model, str) and model:
                exc.suggestions = difflib.get_close_matches(model, exc.available, n=3, cutoff=0.5)
            raise
        except BaseException:
            self.lease.release()
            raise

    async def _close(self, response: httpx.Response) -> None:
        try:
            await response.aclose()
        finally:
            if self.lease is not None:
                self.lease.release()

    async def _listed_models(self) -> list[str]:
        """The provider's models (cached), for hints on an unknown model; [] when they can't be had."""
        try:
            models: list[str] = await self.provider.get_models_async(
                api_key=self.key, api_base=self.target.listing_base
            )
        except errors.ProviderError:
            return []
        return models

    async def images(self, body: dict[str, Any], alt: str) -> AsyncGenerator[Any, None]:
        response = None
        async for step in self._open(f"{self.base}/images/generations", body, False):
            if isinstance(step, RetryWait):
                yield step
            else:
                response = step
        assert response is not None
        try:
            reply = await self._read_json(response)
        finally:
            await self._close(response)
        if isinstance(reply, dict) and reply.get("error"):
            raise errors.from_stream_error(reply["error"], secrets=self.secrets)
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, list):
            raise errors.ResponseError("image reply has no 'data' list", body=errors.bounded(reply))
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
            raise errors.ResponseError("image reply contained no images", body=errors.bounded(reply))
        yield ProviderInfo(self.label, reply.get("model") or body["model"])
        yield ImageResponse(images, alt)

    async def _read_json(
        self, response: httpx.Response, chunks: AsyncIterator[bytes] | None = None, head: bytes = b""
    ) -> Any:
        return await bodies.read_json(
            response,
            label=self.label,
            secrets=self.secrets,
            limit=self.provider.max_reply_bytes,
            chunks=chunks,
            head=head,
        )

    async def chat(self, url: str, body: dict[str, Any], stream: bool) -> AsyncGenerator[Any, None]:
        response = None
        async for step in self._open(url, body, stream):
            if isinstance(step, RetryWait):
                yield step
            else:
                response = step
        assert response is not None
        try:
            # What the body is decides how it is read, not its label: some servers stream with
            # `application/json`, or answer a stream request with one JSON reply.
            chunks = response.aiter_bytes()
            limit = self.provider.max_event_bytes if stream else self.provider.max_reply_bytes
            try:
                head, kind = await bodies.sniff(chunks, limit)
            except httpx.HTTPError as exc:
                raise transport.transport_error(exc, secrets=self.secrets, what="stream") from None
            if kind == bodies.TOO_LARGE:
                raise bodies.too_large(
                    self.label, limit, *(("stream event", "max_event_bytes") if stream else ())
                )
            label = response.headers.get("content-type", "")
            if (
                kind == bodies.SSE
                or (kind == bodies.EMPTY and stream)
                or (kind == bodies.OTHER and "event-stream" in label)
            ):
                parser = StreamParser(self.label, body["model"], self.secrets, self.provider.max_event_bytes)
                async for item in parser.items(_prepend(head, chunks)):
                    yield item
                return
            if kind == bodies.OTHER and stream:
                got = label.split(";")[0] or "no content type"
                problem = f"expected an event stream from {self.label} but got {got}"
                raise bodies.unexpected_body(head, response, problem, self.secrets)
            reply = await self._read_json(response, chunks, head)
        finally:
            await self._close(response)
        try:
            model, items = parse.message_items(reply, self.secrets)
        except RecursionError:
            raise errors.ResponseError(f"the reply from {self.label} is nested too deeply") from None
        yield ProviderInfo(self.label, model or body["model"])
        for item in items:
            yield item


async def _prepend(head: bytes, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in chunks:
        yield chunk


def _b64_head(payload: str) -> bytes:
    try:
        return base64.b64decode(payload[:64])
    except ValueError:
        return b""


__all__ = ["Call", "Target", "replay_request"]
