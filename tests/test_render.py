"""The block-wise streaming renderer: splitting, linear updates, final output equal to a whole render."""

from __future__ import annotations

import io
import os
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_magic.core.responses import FinishReason, ImageResponse, ProviderInfo, Reasoning, Usage
from openai_magic.notebook.blocks import BlockStream, split_blocks, to_html
from openai_magic.notebook.render import StreamRenderer
from openai_magic.notebook.render_parts import footer_text
from openai_magic.notebook.sinks import Sink, TextSink, deferred_interrupts

DOC = (
    "# Title\n\nSome *para*\nmore text\n\n- a\n- b\n\n  still b\n\n1. one\n2. two\n\n"
    "| x | y |\n|---|---|\n| 1 | 2 |\n\n```python\ndef f():\n\n    return {'a': 1}\n```\n\n"
    "> quote\nlazy line\n\n    indented code\n\n    more code\n\nSetext\n======\n\n---\n\n"
    "<div>\nhtml block\n</div>\n\nThe end ~~struck~~."
)
PIECES = [
    "# Head\n",
    "para text ",
    "more words\n",
    "\n",
    "- item\n",
    "  continued\n",
    "1. x\n",
    "```\n",
    "code {}\n",
    "```\n",
    "| a | b |\n",
    "|---|---|\n",
    "| 1 | 2 |\n",
    "> q\n",
    "    indented\n",
    "Title\n",
    "===\n",
    "---\n",
    "*emph* `code`\n",
    "\r\n",
    "<p>\n",
    "[x]: http://e.com\n",
    "[x]\n",
]


class Recorder(Sink):
    """Records every call as (method, args)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattribute__(self, name):
        if name in {"status", "reasoning", "block", "image", "footer", "error", "notice", "final", "delta"}:
            return lambda *args: object.__getattribute__(self, "calls").append((name, *args))
        return object.__getattribute__(self, name)

    def blocks(self) -> list[str]:
        final: dict[int, str] = {}
        for name, *args in self.calls:
            if name == "block":
                final[args[0]] = args[1]
        return [final[i] for i in sorted(final)]


def stream(text: str, step: int) -> BlockStream:
    blocks = BlockStream()
    for i in range(0, len(text), step):
        blocks.feed(text[i : i + step])
        assert "".join(blocks.blocks) == text[: i + step]
    blocks.close()
    return blocks


def test_split_blocks_covers_the_text_at_top_level_boundaries() -> None:
    blocks = split_blocks(DOC)
    assert "".join(blocks) == DOC
    assert blocks[0] == "# Title\n\n" and blocks[2] == "- a\n- b\n\n  still b\n\n"
    assert any(b.startswith("```python") and b.count("```") == 2 for b in blocks)
    assert split_blocks("") == [] and split_blocks("one line") == ["one line"]
    assert split_blocks("\n\npara\n\nnext") == ["\n\npara\n\n", "next"]


@pytest.mark.parametrize("step", [1, 2, 5, 13, 1000])
def test_streamed_blocks_equal_the_whole_render(step: int) -> None:
    blocks = stream(DOC, step).blocks
    assert "".join(blocks) == DOC and len(blocks) > 5
    assert "".join(to_html(b) for b in blocks) == to_html(DOC)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=25), st.integers(1, 9))
def test_any_markdown_streamed_any_way_renders_like_the_whole(pieces: list[str], step: int) -> None:
    text = "".join(pieces)
    blocks = stream(text, step).blocks
    assert "".join(blocks) == text
    assert "".join(to_html(b) for b in blocks) == to_html(text)


def test_reference_defined_later_collapses_to_one_block() -> None:
    text = "See [docs].\n\nMore text.\n\n[docs]: https://example.com\n"
    blocks = stream(text, 3)
    assert blocks.blocks == [text]
    assert "".join(to_html(b) for b in blocks.blocks) == to_html(text)
    assert 'href="https://example.com"' in to_html(text)


def test_completed_blocks_are_never_touched_again() -> None:
    sink = Recorder()
    renderer = StreamRenderer(sink, throttle=0)
    for i in range(0, len(DOC), 3):
        renderer.add(DOC[i : i + 3])
    renderer.finish()
    indexes = [args[0] for name, *args in sink.calls if name == "block"]
    assert indexes == sorted(indexes)  # a block is never sent again once a later one was
    assert len(indexes) < len(DOC) // 3 + len(split_blocks(DOC)) * 2
    assert sink.blocks() and "".join(sink.blocks()) == DOC


def updates_for(tokens: int) -> tuple[int, int]:
    sink = Recorder()
    renderer = StreamRenderer(sink, throttle=0)  # no throttle: the worst case
    piece = "word " * 7 + "end.\n\n"
    for i in range(tokens):
        renderer.add(piece if i % 3 == 2 else "word ")
    renderer.finish()
    calls = [c for c in sink.calls if c[0] == "block"]
    return len(calls), sum(len(c[2]) for c in calls)


def test_update_count_and_bytes_grow_linearly() -> None:
    (n1, b1), (n2, b2) = updates_for(300), updates_for(600)
    assert n2 <= 2.2 * n1 and b2 <= 2.2 * b1
    naive = sum(len("word ") * i for i in range(600))  # whole answer resent per token
    assert b2 * 20 < naive


def test_throttle_limits_updates_of_the_open_block() -> None:
    sink = Recorder()
    renderer = StreamRenderer(sink, throttle=3600)  # at most one flush in this test
    for _ in range(500):
        renderer.add("word ")
    renderer.finish()
    assert len([c for c in sink.calls if c[0] == "block"]) <= 2


def test_items_reasoning_usage_images_footer_and_metadata() -> None:
    sink = Recorder()
    renderer = StreamRenderer(sink, throttle=0, metadata={"provider": "Demo", "model": "m0"})
    renderer.start()
    for item in [
        ProviderInfo("Demo", "m1"),
        Reasoning("think "),
        Reasoning("hard"),
        "Answer",
        ImageResponse(["data:image/png;base64,iVBORw0KGgo="], alt="alt"),
        FinishReason("stop"),
        Usage(3, 5, 8),
    ]:
        renderer.add(item)
    meta = renderer.finish()
    names = [c[0] for c in sink.calls]
    assert names[0] == "status" and sink.calls[0][1] == "_thinking..._"
    reasoning = [c for c in sink.calls if c[0] == "reasoning"]
    assert reasoning[0][2] is False and reasoning[-1][1:] == ("think hard", True)
    assert sink.calls[names.index("image")][:3] == ("image", "data:image/png;base64,iVBORw0KGgo=", "alt")
    footer = sink.calls[-1]
    assert footer[0] == "footer" and footer[1].startswith("m1 · 3 in / 5 out tokens · first token")
    assert meta == footer[2]
    assert meta["model"] == "m1" and meta["usage"]["total_tokens"] == 8 and meta["finish_reason"] == "stop"
    assert set(meta["timing"]) >= {"time_to_first_token", "total_seconds"}
    assert renderer.answer == "Answer" and renderer.reasoning_text == "think hard"


def test_interrupted_and_error_metadata_and_partial_extension() -> None:
    renderer = StreamRenderer(Recorder(), throttle=0)
    renderer.add("Hello")
    renderer.extend("Hello, world")
    renderer.extend("unrelated")
    assert renderer.answer == "Hello, world"
    meta = renderer.finish(interrupted=True, error="ServerError: boom")
    assert meta["interrupted"] is True and meta["error"] == "ServerError: boom"


def test_text_sink_streams_plain_text() -> None:
    out = io.StringIO()
    renderer = StreamRenderer(TextSink(out), metadata={"model": "demo-chat"})
    renderer.add(Reasoning("hmm"))
    for piece in ["# Hi", "\n\nthere"]:
        renderer.add(piece)
    renderer.add(Usage(1, 2, 3))
    renderer.finish()
    text = out.getvalue()
    assert text.startswith("[thinking...]\n# Hi\n\nthere\n-- demo-chat · 1 in / 2 out tokens")


def test_footer_text() -> None:
    assert footer_text("m", Usage(10, 100, 110), 0.0, 0.5, 2.5) == (
        "m · 10 in / 100 out tokens · first token 0.50 s · 50.0 tokens/s"
    )
    assert footer_text(None, None, 0.0, None, 1.0) == "unknown model · 1.00 s"


def test_deferred_interrupts_hold_sigint_until_the_block_ends() -> None:
    reached = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        reached.append("after kill")
    assert reached == ["after kill"]
    with deferred_interrupts(reraise=False):
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_block_counts_as_shown_only_once_the_sink_took_it() -> None:
    """An interrupt re-raised right after one sink call (as InterruptSafe does) loses no later block."""

    class InterruptedOnce(Recorder):
        def __getattribute__(self, name):
            if name == "block":
                calls = object.__getattribute__(self, "calls")

                def block(*args):
                    calls.append(("block", *args))
                    if sum(c[0] == "block" for c in calls) == 1:
                        raise KeyboardInterrupt  # after the sink took block 0

                return block
            return super().__getattribute__(name)

    sink = InterruptedOnce()
    renderer = StreamRenderer(sink, throttle=0)
    with pytest.raises(KeyboardInterrupt):
        renderer.add("# A\n\npara one\n\n- item\n\n| x |\n|---|\n| 1 |\n")
    renderer.finish(interrupted=True)
    assert sink.blocks() == split_blocks(renderer.answer) and len(sink.blocks()) == 4
