"""Small renderings shared by every sink: the reasoning block, the footer line, image bytes."""

from __future__ import annotations

import base64
import html
import json
from typing import Any

METADATA_KEY = "openai_magic"
THINKING = "_thinking..._"


def reasoning_html(text: str, done: bool = True) -> str:
    """Reasoning collapsed in a <details> block; while streaming only a short preview is shown."""
    if not done:
        preview = " ".join(text[-80:].split())
        return (
            "<details class='openai-magic-reasoning'><summary>Thinking... "
            f"<small style='opacity:.6'>{html.escape(preview)}</small></summary></details>"
        )
    return (
        "<details class='openai-magic-reasoning'><summary>Reasoning</summary>"
        f"<pre style='white-space:pre-wrap'>{html.escape(text)}</pre></details>"
    )


def footer_text(
    model: str | None,
    usage: Any,
    started: float,
    first: float | None,
    ended: float,
    *,
    images: bool = False,
    interrupted: bool = False,
) -> str:
    """One line: model, tokens in/out, time to first token and tokens per second where they mean something.

    An image has no "first token", and an interrupted answer's rate would be a guess: those say the
    time taken instead.
    """
    parts = [model or "unknown model"]
    if usage is not None:
        parts.append(f"{usage.prompt_tokens} in / {usage.completion_tokens} out tokens")
    if first is not None and not images and not interrupted:
        parts.append(f"first token {first - started:.2f} s")
        streamed = ended - first
        if usage is not None and usage.completion_tokens and streamed > 0:
            parts.append(f"{usage.completion_tokens / streamed:.1f} tokens/s")
    else:
        parts.append(f"{ended - started:.2f} s")
    if interrupted:
        parts.append("interrupted")
    return " · ".join(parts)


def tool_call_text(name: str, arguments: Any) -> str:
    """`name(a=1, b="x")` for a call's decoded arguments (or its raw text when they were not JSON)."""
    if isinstance(arguments, dict):
        return (
            f"{name}("
            + ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
            + ")"
        )
    return f"{name}({arguments})"


def tool_html(call: Any, result: Any = None) -> str:
    """One tool call as a collapsed block: the call, then (once it returned) its result or error."""
    head = html.escape(tool_call_text(call.name, call.arguments))
    if result is None:
        state = "<i>running…</i>"
    elif result.error:
        state = f"<span style='color:#b00'>{html.escape(result.error)}</span> · {result.seconds:.2f} s"
    else:
        state = f"{result.seconds:.2f} s"
    pre = "<pre style='white-space:pre-wrap'>{}</pre>"
    arguments = json.dumps(call.arguments, indent=2, ensure_ascii=False, default=str)
    body = pre.format(html.escape(arguments))
    if result is not None:
        body += f"<b>{'error' if result.error else 'result'}</b>" + pre.format(html.escape(result.output))
    return (
        f"<details class='openai-magic-tool'><summary>🔧 <code>{head}</code> · {state}</summary>"
        f"<b>arguments</b>{body}</details>"
    )


def tool_text(call: Any, result: Any = None) -> str:
    """The same in one plain line."""
    head = tool_call_text(call.name, call.arguments)
    if result is None:
        return f"[tool {head} ...]"
    output = " ".join((result.error or result.output).split())
    output = output if len(output) <= 200 else output[:197] + "..."
    return f"[tool {head} -> {output} ({result.seconds:.2f} s)]"


def image_bytes(src: str) -> bytes | None:
    """The bytes of a `data:` URI image, None for a plain URL."""
    if src.startswith("data:") and "," in src:
        header, payload = src.split(",", 1)
        if ";base64" in header:
            return base64.b64decode(payload)
    return None


__all__ = [
    "METADATA_KEY",
    "THINKING",
    "footer_text",
    "image_bytes",
    "reasoning_html",
    "tool_call_text",
    "tool_html",
    "tool_text",
]
