"""Incremental Server-Sent Events decoder: bytes in (split anywhere), events out.

Hand-written rather than taken from a library (httpx-sse, the openai SDK's decoder) because it sits
on the hot path of every streamed token: it splits whole network chunks on newlines with bytes
operations (never per character), joins a long line's pieces once (so a multi-megabyte `data:` line
costs linear time), and decodes UTF-8 only per complete line, so a chunk boundary inside a
multi-byte character is harmless. It follows the WHATWG spec: CRLF, LF and CR line ends, multi-line
`data:`, comments, `event:`/`id:`/`retry:` fields, a leading BOM.

Memory is bounded: an event (its unterminated line plus its `data:` lines) larger than
`max_event_size` raises `EventTooLarge`, so a server that never sends a line break (or never ends an
event) cannot fill the machine's memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

_BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_EVENT_SIZE = 64 * 1024 * 1024  # large enough for a base64 image in one event
# Chunks above this are split before they are split into lines: a decompressed chunk can hold
# millions of line breaks, and their list alone would take gigabytes.
_SLICE = 1024 * 1024


class EventTooLarge(ValueError):
    """One event (or one line) exceeds the decoder's `max_event_size`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a Server-Sent Event exceeds the {limit:,}-byte limit")
        self.limit = limit


class ServerSentEvent:
    """One dispatched event: `event` name ("message" by default), `data` text, optional id/retry."""

    __slots__ = ("data", "event", "id", "retry")

    def __init__(self, data: str, event: str = "message", id: str | None = None, retry: int | None = None):
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.data, self.event, self.id, self.retry) == (
            other.data,
            other.event,
            other.id,
            other.retry,
        )

    def __repr__(self) -> str:
        data = self.data if len(self.data) <= 80 else self.data[:77] + "..."
        return f"ServerSentEvent(event={self.event!r}, data={data!r}, id={self.id!r}, retry={self.retry!r})"


class SSEDecoder:
    """Feed bytes with `feed()`, get complete events back; call `flush()` at end of stream."""

    __slots__ = (
        "_counted",
        "_data",
        "_data_size",
        "_event",
        "_first",
        "_id",
        "_limit",
        "_pending",
        "_pending_size",
        "_retry",
        "_skip_lf",
    )

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._limit = max_event_size
        self._pending: list[bytes] = []  # pieces of the current, not yet terminated line
        self._pending_size = 0
        self._counted = 0  # how many of `_data`'s lines `_data_size` covers
        self._data_size = 0
        self._skip_lf = False  # the previous chunk ended with CR: a leading LF completes a CRLF
        self._first = True  # BOM check on the very first line
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Consume one chunk of the byte stream; return the events it completed.

        Raises `EventTooLarge` when the event being received grows beyond `max_event_size`.
        """
        if len(chunk) <= _SLICE:
            return self._feed(chunk)
        events: list[ServerSentEvent] = []
        for start in range(0, len(chunk), _SLICE):
            events += self._feed(chunk[start : start + _SLICE])
        return events

    def _feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._skip_lf = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            if chunk:
                self._pending.append(chunk)
                self._pending_size += len(chunk)
                if self._pending_size + self._data_size > self._limit:
                    raise EventTooLarge(self._limit)
            return []
        if self._pending:
            self._pending.append(chunk)
            chunk = b"".join(self._pending)
            self._pending = []
        lines = chunk.split(b"\n")
        tail = lines.pop()
        self._pending_size = len(tail)
        if tail:
            self._pending.append(tail)
        return self._lines(lines)

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: dispatch what is pending, even without the final blank line.

        The spec discards an unterminated last event; many servers close right after
        `data: [DONE]\\n`, so being lenient here loses nothing and avoids false truncation errors.
        """
        lines = [b"".join(self._pending)] if self._pending else []
        self._pending = []
        self._pending_size = 0
        self._skip_lf = False
        lines.append(b"")
        return self._lines(lines)

    def _lines(self, lines: list[bytes]) -> list[ServerSentEvent]:
        if self._first and lines:
            self._first = False
            if lines[0].startswith(_BOM):
                lines[0] = lines[0][3:]
        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            if line[:6] == b"data: ":  # by far the most common line: checked first
                data.append(line[6:].decode("utf-8", "replace"))
            elif not line:
                if data:
                    text = data[0] if len(data) == 1 else "\n".join(data)
                    events.append(ServerSentEvent(text, self._event or "message", self._id, self._retry))
                    data.clear()
                self._event = ""
            elif line[:1] != b":":  # a ":" line is a comment (keep-alive)
                self._field(line)
        if events:  # the event still open, if any, began after the last one dispatched
            self._counted = self._data_size = 0
        if data:
            self._measure(data)
        return events

    def _measure(self, data: list[str]) -> None:
        # Only the lines added since the last call are measured: linear in the event's size.
        added = data[self._counted :]
        self._counted = len(data)
        self._data_size += sum(map(len, added)) + len(added)
        if self._pending_size + self._data_size > self._limit:
            raise EventTooLarge(self._limit)

    def _field(self, line: bytes) -> None:
        name, sep, raw = line.partition(b":")
        if sep and raw[:1] == b" ":
            raw = raw[1:]
        field, value = name.decode("utf-8", "replace"), raw.decode("utf-8", "replace")
        if field == "data":
            self._data.append(value)  # "data:x" (no space) or "data" alone: an empty data line
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)


def decode(
    chunks: Iterable[bytes], max_event_size: int = DEFAULT_MAX_EVENT_SIZE
) -> Iterator[ServerSentEvent]:
    """Decode a whole (sync) byte stream into events."""
    decoder = SSEDecoder(max_event_size)
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.flush()


async def adecode(
    chunks: AsyncIterable[bytes], max_event_size: int = DEFAULT_MAX_EVENT_SIZE
) -> AsyncIterator[ServerSentEvent]:
    """Decode an async byte stream (e.g. `response.aiter_bytes()`) into events."""
    decoder = SSEDecoder(max_event_size)
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event


__all__ = ["DEFAULT_MAX_EVENT_SIZE", "EventTooLarge", "SSEDecoder", "ServerSentEvent", "adecode", "decode"]
