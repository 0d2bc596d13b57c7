"""The panel as static HTML: what its output shows where widgets cannot render.

GitHub's and nbviewer's notebook views, and `jupyter nbconvert --to html` without network access,
cannot run widget code; they show the richest other MIME type of the output instead. The thread is
rendered with the panel's own safe Markdown parser (raw HTML off), and never holds a key.
"""

from __future__ import annotations

import html
from typing import Any


def thread_html(conversation: Any, title: str = "") -> str:
    """The thread's turns as HTML: the user's prompts, the answers rendered, marks where they ended early."""
    from .panel_answer import _safe_parser

    parts = [
        f"<div class='openai-magic-static'><p><b>{html.escape(title or 'ChatPanel')}</b> "
        f"<small>(thread {html.escape(conversation.name)!s}; the live panel needs a running kernel)"
        "</small></p>"
    ]
    for entry in conversation.entries:
        if entry.role == "user":
            parts.append(f"<div style='white-space:pre-wrap'><b>you:</b> {html.escape(entry.content)}</div>")
            continue
        parts.append(f"<div class='openai-magic-answer'>{_safe_parser().render(entry.content)}</div>")
        if entry.interrupted or entry.error:
            parts.append(f"<p><small><i>{html.escape(entry.error or 'interrupted')}</i></small></p>")
    parts.append("</div>")
    return "\n".join(parts)


__all__ = ["thread_html"]
