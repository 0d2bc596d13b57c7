"""Long answers of one shape for `[demo tokens=N shape=...]`: one long paragraph, code block, list or table.

The default long answer (`[demo tokens=N]`) has many small blocks. Real answers often hold one long
block (most often a code block), which is what a streaming renderer finds hardest; these make each
such shape on demand, deterministically, in exactly N chunks.
"""

from __future__ import annotations

from collections.abc import Callable

SHAPES = ("paragraph", "code", "list", "table", "mixed")


def _paragraph(k: int) -> str:
    return f"word{k} "


def _code(k: int) -> str:
    return f"    total_{k} = compute({k}, 'value')\n"


def _item(k: int) -> str:
    return f"- item {k} of one long list\n"


def _row(k: int) -> str:
    return f"| {k} | {k * k} |\n"


_BODIES: dict[str, tuple[str, Callable[[int], str], str]] = {
    "paragraph": ("", _paragraph, ""),
    "code": ("```python\ndef run():\n", _code, "```\n"),
    "list": ("", _item, ""),
    "table": ("| n | square |\n|---|---|\n", _row, ""),
}


def shape_chunks(shape: str, n: int, chunk: Callable[[str], list[str]]) -> list[str]:
    """Exactly n chunks of an answer that is one long block of `shape` ("mixed": each shape in turn)."""
    if shape == "mixed":
        quarter = max(n // 4, 1)
        out: list[str] = []
        for name in ("paragraph", "code", "list", "table"):
            out += [*shape_chunks(name, quarter, chunk), "\n\n"]
        return (out + chunk("".join(_paragraph(k) for k in range(n))))[:n]
    head, body, tail = _BODIES[shape]
    out = chunk(head) if head else []
    k = 0
    closing = chunk(tail) if tail else []
    while len(out) + len(closing) < n:
        out.append(body(k))  # one body line (or word) per chunk, as a model streams them
        k += 1
    return (out + closing)[:n] if n >= len(closing) else closing[:n]
