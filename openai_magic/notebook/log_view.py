"""Turn log records as a table (Markdown and plain text) or as JSON-ready dicts, for `%chat_log`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .log import TurnRecord

EXCERPT = 60
HEADERS = ("#", "time", "thread", "model", "outcome", "tokens", "prompt")
# Inline Markdown (and the `$` Jupyter reads as math) that would restyle or break a table cell.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&$])")


def excerpt(text: str, width: int = EXCERPT) -> str:
    """`text` on one line (whitespace collapsed), cut to `width` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _cells(rec: TurnRecord) -> tuple[str, ...]:
    outcome = rec.outcome + (" (replayed)" if rec.replayed else "")
    tokens = rec.tokens
    return (
        "" if rec.id is None else str(rec.id),
        datetime.fromtimestamp(rec.time).strftime("%Y-%m-%d %H:%M:%S"),
        rec.thread,
        rec.model,
        outcome,
        "" if tokens is None else str(tokens),
        excerpt(rec.prompt),
    )


def as_table(records: Iterable[TurnRecord]) -> tuple[str, str]:
    """(Markdown table, plain-text table) of `records`, newest first, one line per turn."""
    ordered = sorted(records, key=lambda rec: (rec.time, rec.id or 0), reverse=True)
    rows = [tuple(excerpt(cell, 200) for cell in _cells(rec)) for rec in ordered]
    markdown = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---:" if name in ("#", "tokens") else "---" for name in HEADERS) + "|",
    ]
    markdown += [
        "| " + " | ".join(_MARKDOWN_SPECIAL.sub(r"\\\1", cell) for cell in row) + " |" for row in rows
    ]
    widths = [max(len(row[i]) for row in [HEADERS, *rows]) for i in range(len(HEADERS))]
    plain = [
        "  ".join(
            cell.rjust(width) if HEADERS[i] in ("#", "tokens") else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [HEADERS, tuple("-" * width for width in widths), *rows]
    ]
    return "\n".join(markdown), "\n".join(plain)


def as_json(records: Iterable[TurnRecord]) -> list[dict[str, Any]]:
    """`records` as plain dicts in the order given, `time` as an ISO 8601 UTC string."""
    out = []
    for rec in records:
        data = asdict(rec)
        data["time"] = datetime.fromtimestamp(rec.time, UTC).isoformat()
        out.append(data)
    return out


__all__ = ["EXCERPT", "HEADERS", "as_json", "as_table", "excerpt"]
