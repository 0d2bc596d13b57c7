"""Reply parsing units: <think> splitting at any chunk boundary, tool-call fragments, content parts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from openai_magic.core import parse
from openai_magic.core.responses import Reasoning


def run_splitter(pieces: list[str]) -> tuple[str, str]:
    splitter = parse.ThinkSplitter()
    items = [item for piece in pieces for item in splitter.feed(piece)] + splitter.flush()
    reasoning = "".join(item.text for item in items if isinstance(item, Reasoning))
    text = "".join(item for item in items if isinstance(item, str))
    return reasoning, text


def test_think_block_at_start():
    assert run_splitter(["<think>why</think>\n\nanswer"]) == ("why", "\n\nanswer")
    assert run_splitter(["  \n<think>w", "hy</thi", "nk>ans", "wer"]) == ("why", "answer")


def test_think_tag_not_at_start_is_text():
    assert run_splitter(["Use <think>tags</think> like this"]) == ("", "Use <think>tags</think> like this")


def test_no_think_passes_through_verbatim():
    assert run_splitter(["  hello", " world  "]) == ("", "  hello world  ")
    assert run_splitter(["<thin", "g>"]) == ("", "<thing>")
    assert run_splitter(["   "]) == ("", "   ")


def test_unterminated_think_is_reasoning():
    assert run_splitter(["<think>still thinking</th"]) == ("still thinking</th", "")


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="ab<>/thinkx \n", max_size=30),
    st.text(alphabet="ab<>/thinkx \n", max_size=30),
    st.lists(st.integers(0, 80), max_size=8),
    st.booleans(),
)
def test_think_split_anywhere_gives_same_result(reasoning, answer, cuts, with_think):
    whole = f"<think>{reasoning.replace('</think>', '')}</think>{answer}" if with_think else answer
    points = sorted({min(c, len(whole)) for c in cuts})
    pieces = [whole[a:b] for a, b in zip([0, *points], [*points, len(whole)], strict=True)]
    assert run_splitter(pieces) == run_splitter([whole])


def test_tool_calls_by_index_and_without():
    assembler = parse.ToolCallAssembler()
    assembler.add([{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}])
    assembler.add([{"index": 1, "id": "c2", "function": {"name": "g", "arguments": "{"}}])
    assembler.add([{"index": 0, "function": {"arguments": '{"a":'}}])
    assembler.add(
        [{"index": 0, "function": {"arguments": " 1}"}}, {"index": 1, "function": {"arguments": "}"}}]
    )
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in assembler.calls] == [
        ("c1", "f", '{"a": 1}'),
        ("c2", "g", "{}"),
    ]
    loose = parse.ToolCallAssembler()
    loose.add([{"id": "x", "function": {"name": "h", "arguments": '{"q"'}}])
    loose.add([{"function": {"arguments": ': "v"}'}}])
    loose.add([{"id": "y", "function": {"name": "k", "arguments": "{}"}}])
    loose.add([{"id": "x", "function": {"arguments": ""}}])
    loose.add("garbage")
    loose.add([None, 3])
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in loose.calls] == [
        ("h", '{"q": "v"}'),
        ("k", "{}"),
    ]


def test_content_text_shapes():
    assert parse.content_text("x") == "x"
    assert parse.content_text([{"type": "text", "text": "a"}, {"type": "image_url"}, "b"]) == "ab"
    assert parse.content_text(None) == "" and parse.content_text(5) == ""


def test_nonstream_message_items_order():
    body = {
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "content": "<think>r</think>answer",
                    "tool_calls": [
                        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "cost": 0.5},
    }
    model, items = parse.message_items(body)
    assert model == "m"
    assert [type(i).__name__ for i in items] == ["Reasoning", "str", "ToolCalls", "FinishReason", "Usage"]
    assert items[-1].total_tokens == 3 and items[-1].cost == 0.5
