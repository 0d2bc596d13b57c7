"""Markdown block splitting as text streams in, with bounded work per update.

markdown-it-py finds the top-level blocks (its tokens' `.map` line ranges) of the *open region* only:
the blocks before it are settled and never parsed again. Every block but the last is complete and is
settled as it is. The last, open block grows; once it passes `PART_CHARS` it is cut at a line (or
word) boundary into a settled part, and the rest continues under a synthetic prefix that makes it
render as the same kind of block: a fenced code block continues under its opening fence, a table
under its header. So one update parses at most about `PART_CHARS` plus the new text, whatever the
shape of the answer (a long code block is the common case), and both the bytes sent and the CPU spent
grow linearly with the answer.

Parts are a streaming view only: once the answer is complete, sinks show it as one rendering of the
whole text (`DisplaySink.final_answer`), identical to rendering it at once.

    blocks = BlockStream()
    blocks.feed("# Title\\n\\nsome para")
    blocks.blocks        # ["# Title\\n\\n", "some para"]: settled parts, then the open one
    blocks.text          # everything fed
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from typing import Any

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")

PART_CHARS = 2048  # an open block longer than this is cut into parts while it streams


@lru_cache(maxsize=1)
def markdown_parser() -> Any:
    """The shared markdown-it-py parser: CommonMark plus GFM tables and strikethrough."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def to_html(text: str) -> str:
    """Markdown source to HTML with the shared parser."""
    return str(markdown_parser().render(text))


def _top_level(text: str) -> list[tuple[int, Any]]:
    """(first line, opening token) of each top-level block of `text`."""
    found: dict[int, Any] = {}
    for token in markdown_parser().parse(text):
        if token.level == 0 and token.map and token.nesting >= 0:
            found.setdefault(token.map[0], token)
    return sorted(found.items(), key=lambda pair: pair[0])


def split_blocks(text: str) -> list[str]:
    """Split Markdown into top-level block sources; `"".join(result) == text`."""
    lines = _LINE.findall(text)
    starts = [start for start, _ in _top_level(text)]
    if len(starts) <= 1:
        return [text] if text else []
    starts[0] = 0  # leading blank lines belong to the first block
    bounds = [*starts, len(lines)]
    return ["".join(lines[a:b]) for a, b in itertools.pairwise(bounds)]


def fences(text: str) -> list[str]:
    """The contents of the fenced code blocks in `text` that hold anything."""
    return [t.content for t in markdown_parser().parse(text) if t.type == "fence" and t.content.strip()]


class BlockStream:
    """Incremental splitter: `feed` text, read `blocks` (settled parts, then the open block)."""

    def __init__(self, part_chars: int = PART_CHARS) -> None:
        self.part_chars = part_chars
        self._deltas: list[str] = []  # every piece fed: the answer
        self._settled: list[str] = []  # display sources that no longer change
        self._open = ""  # answer text of the open block, not yet settled
        self._prefix = ""  # continuation that makes `_open` render as its block (a fence, a table head)
        self._kind: str | None = None  # the open block's kind once it was cut: the prefix is fixed
        self._new: list[str] = []
        self._parsed = 0  # characters parsed so far, for tests of the work done

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return "".join(self._deltas)

    @property
    def settled(self) -> int:
        """How many parts are settled (they are `blocks[:settled]` and never change)."""
        self._update()
        return len(self._settled)

    def feed(self, delta: str) -> None:
        """Add streamed text (cheap: parsing waits for the next read)."""
        if delta:
            self._deltas.append(delta)
            self._new.append(delta)

    @property
    def blocks(self) -> list[str]:
        """Display sources: the settled parts, then the open block (with its continuation prefix)."""
        self._update()
        current = self._prefix + self._open
        return self._settled + ([current] if current else [])

    def _update(self) -> None:
        if not self._new:
            return
        self._open += "".join(self._new)
        self._new = []
        window = self._prefix + self._open
        self._parsed += len(window)
        lines = _LINE.findall(window)
        blocks = _top_level(window)
        if len(blocks) > 1:
            # Every block but the last is complete: settle them, the last one is the new open block.
            starts = [start for start, _ in blocks]
            starts[0] = 0
            for a, b in itertools.pairwise(starts):
                self._settled.append("".join(lines[a:b]))
            self._prefix, self._kind = "", None
            self._open = "".join(lines[starts[-1] :])
        kind_token = blocks[-1][1] if blocks else None
        while len(self._prefix) + len(self._open) > self.part_chars:
            if self._kind is None:
                self._kind = kind_token.type if kind_token is not None else "paragraph_open"
                self._prefix = _continuation(self._kind, self._open)
                self._open = self._open[len(self._prefix) :]
            cut = _cut(self._open, self.part_chars - len(self._prefix), self._kind)
            self._settled.append(self._prefix + self._open[:cut])
            self._open = self._open[cut:]


def _continuation(kind: str, block: str) -> str:
    """What a part of a cut block of this kind starts with so it renders as the same kind of block."""
    lines = _LINE.findall(block)
    if kind == "fence" and lines:
        return str(lines[0])  # the opening fence, info string included
    if kind == "table_open" and len(lines) >= 2:
        return str(lines[0] + lines[1])  # header row and delimiter row
    return ""


def _cut(text: str, limit: int, kind: str) -> int:
    """Where to cut `text` so the part is at most `limit` characters: a line end, else a space."""
    limit = max(limit, 1)
    if kind in ("bullet_list_open", "ordered_list_open"):
        # Prefer the start of a top-level item, so the next part is a list of its own.
        offset = 0
        best = 0
        for line in _LINE.findall(text[: limit + 1]):
            if offset and _ITEM.match(line) and offset <= limit:
                best = offset
            offset += len(line)
        if best:
            return best
    newline = text.rfind("\n", 0, limit)
    if newline >= limit // 4:
        return newline + 1
    if kind == "paragraph_open":
        space = text.rfind(" ", 0, limit)
        if space >= limit // 4:
            return space + 1
    return limit


__all__ = ["PART_CHARS", "BlockStream", "fences", "markdown_parser", "split_blocks", "to_html"]
