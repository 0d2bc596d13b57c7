"""Reply bodies read with bounded memory, and told apart by what they hold, not by their label.

Every read counts decoded bytes (after gzip/brotli), so neither a huge body nor a decompression
bomb can take more than its cap; what goes beyond the cap is never read.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from . import errors
from .secret import Secrets

MIB = 1024 * 1024
DEFAULT_MAX_REPLY_BYTES = 64 * MIB  # a whole non-streamed reply, e.g. JSON with base64 images
DEFAULT_MAX_ERROR_BYTES = 8 * MIB  # an error body; only its first MESSAGE_LIMIT characters are shown
_BOM = b"\xef\xbb\xbf"
_SSE_FIELDS = (b"data:", b":", b"event:", b"id:", b"retry:")
_WHITESPACE = b" \t\r\n"
SSE, JSON, OTHER, EMPTY, TOO_LARGE = "sse", "json", "other", "empty", "too large"


def describe_size(size: int) -> str:
    """`64 MiB`, `1,000 bytes`: a byte count as people write limits."""
    return f"{size // MIB} MiB" if size >= MIB and size % MIB == 0 else f"{size:,} bytes"


async def read_capped(chunks: AsyncIterator[bytes], limit: int, head: bytes = b"") -> tuple[bytes, bool]:
    """`head` plus the rest of the body, up to `limit` bytes; True when the body went beyond it."""
    parts = [head] if head else []
    size = len(head)
    if size > limit:
        return head[:limit], True
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            parts.append(chunk[: len(chunk) - (size - limit)])
            return b"".join(parts), True
        parts.append(chunk)
    return b"".join(parts), False


async def sniff(chunks: AsyncIterator[bytes], limit: int) -> tuple[bytes, str]:
    """The body's first bytes from its first non-blank one, and what they start: SSE, JSON, OTHER,
    EMPTY, or TOO_LARGE after `limit` bytes of nothing but blank space (which means nothing to
    either format, and is dropped)."""
    head = b""
    skipped = 0
    first = True
    async for chunk in chunks:
        if first:
            first = False
            chunk = chunk.removeprefix(_BOM)
        if not head:
            stripped = chunk.lstrip(_WHITESPACE)
            skipped += len(chunk) - len(stripped)
            if skipped > limit:
                return b"", TOO_LARGE
            chunk = stripped
        head += chunk
        if not head:
            continue
        if head[:1] in (b"{", b"["):
            return head, JSON
        if head.startswith(_SSE_FIELDS):
            return head, SSE
        if len(head) >= 6 or not any(field.startswith(head) for field in _SSE_FIELDS):
            return head, OTHER
    return head, (OTHER if head else EMPTY)


def too_large(
    label: str, limit: int, what: str = "reply", attribute: str = "max_reply_bytes"
) -> errors.ResponseError:
    """The error for a body (or event) beyond its cap, naming the cap and how to raise it."""
    return errors.ResponseError(
        f"the {what} from {label} is larger than the {describe_size(limit)} limit "
        f"(raise {attribute} to accept it)"
    )


class NestedTooDeeply(ValueError):
    """JSON nested beyond what Python's parser can take (it would raise RecursionError)."""


def loads(raw: bytes | str) -> Any:
    """`json.loads`, with JSON nested too deeply for Python's parser as `NestedTooDeeply`."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise NestedTooDeeply("JSON nested too deeply to parse") from None


def unexpected_body(
    raw: bytes, response: httpx.Response, problem: str, secrets: Secrets = ()
) -> errors.ResponseError:
    """A 2xx whose body is not what was asked for, as an error quoting the server's text.

    The text is redacted before it is cut short: a cut could leave half a key that no longer matches.
    """
    whole = errors.redact(raw[: 4 * errors.BODY_TEXT_LIMIT].decode("utf-8", "replace"), *secrets)
    text = errors.error_message(whole, "an empty body")
    return errors.ResponseError(
        errors.redact(f"{problem}: {text}", *secrets), status_code=response.status_code, body=whole[:2000]
    )


async def read_json(
    response: httpx.Response,
    *,
    label: str,
    secrets: Secrets = (),
    limit: int = DEFAULT_MAX_REPLY_BYTES,
    chunks: AsyncIterator[bytes] | None = None,
    head: bytes = b"",
) -> Any:
    """The reply's JSON body (the rest of `chunks` after `head`, when the start was sniffed).

    A body beyond `limit`, unreadable, or not JSON (an HTML proxy page...) is a typed error.
    """
    try:
        raw, cut = await read_capped(response.aiter_bytes() if chunks is None else chunks, limit, head)
    except httpx.HTTPError as exc:
        from .transport import transport_error

        raise transport_error(exc, secrets=secrets) from None
    if cut:
        raise too_large(label, limit)
    try:
        return loads(raw)
    except ValueError as exc:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        if isinstance(exc, NestedTooDeeply):
            problem = str(exc)
        else:
            problem = "malformed JSON" if "json" in kind else f"{kind} instead of JSON"
        raise unexpected_body(raw, response, f"{label} sent {problem}", secrets) from None


async def read_error_body(response: httpx.Response, limit: int = DEFAULT_MAX_ERROR_BYTES) -> Any:
    """The parsed JSON error body, or its text when it is not JSON (only its start beyond `limit`)."""
    try:
        raw, cut = await read_capped(response.aiter_bytes(), limit)
    except httpx.HTTPError:
        return ""
    text = raw.decode("utf-8", "replace")
    if cut:
        return text
    try:
        return loads(text)
    except ValueError:
        return text


__all__ = [
    "DEFAULT_MAX_ERROR_BYTES",
    "DEFAULT_MAX_REPLY_BYTES",
    "NestedTooDeeply",
    "describe_size",
    "loads",
    "read_capped",
    "read_error_body",
    "read_json",
    "sniff",
    "too_large",
    "unexpected_body",
]
