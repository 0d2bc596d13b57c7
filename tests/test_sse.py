"""The incremental SSE decoder: spec cases, and the same events whatever the byte splits."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_magic.core.sse import DEFAULT_MAX_EVENT_SIZE, EventTooLarge, ServerSentEvent, SSEDecoder, decode


def events(data: bytes) -> list[ServerSentEvent]:
    return list(decode([data]))


def bytewise(data: bytes) -> list[ServerSentEvent]:
    return list(decode([data[i : i + 1] for i in range(len(data))]))


def test_basic_data_events():
    assert events(b"data: one\n\ndata: two\n\n") == [ServerSentEvent("one"), ServerSentEvent("two")]


def test_line_endings():
    expected = [ServerSentEvent("a"), ServerSentEvent("b")]
    for sep in (b"\n", b"\r\n", b"\r"):
        stream = b"data: a" + sep + sep + b"data: b" + sep + sep
        assert events(stream) == expected
        assert bytewise(stream) == expected


def test_crlf_split_between_chunks():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == [ServerSentEvent("a")]
    assert decoder.feed(b"\ndata: b\r\n\r\n") == [ServerSentEvent("b")]


def test_multiline_data_event_id_retry_and_comments():
    stream = b": keep-alive\nevent: update\nid: 7\nretry: 1500\ndata: line1\ndata:line2\ndata\n\n"
    [event] = events(stream)
    assert event == ServerSentEvent("line1\nline2\n", event="update", id="7", retry=1500)


def test_event_name_resets_but_id_persists():
    got = events(b"event: error\ndata: x\n\ndata: y\n\n")
    assert [e.event for e in got] == ["error", "message"]
    got = events(b"id: 1\ndata: x\n\ndata: y\n\n")
    assert [e.id for e in got] == ["1", "1"]


def test_empty_and_fieldless_lines():
    assert events(b"\n\n\n") == []
    assert events(b"event: only\n\n") == []  # no data: nothing dispatched
    assert events(b"retry: soon\ndata: x\n\n") == [ServerSentEvent("x")]
    assert events(b"unknown: field\ndata: x\n\n") == [ServerSentEvent("x")]
    assert events(b"data:  two spaces\n\n") == [ServerSentEvent(" two spaces")]


def test_bom_and_unterminated_last_event():
    assert events(b"\xef\xbb\xbfdata: x\n\n") == [ServerSentEvent("x")]
    assert events(b"data: [DONE]\n") == [ServerSentEvent("[DONE]")]
    assert events(b"data: [DONE]") == [ServerSentEvent("[DONE]")]


def test_utf8_split_inside_a_character():
    text = "héllo ✓ 😀"
    stream = f"data: {text}\n\n".encode()
    assert bytewise(stream) == [ServerSentEvent(text)]


def test_huge_line_in_many_chunks():
    payload = "x" * 3_000_000
    stream = f"data: {payload}\n\n".encode()
    chunks = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]
    decoder = SSEDecoder()
    got = []
    for chunk in chunks:
        got.extend(decoder.feed(chunk))
    assert [len(e.data) for e in got] == [3_000_000]


def test_openai_like_stream_round_trip():
    chunks = [{"choices": [{"delta": {"content": f"tok{i} ✓\n"}}]} for i in range(50)]
    stream = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    got = events(stream)
    assert [json.loads(e.data) for e in got[:-1]] == chunks and got[-1].data == "[DONE]"


_line_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12
)
_field = st.one_of(
    st.builds(lambda v: f"data: {v}", _line_text),
    st.builds(lambda v: f"data:{v}", _line_text),
    st.just("data"),
    st.builds(lambda v: f"event: {v}", _line_text),
    st.builds(lambda v: f"id: {v}", _line_text),
    st.builds(lambda v: f": {v}", _line_text),
    st.builds(lambda v: f"retry: {v}", st.integers(0, 10_000)),
    st.just(""),
)


@st.composite
def streams_and_splits(draw):
    lines = draw(st.lists(_field, max_size=25))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    body = "".join(line + newline for line in lines)
    if draw(st.booleans()):
        body += newline
    data = body.encode("utf-8")
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    return data, cuts


@settings(max_examples=300, deadline=None)
@given(streams_and_splits())
def test_any_split_gives_the_same_events(case):
    data, cuts = case
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    assert b"".join(pieces) == data
    assert list(decode(pieces)) == list(decode([data]))
    assert bytewise(data) == list(decode([data]))


# --- bounded memory: one event (its open line plus its data lines) is capped ----------------------


def test_a_line_without_end_raises_at_the_cap():
    decoder = SSEDecoder(max_event_size=1000)
    decoder.feed(b"data: " + b"a" * 500)
    with pytest.raises(EventTooLarge) as info:
        decoder.feed(b"a" * 600)
    assert info.value.limit == 1000 and "1,000-byte limit" in str(info.value)


def test_data_lines_of_an_event_that_never_ends_count_together():
    decoder = SSEDecoder(max_event_size=1000)
    for _ in range(9):
        assert decoder.feed(b"data: " + b"b" * 100 + b"\n") == []
    with pytest.raises(EventTooLarge):
        decoder.feed(b"data: " + b"b" * 100 + b"\n")


def test_many_events_below_the_cap_never_add_up():
    decoder = SSEDecoder(max_event_size=1000)
    event = b"data: " + b"c" * 300 + b"\ndata: " + b"c" * 300 + b"\n\n"
    got = []
    for _ in range(100):  # split mid-event too: the part counted before dispatch is forgotten
        got += decoder.feed(event[:400]) + decoder.feed(event[400:])
    assert len(got) == 100 and all(len(e.data) == 601 for e in got)
    assert DEFAULT_MAX_EVENT_SIZE == 64 * 1024 * 1024 and SSEDecoder()._limit == DEFAULT_MAX_EVENT_SIZE


def test_a_giant_chunk_of_line_breaks_is_split_before_splitting_lines():
    # A decompressed chunk can hold millions of line breaks: same events, in slices.
    body = b"\r\n" * 1_500_000 + b"data: end\r\n\r\n"
    assert list(decode([body])) == [ServerSentEvent("end")]
    chunk = b"data: x\r" + b"\n" * (3 * 1024 * 1024)  # a CRLF cut at a slice boundary
    assert SSEDecoder().feed(chunk) == [ServerSentEvent("x")]
