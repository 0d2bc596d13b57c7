"""The block-wise streaming renderer: splitting, linear updates, final output equal to a whole render."""

from __future__ import annotations

import io
import os
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_magic.core.responses import FinishReason, ImageResponse, ProviderInfo, Reasoning, Usage
from openai_magic.notebook.blocks import PART_CHARS, BlockStream, split_blocks, to_html
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


def stream(text: str, step: int, part_chars: int = PART_CHARS) -> BlockStream:
    blocks = BlockStream(part_chars)
    for i in range(0, len(text), step):
        blocks.feed(text[i : i + step])
        assert blocks.text == text[: i + step]
        blocks.blocks  # noqa: B018 - an update, as the renderer's flush does
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
def test_any_markdown_streamed_any_way_adds_up_to_the_text(pieces: list[str], step: int) -> None:
    """Under PART_CHARS the parts are top-level blocks that add up to the text. They need not render like
    the whole (a later line can make an earlier block lazy, a reference can be defined later), which is
    why the end shows the whole answer as one rendering."""
    text = "".join(pieces)
    blocks = stream(text, step).blocks
    assert "".join(blocks) == text


def test_settled_blocks_are_never_touched_again_and_the_end_is_one_whole_answer() -> None:
    sink = Recorder()
    renderer = StreamRenderer(sink, throttle=0)
    for i in range(0, len(DOC), 3):
        renderer.add(DOC[i : i + 3])
    renderer.finish()
    indexes = [args[0] for name, *args in sink.calls if name == "block"]
    assert indexes == sorted(indexes)  # a block is never sent again once a later one was
    assert len(indexes) < len(DOC) // 3 + len(split_blocks(DOC)) * 2
    assert "".join(sink.blocks()) == DOC  # what streamed adds up to the answer
    finals = [c for c in sink.calls if c[0] == "final"]
    assert len(finals) == 1 and finals[0][1] == DOC and finals[0][2]["openai_magic"]["role"] == "answer"


SHAPES = {
    "paragraph": ("", lambda i: f"word{i} "),
    "code": ("```python\n", lambda i: f"x_{i} = compute({i}, 'value')\n"),
    "list": ("", lambda i: f"- item {i} of a very long list\n"),
    "table": ("| n | square |\n|---|---|\n", lambda i: f"| {i} | {i * i} |\n"),
}


def shape(name: str, pieces: int) -> list[str]:
    head, piece = SHAPES[name]
    return [head, *(piece(i) for i in range(pieces))] if head else [piece(i) for i in range(pieces)]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_one_long_block_streams_in_bounded_parts_of_its_own_kind(name: str) -> None:
    blocks = BlockStream(part_chars=400)
    for piece in shape(name, 600):
        blocks.feed(piece)
        blocks.blocks  # noqa: B018 - an update per piece: the worst case
    parts = blocks.blocks
    assert len(parts) > 10 and all(len(part) <= 400 for part in parts[:-1])
    assert blocks.text == "".join(shape(name, 600))
    kinds = {
        "paragraph": "<p>",
        "code": '<pre><code class="language-python">',
        "list": "<ul>",
        "table": "<table>",
    }
    for part in parts:
        assert to_html(part).startswith(kinds[name]), part[:80]  # every part renders as the same kind


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_parsing_work_grows_linearly_for_one_long_block(name: str) -> None:
    work = []
    for pieces in (1000, 2000):
        blocks = BlockStream()
        for piece in shape(name, pieces):
            blocks.feed(piece)
            blocks.blocks  # noqa: B018
        work.append(blocks._parsed)
    assert work[1] <= 2.2 * work[0]  # re-parsing the whole open block would be 4x


def test_the_first_text_is_shown_at_once_then_throttled() -> None:
    sink = Recorder()
    renderer = StreamRenderer(sink, throttle=3600)
    renderer.start()
    renderer.tick()  # ticks while waiting for the first token send nothing and must not delay it
    renderer.add("First")
    assert ("block", 0, "First") in sink.calls  # no throttle wait before the first update
    for _ in range(100):
        renderer.add(" more")
    assert len([c for c in sink.calls if c[0] == "block"]) == 1  # later updates wait for the throttle


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
    assert footer[2]["openai_magic"] == {**meta, "role": "footer"}
    final = next(c for c in sink.calls if c[0] == "final")
    assert final[1] == "Answer" and final[2]["openai_magic"] == {**meta, "role": "answer"}
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
    # An image has no first token; an interrupted answer's rate would be a guess.
    assert footer_text("img", None, 0.0, 0.5, 2.5, images=True) == "img · 2.50 s"
    assert footer_text("m", Usage(1, 2, 3), 0.0, 0.5, 2.5, interrupted=True) == (
        "m · 1 in / 2 out tokens · 2.50 s · interrupted"
    )


def test_deferred_interrupts_hold_sigint_until_the_block_ends() -> None:
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job
    reached = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        reached.append("after kill")
    assert reached == ["after kill"]
    with deferred_interrupts(reraise=False):
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # the handler that was there is back


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
    renderer.flush()
    assert sink.blocks() == split_blocks(renderer.answer) and len(sink.blocks()) == 4
