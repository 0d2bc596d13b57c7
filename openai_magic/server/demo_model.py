"""The deterministic demo model: prompt directives in, reasoning/content chunks or tool calls out.

Pure functions of the validated request (no HTTP here), so the same request always gives the same
reply. Content is returned pre-split into word-ish chunks; the HTTP layer only encodes them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from . import demo_shapes, demo_tools
from .errors import bad_request
from .validate import ChatRequest

_DIRECTIVE = re.compile(r"\[demo\s+([^\]]*)\]", re.I)
_CHUNK = re.compile(r"\S+\s*|\s+")
MAX_TOKENS_DIRECTIVE = 1_000_000


@dataclass
class Directives:
    """What the `[demo ...]` directives in the last user message ask for."""

    tokens: int | None = None
    shape: str | None = None  # with tokens: one long block (demo_shapes.SHAPES)
    pace: float | None = None
    echo: bool = False
    json: bool = False
    tools: list[demo_tools.ToolDirective] = field(default_factory=list)  # demo-tools only
    steps: int | None = None  # demo-tools only


@dataclass
class ToolCall:
    """One function call the model makes, with its arguments pre-split into streamed fragments."""

    id: str
    name: str
    arguments: str
    fragments: list[str]


@dataclass
class Reply:
    """Everything needed to answer, streamed or not."""

    model: str
    content: list[str]
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    pace: float | None = None
    fingerprint: str = ""

    @property
    def text(self) -> str:
        return "".join(self.content)

    def usage(self) -> dict[str, Any]:
        """OpenAI usage object: one completion token per streamed chunk."""
        tools = sum(len(call.fragments) + 1 for call in self.tool_calls)
        completion = len(self.content) + len(self.reasoning) + tools
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "completion_tokens_details": {"reasoning_tokens": len(self.reasoning)},
        }


def chunks(text: str) -> list[str]:
    """Split text into word-ish chunks (a word and its trailing whitespace) that join back exactly."""
    return _CHUNK.findall(text)


def message_text(message: dict[str, Any]) -> str:
    """The text of a message, joining the text parts of multimodal content."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


def parse_directives(prompt: str) -> Directives:
    """Read every `[demo key=value]` / `[demo flag]` directive; bad values are a 400."""
    found = Directives()
    for body in _DIRECTIVE.findall(prompt):
        if body.lstrip().lower().startswith("tool="):
            found.tools.append(demo_tools.parse_tool_directive(body))
            continue
        for item in body.split():
            key, _, value = item.partition("=")
            key = key.lower()
            try:
                if key == "tokens":
                    found.tokens = int(value)
                    if not 0 <= found.tokens <= MAX_TOKENS_DIRECTIVE:
                        raise ValueError
                elif key == "shape":
                    if value not in demo_shapes.SHAPES:
                        raise ValueError
                    found.shape = value
                elif key == "pace":
                    found.pace = float(value)
                    if not 0 <= found.pace <= 60:
                        raise ValueError
                elif key == "steps":
                    found.steps = int(value)
                    if not 1 <= found.steps <= demo_tools.MAX_STEPS_DIRECTIVE:
                        raise ValueError
                elif key in {"echo", "json"} and not value:
                    setattr(found, key, True)
                else:
                    raise ValueError
            except ValueError:
                raise bad_request(f"Invalid demo directive [demo {body}].", param="messages") from None
    return found


def _digest(request: ChatRequest) -> bytes:
    payload = json.dumps([request.model, request.messages], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).digest()


def _topic(prompt: str) -> str:
    clean = " ".join(_DIRECTIVE.sub("", prompt).split())
    if not clean:
        return "your message"
    return clean if len(clean) <= 60 else clean[:57].rstrip() + "..."


_POINTS = (
    "Start from the smallest example that shows the behaviour, then grow it one step at a time.",
    "Keep the inputs and the outputs explicit, so the result is easy to check and to reproduce.",
    "Measure before optimising: the slow part is rarely where it first seems to be.",
    "Write the edge cases down first (empty input, huge input, odd characters) and test them.",
    "Prefer one clear name over a comment explaining an unclear one.",
    "Stream partial results early, so whoever is waiting sees progress at once.",
    "Fail loudly with a message that says what to do next, never with a bare stack trace.",
    "Keep a short history, so the next answer can build on the previous one.",
)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _context_lines(request: ChatRequest) -> list[str]:
    lines = []
    system = next(
        (message_text(m) for m in request.messages if m.get("role") in {"system", "developer"}), None
    )
    if system is not None:
        short = " ".join(system.split())
        short = short if len(short) <= 80 else short[:77] + "..."
        lines.append(f"Following your system instructions (“{short}”), I kept this answer focused.")
    if request.attachments:
        described = []
        for i, image in enumerate(request.attachments, 1):
            if image.url is not None:
                described.append(f"image {i} is a remote URL ({image.url}), not fetched by the demo")
            else:
                described.append(f"image {i} is `{image.mime}`, {image.size} bytes")
        lines.append(
            f"You attached {_plural(len(request.attachments), 'image')}: " + "; ".join(described) + "."
        )
    last = request.messages[-1]
    if last.get("role") in {"tool", "function"}:
        result = " ".join(message_text(last).split())[:200]
        lines.append(f"The tool returned `{result}`, and I used that result in this answer.")
    return lines


def markdown_answer(request: ChatRequest, prompt: str, digest: bytes) -> str:
    """The default rich Markdown answer: heading, context, bullet list, table and Python code."""
    topic = _topic(prompt)
    count = len(request.messages)
    points = [_POINTS[(digest[i] + i) % len(_POINTS)] for i in range(3)]
    points = list(dict.fromkeys(points))
    words = len(_DIRECTIVE.sub("", prompt).split())
    intro = (
        f"Here is a short, structured answer to “{topic}”. I saw {_plural(count, 'message')} in this "
        f"conversation; the `{request.model}` demo model answers the same request the same way every time."
    )
    heading = topic.rstrip("?.!:") or topic
    parts = [f"## {heading[:1].upper()}{heading[1:]}", intro, *_context_lines(request), "### Key points"]
    parts.append("\n".join(f"- {p}" for p in points))
    parts.append("### At a glance")
    parts.append(
        "| Aspect | Detail |\n|---|---|\n"
        f"| Model | `{request.model}` |\n"
        f"| Messages seen | {count} |\n"
        f"| Prompt words | {words} |\n"
        f"| Images attached | {len(request.attachments)} |\n"
        f"| Fingerprint | `{digest.hex()[:12]}` |"
    )
    parts.append("### Example")
    parts.append(
        "```python\n"
        "def summarize(prompt: str) -> dict[str, int]:\n"
        '    """Count the words of a prompt, as the demo model just did."""\n'
        "    words = prompt.split()\n"
        '    return {"words": len(words), "unique": len(set(words))}\n'
        "\n\n"
        f"print(summarize({topic!r}))\n"
        "```"
    )
    parts.append("Ask a follow-up question and the message count above will grow with the conversation.")
    return "\n\n".join(parts) + "\n"


def json_answer(request: ChatRequest, prompt: str, digest: bytes) -> str:
    """A deterministic JSON object answer (for `[demo json]` and `response_format`)."""
    obj = {
        "answer": f"A deterministic JSON answer about {_topic(prompt)}.",
        "model": request.model,
        "messages": len(request.messages),
        "items": [{"rank": i + 1, "point": p} for i, p in enumerate(_POINTS[:3])],
        "fingerprint": digest.hex()[:12],
    }
    return json.dumps(obj, indent=2, ensure_ascii=False)


def _section(k: int) -> str:
    point = _POINTS[k % len(_POINTS)]
    return (
        f"## Part {k}\n\n"
        f"This is paragraph {k} of a long deterministic demo answer, written to exercise streaming, "
        f"rendering and throughput with many Markdown blocks.\n\n"
        f"- {point}\n- Item two of part {k}\n- Item three of part {k}\n\n"
        f"| Part | Square | Cube |\n|---|---|---|\n| {k} | {k * k} | {k * k * k} |\n\n"
    )


def long_chunks(n: int) -> list[str]:
    """Exactly n chunks of multi-block Markdown (headings, paragraphs, lists, tables)."""
    out: list[str] = []
    k = 1
    while len(out) < n:
        out.extend(chunks(_section(k)))
        k += 1
    del out[n:]
    return out


def reasoning_text(request: ChatRequest, prompt: str) -> str:
    """The demo's visible chain of thought: short, deterministic, about the prompt."""
    return (
        f"The user asks about “{_topic(prompt)}”. The conversation has "
        f"{_plural(len(request.messages), 'message')}. I will answer with a heading, a short list, "
        "a table and a code sample, and keep it deterministic."
    )


def _pick_tool(request: ChatRequest, prompt: str) -> dict[str, Any] | None:
    if not request.tools or request.tool_choice == "none" or request.messages[-1].get("role") != "user":
        return None
    return demo_tools.pick([t["function"] for t in request.tools], request.tool_choice, prompt)


def _tool_call(function: dict[str, Any], prompt: str, digest: bytes) -> ToolCall:
    params = function.get("parameters") or {}
    properties = params.get("properties") or {}
    defs = params.get("$defs")
    args = {name: demo_tools.fitting_value(name, schema, prompt, defs) for name, schema in properties.items()}
    return _call(function["name"], json.dumps(args, ensure_ascii=False), f"call_{digest.hex()[:24]}")


def _call(name: str, arguments: str, call_id: str) -> ToolCall:
    """A call with its arguments cut into (about four) streamed fragments."""
    step = max(1, -(-len(arguments) // 4))
    fragments = [arguments[i : i + step] for i in range(0, len(arguments), step)] or [""]
    return ToolCall(id=call_id, name=name, arguments=arguments, fragments=fragments)


def _demo_tools_reply(
    request: ChatRequest, prompt: str, directives: Directives, digest: bytes
) -> Reply | None:
    """What `demo-tools` says when it calls tools or answers from their results (None: neither)."""
    planned = demo_tools.plan(
        request.tools, request.tool_choice, request.messages, prompt, directives.tools, directives.steps or 1
    )
    result = Reply(model=request.model, content=[], prompt_tokens=count_prompt_tokens(request))
    result.fingerprint = digest.hex()[:16]
    if planned:
        result.tool_calls = [
            _call(name, arguments, f"call_{digest.hex()[:20]}_{i}")
            for i, (name, arguments) in enumerate(planned)
        ]
        result.finish_reason = "tool_calls"
        return result
    answer = demo_tools.results_answer(request.messages)
    if answer is None:
        return None
    result.content = chunks(answer)
    return result


def _cut_at_stop(content: list[str], stops: list[str]) -> tuple[list[str], bool]:
    if not stops:
        return content, False
    text = "".join(content)
    positions = [i for i in (text.find(s) for s in stops) if i >= 0]
    if not positions:
        return content, False
    cut = min(positions)
    out, used = [], 0
    for chunk in content:
        if used + len(chunk) >= cut:
            if cut > used:
                out.append(chunk[: cut - used])
            break
        out.append(chunk)
        used += len(chunk)
    return out, True


def count_prompt_tokens(request: ChatRequest) -> int:
    """A rough token count: words plus a few per message, like real tokenizers' overhead."""
    return sum(len(message_text(m).split()) + 3 for m in request.messages)


def reply(request: ChatRequest) -> Reply:
    """Compute the whole reply for a validated chat request."""
    last_user = next((m for m in reversed(request.messages) if m.get("role") == "user"), None)
    prompt = message_text(last_user) if last_user else ""
    directives = parse_directives(prompt)
    digest = _digest(request)
    if request.model == "demo-tools":
        tooled = _demo_tools_reply(request, prompt, directives, digest)
        if tooled is not None:
            tooled.pace = directives.pace
            return tooled
    elif directives.tools or directives.steps is not None:
        raise bad_request("Tool directives ([demo tool=...], [demo steps=N]) are for model demo-tools.")
    result = Reply(
        model=request.model,
        content=[],
        prompt_tokens=count_prompt_tokens(request),
        pace=directives.pace,
        fingerprint=digest.hex()[:16],
    )
    thinking = reasoning_text(request, prompt) if request.model != "demo-chat" else ""
    if request.model == "demo-reasoner":
        result.reasoning = chunks(thinking)
    function = _pick_tool(request, prompt)
    if function is not None:
        result.tool_calls = [_tool_call(function, prompt, digest)]
        result.finish_reason = "tool_calls"
        return result
    if directives.echo:
        result.content = chunks(prompt)
    elif directives.tokens is not None and directives.shape:
        result.content = demo_shapes.shape_chunks(directives.shape, directives.tokens, chunks)
    elif directives.tokens is not None:
        result.content = long_chunks(directives.tokens)
    elif directives.json or request.json_mode:
        result.content = chunks(json_answer(request, prompt, digest))
    else:
        result.content = chunks(markdown_answer(request, prompt, digest))
    if request.model == "demo-think" and not directives.echo:
        result.content = ["<think>\n", *chunks(thinking), "\n</think>\n\n", *result.content]
    result.content, stopped = _cut_at_stop(result.content, request.stop)
    if request.max_tokens is not None and len(result.content) > request.max_tokens:
        del result.content[request.max_tokens :]
        result.finish_reason = "length"
    elif stopped:
        result.finish_reason = "stop"
    return result
