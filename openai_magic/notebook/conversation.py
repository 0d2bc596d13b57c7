"""Named conversation threads shared process-wide by the magics and the ChatPanel.

Usage::

    from openai_magic.notebook.conversation import get_conversation

    conv = get_conversation()                      # the "default" thread; get_conversation("ideas")
    messages = conv.request_messages("Hi", system="Be brief.")   # history + the new prompt
    conv.add_turn("Hi", "Hello!", model="demo-chat")             # record a finished exchange
    conv.add_turn("Long?", "Part of an ans", interrupted=True)    # partial answers are kept, marked
    conv.messages                                  # clean OpenAI-format dicts (role, content)
    conv.entries                                   # the same turns with marks and metadata
    conv.to_markdown(); conv.to_json(); conv.export("thread.md")  # or .json
    conv.clear()

`messages` never carries the marks, so what is sent to a server is always plain OpenAI format.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

DEFAULT = "default"

_lock = threading.Lock()
_threads: dict[str, Conversation] = {}


class Observer(Protocol):
    """Anything that shows a thread and wants to hear of new turns (e.g. every ChatPanel on it)."""

    def thread_changed(self, conversation: Conversation, new: list[Entry]) -> None: ...


@dataclass
class Entry:
    """One message of a thread, with how it ended and what produced it."""

    role: str
    content: str
    interrupted: bool = False
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    def message(self) -> dict[str, Any]:
        """The OpenAI-format message for a request (with its tool calls, or the call it answers)."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.meta.get("tool_calls"):
            message["tool_calls"] = self.meta["tool_calls"]
        if self.role == "tool":
            message["tool_call_id"] = self.meta.get("tool_call_id", "")
            if self.meta.get("name"):
                message["name"] = self.meta["name"]
        return message

    @classmethod
    def of_message(cls, message: dict[str, Any]) -> Entry:
        """A tool-loop message (assistant `tool_calls`, or a `tool` result) as an entry."""
        meta = {k: message[k] for k in ("tool_calls", "tool_call_id", "name") if message.get(k)}
        content = message.get("content")
        return cls(
            str(message.get("role", "assistant")), content if isinstance(content, str) else "", meta=meta
        )


class Conversation:
    """An ordered list of user/assistant entries under a name; observers hear of every change."""

    def __init__(self, name: str = DEFAULT) -> None:
        self.name = name
        self.entries: list[Entry] = []
        # Weak, so a panel that is gone stops listening without unsubscribing.
        self._observers: weakref.WeakSet[Observer] = weakref.WeakSet()

    def subscribe(self, observer: Observer) -> None:
        """Call `observer.thread_changed(conversation, new_entries)` after each change (weakly held)."""
        self._observers.add(observer)

    def unsubscribe(self, observer: Observer) -> None:
        self._observers.discard(observer)

    def _changed(self, new: list[Entry]) -> None:
        for observer in list(self._observers):
            observer.thread_changed(self, new)

    def __repr__(self) -> str:
        return f"<Conversation {self.name!r}: {len(self.entries)} messages>"

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The thread as OpenAI-format messages (no marks)."""
        return [entry.message() for entry in self.entries]

    def request_messages(
        self, prompt: str, system: str | None = None, history: bool = True
    ) -> list[dict[str, Any]]:
        """System prompt, the history (unless `history=False`) and the new user prompt."""
        messages = [{"role": "system", "content": system}] if system else []
        if history:
            messages += self.messages
        messages.append({"role": "user", "content": prompt})
        return messages

    def add_user(self, content: str, **meta: Any) -> Entry:
        """Append a user message."""
        entry = Entry("user", content, meta=meta)
        self.entries.append(entry)
        self._changed([entry])
        return entry

    def add_assistant(
        self, content: str, *, interrupted: bool = False, error: str | None = None, **meta: Any
    ) -> Entry:
        """Append an answer, marked when it was interrupted or cut by an error."""
        entry = Entry("assistant", content, interrupted=interrupted, error=error, meta=meta)
        self.entries.append(entry)
        self._changed([entry])
        return entry

    def add_turn(
        self,
        prompt: str,
        answer: str,
        *,
        interrupted: bool = False,
        error: str | None = None,
        model: str | None = None,
        tool_messages: list[dict[str, Any]] | None = None,
        **meta: Any,
    ) -> None:
        """Append a user prompt, the tool calls and results of its loop (if any) and its answer."""
        if model:
            meta["model"] = model
        added = [Entry("user", prompt)]
        names: dict[str, str] = {}  # tool call id -> function name, to show which function answered
        for message in tool_messages or ():
            entry = Entry.of_message(message)
            for call in entry.meta.get("tool_calls", []):
                if isinstance(call, dict):
                    names[str(call.get("id"))] = str(call.get("function", {}).get("name", ""))
            if entry.role == "tool" and not entry.meta.get("name"):
                entry.meta["shown_name"] = names.get(str(entry.meta.get("tool_call_id")), "")
            added.append(entry)
        added.append(Entry("assistant", answer, interrupted=interrupted, error=error, meta=meta))
        self.entries += added
        self._changed(added)

    def clear(self) -> None:
        """Forget every message."""
        self.entries.clear()
        self._changed([])

    def to_dict(self) -> dict[str, Any]:
        """The thread as plain data (name and entries with their marks)."""
        return {"name": self.name, "messages": [asdict(entry) for entry in self.entries]}

    def to_json(self, indent: int | None = 2) -> str:
        """The thread as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=str)

    def to_markdown(self) -> str:
        """The thread as a readable Markdown transcript: one `##` section per turn, the messages'
        own headings nested below it (so an answer's `## Summary` does not sit level with the turns)."""
        lines = [f"# Conversation: {self.name}", ""]
        if not self.entries:
            lines.append("_(empty)_")
        turn = 0
        for entry in self.entries:
            if entry.role == "user":
                turn += 1
                lines += [f"## Turn {turn}", ""]
            if entry.role == "tool" or entry.meta.get("tool_calls"):
                lines += [tool_markdown(entry), ""]
                continue
            heading = "**You**" if entry.role == "user" else "**Assistant**"
            model = entry.meta.get("model")
            if entry.role == "assistant" and model:
                heading += f" ({model})"
            marks = [m for m, on in (("interrupted", entry.interrupted),) if on]
            if entry.error:
                marks.append(f"error: {entry.error}")
            if marks:
                heading += " _[" + "; ".join(marks) + "]_"
            lines += [heading, "", demote_headings(entry.content, 2), ""]
        return "\n".join(lines).rstrip() + "\n"

    def export(self, path: str | Path) -> Path:
        """Write the thread to `path`: JSON for `.json`, Markdown otherwise."""
        target = Path(path).expanduser()
        text = self.to_json() if target.suffix.lower() == ".json" else self.to_markdown()
        target.write_text(text, encoding="utf-8")
        return target


def tool_markdown(entry: Entry) -> str:
    """A tool call or a tool result, readably: the call as `name(arguments)`, the result as a block."""
    if entry.role == "tool":
        name = entry.meta.get("name") or entry.meta.get("shown_name") or "tool"
        fence = "````" if "```" in entry.content else "```"
        return f"**Tool** `{name}` returned:\n\n{fence}\n{entry.content}\n{fence}"
    calls = []
    for call in entry.meta.get("tool_calls", []):
        function = call.get("function", {}) if isinstance(call, dict) else {}
        calls.append(f"`{function.get('name', '?')}({function.get('arguments', '')})`")
    said = f"{entry.content}\n\n" if entry.content else ""
    return f"{said}**Assistant** called " + ", ".join(calls)


def demote_headings(text: str, by: int) -> str:
    """`text` with its top-level Markdown headings `by` levels deeper (at most `######`), as ATX headings.

    Code blocks and everything that is not a heading stay as they are.
    """
    from .blocks import markdown_parser

    lines = text.splitlines(keepends=True)
    tokens = markdown_parser().parse(text)
    for index, token in reversed(list(enumerate(tokens))):
        if token.type != "heading_open" or token.level != 0 or not token.map:
            continue
        first, end = token.map
        level = min(int(token.tag[1]) + by, 6)
        content = tokens[index + 1].content
        ending = "\n" if lines[end - 1].endswith(("\n", "\r")) else ""
        lines[first:end] = [f"{'#' * level} {content}{ending}"]
    return "".join(lines)


def get_conversation(name: str = DEFAULT) -> Conversation:
    """The thread called `name`, created on first use."""
    name = name or DEFAULT
    with _lock:
        conversation = _threads.get(name)
        if conversation is None:
            conversation = _threads[name] = Conversation(name)
        return conversation


def conversation_names() -> list[str]:
    """Names of the threads created so far."""
    with _lock:
        return list(_threads)


def delete_conversation(name: str) -> None:
    """Forget a thread entirely."""
    with _lock:
        _threads.pop(name, None)


__all__ = [
    "DEFAULT",
    "Conversation",
    "Entry",
    "conversation_names",
    "delete_conversation",
    "get_conversation",
]
