"""Sending one request: retries of 429/5xx and connection failures with backoff and Retry-After.

The time slept is budgeted per request (`RetryPolicy.max_wait`, 60 s by default): a server that
asks for more than is left gets its error raised at once, with `retry_after` set, instead of a
cell that hangs for minutes. Before each wait a `RetryWait` item says so, for the notebook to show.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from . import errors
from .bodies import DEFAULT_MAX_ERROR_BYTES, read_error_body
from .responses import RetryWait
from .secret import Secrets
from .transport import transport_error
from .urls import strip_credentials

log = logging.getLogger("openai_magic")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_MAX_WAIT = 60.0


@dataclass
class RetryPolicy:
    """How often to retry 429/5xx replies and connect errors, and how long to sleep in total."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = DEFAULT_MAX_WAIT

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        delay = min(self.max_delay, self.base_delay * 2.0**attempt)
        return delay / 2 + random.uniform(0, delay / 2)


def _retryable_transport(exc: Exception) -> bool:
    # Nothing reached the server (or a stale keep-alive connection was closed under us).
    return isinstance(
        exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.RemoteProtocolError | httpx.ReadError
    )


def _reason(status: int) -> str:
    return "rate limited" if status == 429 else f"server error {status}"


async def attempts(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    secrets: Secrets = (),
    context: str = "",
    auth: httpx.Auth | None = None,
    base: str | None = None,
    max_error_bytes: int = DEFAULT_MAX_ERROR_BYTES,
) -> AsyncIterator[RetryWait | httpx.Response]:
    """Send with retries: a `RetryWait` before each wait, then the successful response, unread.

    The caller must `aclose()` the response. Error replies become typed errors with the server's
    message; a redirect is an error naming the new location (`base`, the base URL, helps say which
    base URL to use instead).
    """
    attempt = 0
    waited = 0.0
    while True:
        try:
            response = await client.send(request, stream=True, auth=auth)
        except httpx.HTTPError as exc:
            delay = min(policy.backoff(attempt), policy.max_wait - waited)
            if not _retryable_transport(exc) or attempt >= policy.max_retries or delay < 0:
                raise transport_error(exc, secrets=secrets) from None
            reason, cause = f"connection failed ({type(exc).__name__})", type(exc).__name__
        else:
            if response.is_success:
                yield response
                return
            if response.is_redirect:
                await response.aclose()
                raise redirect_error(response, context, base, secrets)
            try:
                body = await read_error_body(response, max_error_bytes)
            finally:
                await response.aclose()
            error = errors.from_status(
                response.status_code, body, headers=response.headers, secrets=secrets, context=context
            )
            if response.status_code not in RETRY_STATUSES or attempt >= policy.max_retries:
                raise error
            if getattr(error, "insufficient_quota", False):
                raise error  # out of credit: retrying only repeats the bill's answer
            retry_after = errors.parse_retry_after(response.headers)
            left = policy.max_wait - waited
            if retry_after is not None and retry_after > left:
                raise error  # minutes or hours: tell the user (`retry_after`) instead of hanging
            delay = retry_after if retry_after is not None else min(policy.backoff(attempt), left)
            if delay < 0:
                raise error
            reason, cause = _reason(response.status_code), f"HTTP {response.status_code}"
        attempt += 1
        log.info("retrying in %.2fs after %s", delay, cause)
        yield RetryWait(delay, reason, attempt)
        waited += delay
        await asyncio.sleep(delay)


async def send(client: httpx.AsyncClient, request: httpx.Request, **options: Any) -> httpx.Response:
    """`attempts` for callers that show no retry notice: the successful response, unread."""
    async for step in attempts(client, request, **options):
        if isinstance(step, httpx.Response):
            return step
    raise AssertionError("attempts() ended without a response or an error")  # pragma: no cover


def redirect_error(
    response: httpx.Response, context: str, base: str | None, secrets: Secrets
) -> errors.ResponseError:
    """A 3xx as an error naming where the server points, and the base URL to use instead."""
    here = str(response.request.url)
    status = response.status_code
    if not response.has_redirect_location:
        message = f"{context}the server answered {here} with a redirect (HTTP {status}) but no location"
        return errors.ResponseError(f"{message}: check the base URL", status_code=status)
    target = strip_credentials(str(response.request.url.join(response.headers["location"])))
    advice = "update the base URL"
    if base and here.startswith(base):
        endpoint = here[len(base) :]  # e.g. "/chat/completions"
        if endpoint and target.endswith(endpoint):
            advice += f" to {target[: -len(endpoint)]}"
    message = (
        f"{context}the server redirects {here} to {target} (HTTP {status}); "
        f"redirects are not followed, so the key never goes to another address: {advice}"
    )
    return errors.ResponseError(errors.redact(message, *secrets), status_code=status)


__all__ = ["RETRY_STATUSES", "RetryPolicy", "attempts", "redirect_error", "send"]
