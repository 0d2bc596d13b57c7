"""A hostile server cannot take the machine down: every read is capped, measured in a fresh process.

Each case streams far more than the cap (up to 1 GiB) from a loopback server; the client process
reports its peak RSS growth, which must stay far below what reading it all would take.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import AsyncIterator
from functools import cache

import pytest
from core_support import HostileServer, Request, http_reply, ok_reply, probe, sse_chunk, stream_head

MIB = 1024 * 1024
GIB = 1024 * MIB


async def endless(head: bytes, piece: bytes, total: int = GIB) -> AsyncIterator[bytes]:
    """`head`, then `piece` over and over up to `total` bytes (or until the client hangs up)."""
    yield head
    sent = 0
    while sent < total:
        yield piece
        sent += len(piece)


def error_body_of(size: int) -> bytes:
    return b'{"error": {"message": "' + b"x" * size + b'", "type": "invalid_request_error"}}'


@cache
def gzip_bomb() -> bytes:
    """About 1 MiB of gzip that inflates to 1 GiB of spaces (JSON whitespace and nothing else).

    After a full flush the compressor starts afresh, so one compressed MiB repeated 1,024 times
    is a valid deflate stream; the trailer gets the CRC and size of the whole.
    """
    block = b" " * MIB
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)  # with the gzip header
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    end = packer.flush(zlib.Z_FINISH)[:-8]
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(block, crc)
    return first + again * 1023 + end + struct.pack("<II", crc, GIB % 2**32)


async def huge_error_body(size: int) -> AsyncIterator[bytes]:
    """A 400 whose JSON error message is `size` bytes long, written a MiB at a time."""
    start, end = b'{"error": {"message": "', b'", "type": "invalid_request_error"}}'
    yield http_reply(400, b"", content_length=str(len(start) + size + len(end)))
    yield start
    for _ in range(size // MIB):
        yield b"x" * MIB
    yield end


def respond(request: Request) -> bytes | AsyncIterator[bytes]:
    mode = request.path.split("/")[1]
    if mode == "ok":
        return ok_reply(request)
    if mode == "no-line-break":
        return endless(stream_head(), b"a" * MIB)
    if mode == "no-blank-line":
        return endless(stream_head() + sse_chunk("so far"), b'data: "' + b"b" * 1000 + b'"\n')
    if mode == "huge-400":
        return huge_error_body(200 * MIB)
    if mode in ("bomb-400", "bomb-500", "bomb-200"):
        status = int(mode[-3:])
        return http_reply(status, gzip_bomb(), content_encoding="gzip")
    if mode == "long-message":
        return http_reply(400, error_body_of(5 * MIB))
    if mode == "big-reply":
        message = {"role": "assistant", "content": "z" * (5 * MIB)}
        return http_reply(200, {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})
    if mode == "many-chunks":
        body = sse_chunk("ab") * CHUNKS + sse_chunk(finish="stop") + b"data: [DONE]\n\n"
        return http_reply(200, body, "text/event-stream")
    raise AssertionError(mode)


CHUNKS = 400_000


@pytest.fixture(scope="module")
async def server():
    async with HostileServer(respond) as hostile:
        yield hostile


async def test_a_gigabyte_without_a_line_break_stops_at_the_default_event_cap(server):
    report = await probe(server.root, path="/no-line-break", stream=True)
    assert report["error"] == "ResponseError"
    assert "larger than the 64 MiB limit" in report["message"] and "max_event_bytes" in report["message"]
    assert report["growth_mb"] < 200  # reading it all took 3.1 GB


async def test_data_lines_never_ended_by_a_blank_line_stop_at_the_cap(server):
    attributes = {"max_event_bytes": 4 * MIB}
    report = await probe(server.root, path="/no-blank-line", stream=True, attributes=attributes)
    assert report["error"] == "ResponseError"
    assert "larger than the 4 MiB limit" in report["message"]
    assert report["partial_chars"] == len("so far")  # what came before is kept
    assert report["growth_mb"] < 100


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
async def test_a_200_mb_error_body_is_read_only_up_to_its_cap(server, stream):
    report = await probe(server.root, path="/huge-400", stream=stream)
    assert report["error"] == "BadRequestError"
    assert len(report["message"]) < 1200
    assert report["body_chars"] < 20_000  # exc.body keeps a bounded prefix
    assert report["growth_mb"] < 100  # reading it all took 3.2 GB


@pytest.mark.parametrize(("mode", "error"), [("bomb-400", "BadRequestError"), ("bomb-500", "ServerError")])
async def test_a_decompression_bomb_as_an_error_body_is_cut_after_decoding(server, mode, error):
    # As a 500 it is read once per attempt (three times): each read is capped.
    report = await probe(server.root, path=f"/{mode}", attributes={"max_retries": 2})
    assert report["error"] == error
    assert report["growth_mb"] < 200  # 1 GiB inflated: 5.2 GB, and 8.3 GB as a retried 500


async def test_a_decompression_bomb_as_a_reply_stops_at_the_reply_cap(server):
    report = await probe(server.root, path="/bomb-200", attributes={"max_reply_bytes": 16 * MIB})
    assert report["error"] == "ResponseError"
    assert "larger than the 16 MiB limit" in report["message"] and "max_reply_bytes" in report["message"]
    assert report["growth_mb"] < 200


async def test_a_reply_over_the_cap_is_an_error_naming_the_cap(server):
    small = {"max_reply_bytes": MIB}
    report = await probe(server.root, path="/big-reply", attributes=small)
    assert report["error"] == "ResponseError" and "larger than the 1 MiB limit" in report["message"]
    assert (await probe(server.root, path="/big-reply"))["text_chars"] == 5 * MIB  # the default takes it


async def test_a_5_mb_error_message_is_cut_to_a_line(server):
    report = await probe(server.root, path="/long-message")
    assert report["error"] == "BadRequestError"
    assert report["message"].startswith("x" * 1000 + "... [")
    assert "more characters cut]" in report["message"] and len(report["message"]) < 1100
    assert report["body_chars"] < 20_000


async def test_memory_for_a_long_stream_grows_with_the_answer_not_the_chunk_count(server):
    # 400,000 two-character chunks: kept as one string each for `partial_text`, they took ~60
    # bytes apiece (25 MB for a 0.8 MB answer).
    report = await probe(server.root, path="/many-chunks", stream=True)
    assert report["deltas"] == CHUNKS and "error" not in report
    assert report["growth_mb"] < report["text_chars"] / MIB + 10


def test_the_bomb_is_what_it_claims():
    bomb = gzip_bomb()
    assert len(bomb) < 2 * MIB
    start = zlib.decompressobj(31).decompress(bomb[:65536])
    assert len(start) > 32 * MIB and not start.strip()
    assert struct.unpack("<I", bomb[-4:]) == (GIB % 2**32,)  # the trailer's size: 1 GiB
    assert json.loads(b"[" + b" " * 10 + b"]") == []
