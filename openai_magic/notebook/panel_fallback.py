"""The panel's thread as static HTML: what a saved notebook shows where widgets cannot render.

GitHub's and nbviewer's notebook views, and `jupyter nbconvert --to html` (without saved widget state
or without network access) cannot run widget code. The panel therefore displays a second output, this
copy of its thread, and updates it after every turn by display id (updating the widget's own output
would re-create the live view, losing focus and scroll). The live panel's script hides the copy.
The thread is rendered with the panel's safe Markdown parser (raw HTML off) and never holds a key.
"""

from __future__ import annotations

import html
from typing import Any


def thread_html(conversation: Any, panel_id: str = "", title: str = "") -> str:
    """The thread's turns as HTML: the prompts, the answers rendered, marks where they ended early."""
    from .panel_answer import _safe_parser

    parts = [
        f"<div class='openai-magic-static' data-panel='{html.escape(panel_id)}'>"
        f"<p><b>{html.escape(title or 'ChatPanel')}</b> <small>thread {html.escape(conversation.name)}, "
        f"{len(conversation)} messages (a static copy: the live panel needs a running kernel)</small></p>"
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


def snapshot_bundle(conversation: Any, panel_id: str, title: str) -> dict[str, str]:
    """The static copy's MIME bundle."""
    plain = f"[{title}: thread {conversation.name}, {len(conversation)} messages]"
    return {"text/html": thread_html(conversation, panel_id, title), "text/plain": plain}


__all__ = ["snapshot_bundle", "thread_html"]
