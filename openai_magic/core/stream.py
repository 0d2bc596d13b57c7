"""A streamed chat reply (Server-Sent Events of `chat.completion.chunk`s) turned into items.

The per-chunk loop is written out inline on purpose: it runs once per token, and every call or
attribute lookup it avoids shows in the throughput benchmark (bench/stream_throughput.py).
"""

from __future__ import annotations

import asyncio
import json
import json.scanner
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from . import errors, parse, sse
from .bodies import too_large
from .responses import FinishReason, ProviderInfo, Reasoning, ToolCalls, Usage
from .secret import Secrets
from .transport import transport_error

# json.loads wraps the C scanner in two Python-level calls and a whitespace regex; on the per-chunk
# hot path the scanner is called directly (falling back to json.loads for anything unusual).
_scan_json = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
# The answer so far is kept for `partial_text` as a few large strings, not one small string per
# chunk (about 60 bytes each): every COMPACT_EVERY chunks the pieces are joined into one.
COMPACT_EVERY = 512


class PartialText:
    """The answer text received so far, stored compactly: `blocks` of joined `pieces`."""

    __slots__ = ("blocks", "pieces")

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.pieces: list[str] = []

    def compact(self) -> None:
        self.blocks.append("".join(self.pieces))
        self.pieces.clear()

    def __str__(self) -> str:
        return "".join(self.blocks) + "".join(self.pieces)


class StreamParser:
    """Items from one streamed reply: text deltas, reasoning, tool calls, finish reason, usage."""

    def __init__(self, label: str, requested_model: str, secrets: Secrets, max_event_bytes: int) -> None:
        self.label = label
        self.requested_model = requested_model
        self.secrets = secrets
        self.max_event_bytes = max_event_bytes
        self.text = PartialText()
        self.tools = parse.ToolCallAssembler()
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.info: ProviderInfo | None = None
        self.done = False

    def partial(self) -> str:
        return str(self.text)

    async def _batches(self, chunks: AsyncIterator[bytes]) -> AsyncGenerator[list[sse.ServerSentEvent], None]:
        # The events of each network chunk, then those the end of the body completes: a last
        # event without its blank line is delivered, not dropped.
        decoder = sse.SSEDecoder(self.max_event_bytes)
        async for raw in chunks:
            yield decoder.feed(raw)
        yield decoder.flush()

    async def items(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        """Every item of the reply whose body `chunks` yields (decoded bytes)."""
        try:
            async for item in self._items(chunks):
                yield item
        except httpx.HTTPError as exc:
            raise transport_error(
                exc, partial_text=self.partial(), secrets=self.secrets, what="stream"
            ) from None
        except sse.EventTooLarge as exc:
            error = too_large(self.label, exc.limit, "stream event", "max_event_bytes")
            error.partial_text = self.partial()
            raise error from None
        except RecursionError:
            raise self._bad_event("stream event nested too deeply to parse", "") from None

    def _bad_event(self, problem: str, data: str) -> errors.ResponseError:
        quoted = f": {errors.redact(data, *self.secrets)[:200]!r}" if data else ""
        return errors.ResponseError(f"{problem} from {self.label}{quoted}", partial_text=self.partial())

    async def _items(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        scan = _scan_json
        compact_every = COMPACT_EVERY
        think = parse.ThinkSplitter()
        text = self.text
        pieces = text.pieces
        batches = self._batches(chunks)
        try:
            async for events in batches:
                for event in events:
                    data = event.data
                    if data == "[DONE]":
                        self.done = True
                        break
                    if event.event == "error":
                        raise errors.from_stream_error(
                            _loads_or_text(data), partial_text=self.partial(), secrets=self.secrets
                        )
                    try:
                        chunk, end = scan(data, 0)
                        if end != len(data):
                            chunk = json.loads(data)  # trailing whitespace is fine, garbage raises
                    except (StopIteration, ValueError):
                        raise self._bad_event("malformed stream event", data) from None
                    if type(chunk) is not dict:
                        raise self._bad_event("unexpected stream event", data)
                    if chunk.get("error"):
                        raise errors.from_stream_error(
                            chunk["error"], partial_text=self.partial(), secrets=self.secrets
                        )
                    if self.info is None:
                        model = chunk.get("model")
                        self.info = ProviderInfo(
                            self.label, model if isinstance(model, str) and model else self.requested_model
                        )
                        yield self.info
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
                                        pieces.append(content)
                                        if len(pieces) >= compact_every:
                                            text.compact()
                                        yield content
                                    else:
                                        for item in think.feed(content):
                                            if type(item) is str:
                                                pieces.append(item)
                                            yield item
                                calls = delta.get("tool_calls")
                                if calls:
                                    self.tools.add(calls)
                            reason = choice.get("finish_reason")
                            if reason and type(reason) is str:
                                self.finish = reason
                    usage = chunk.get("usage")
                    if usage and type(usage) is dict:
                        self.usage = usage
                if self.done:
                    break
        finally:
            await batches.aclose()
        if self.done:
            await _drain(chunks)
        for item in think.flush():
            if type(item) is str:
                pieces.append(item)
            yield item
        if not self.done and self.finish is None:
            raise errors.ResponseError(
                f"the stream from {self.label} ended early (no finish reason, no [DONE])",
                partial_text=self.partial(),
            )
        if self.info is None:
            yield ProviderInfo(self.label, self.requested_model)
        if self.tools.calls:
            yield ToolCalls(self.tools.calls)
        if self.finish is not None:
            yield FinishReason(self.finish)
        if self.usage is not None:
            yield Usage.from_dict(self.usage)


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


__all__ = ["COMPACT_EVERY", "PartialText", "StreamParser"]
