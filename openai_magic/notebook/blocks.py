"""Markdown block splitting: the answer's top-level blocks, found incrementally as text streams in.

markdown-it-py finds the top-level blocks (its tokens' `.map` line ranges); every block but the last is
complete and never changes; only the open last block grows. `close()` checks the blocks against
rendering the whole text at once (reference-style links defined later can change earlier blocks) and
collapses them into one block on any difference, so the final rendering always equals the whole's.

    blocks = BlockStream()
    blocks.feed("# Title\\n\\nsome para")
    blocks.blocks        # ["# Title\\n\\n", "some para"]
    blocks.close()
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from typing import Any

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@lru_cache(maxsize=1)
def markdown_parser() -> Any:
    """The shared markdown-it-py parser: CommonMark plus GFM tables and strikethrough."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def to_html(text: str) -> str:
    """Markdown source to HTML with the shared parser."""
    return markdown_parser().render(text)


def split_blocks(text: str) -> list[str]:
    """Split Markdown into top-level block sources; `"".join(result) == text`."""
    lines = _LINE.findall(text)
    starts = sorted(
        {t.map[0] for t in markdown_parser().parse(text) if t.level == 0 and t.map and t.nesting >= 0}
    )
    if len(starts) <= 1:
        return [text] if text else []
    starts[0] = 0  # leading blank lines belong to the first block
    bounds = [*starts, len(lines)]
    return ["".join(lines[a:b]) for a, b in itertools.pairwise(bounds)]


class BlockStream:
    """Incremental splitter: `feed` text; every block but the last is complete and never changes."""

    def __init__(self) -> None:
        self._frozen: list[str] = []
        self._parts: list[str] = []
        self._tail = ""
        self._dirty = False
        self._closed = False

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return "".join(self._frozen) + self._tail + "".join(self._parts)

    def feed(self, delta: str) -> None:
        """Add streamed text (cheap: parsing waits for the next read)."""
        if delta:
            self._parts.append(delta)
            self._dirty = True

    def close(self) -> None:
        """The stream ended: every block is complete; check against a whole-answer render."""
        self._update()
        self._closed = True
        self._frozen.extend(split_blocks(self._tail))
        self._tail = ""
        whole = "".join(self._frozen)
        if len(self._frozen) > 1 and to_html(whole) != "".join(to_html(b) for b in self._frozen):
            self._frozen = [whole]

    def _update(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        tail = self._tail + "".join(self._parts)
        self._parts = []
        blocks = split_blocks(tail)
        if len(blocks) > 1:
            self._frozen.extend(blocks[:-1])
        self._tail = blocks[-1] if blocks else ""

    @property
    def blocks(self) -> list[str]:
        """Current block sources: the complete ones, then the open last one."""
        self._update()
        return self._frozen + ([self._tail] if self._tail else [])


def fences(text: str) -> list[str]:
    """The contents of the fenced code blocks in `text` that hold anything."""
    return [t.content for t in markdown_parser().parse(text) if t.type == "fence" and t.content.strip()]


__all__ = ["BlockStream", "fences", "markdown_parser", "split_blocks", "to_html"]
