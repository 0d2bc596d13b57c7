"""Named conversation threads: turns with marks, clean request messages, export."""

from __future__ import annotations

import json

from openai_magic.notebook.conversation import (
    Conversation,
    conversation_names,
    delete_conversation,
    get_conversation,
)


def test_threads_are_shared_by_name() -> None:
    a = get_conversation("test-shared")
    assert get_conversation("test-shared") is a and "test-shared" in conversation_names()
    assert get_conversation() is get_conversation("default") and get_conversation("") is get_conversation()
    delete_conversation("test-shared")
    assert get_conversation("test-shared") is not a
    delete_conversation("test-shared")


def test_turns_marks_and_clean_messages() -> None:
    conv = Conversation("t")
    conv.add_turn("Hi", "Hello!", model="demo-chat")
    conv.add_turn("Long?", "Part of an", interrupted=True)
    conv.add_turn("Again", "cut", error="ServerError")
    assert conv.messages == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Long?"},
        {"role": "assistant", "content": "Part of an"},
        {"role": "user", "content": "Again"},
        {"role": "assistant", "content": "cut"},
    ]
    assert conv.entries[1].meta == {"model": "demo-chat"} and conv.entries[3].interrupted
    assert conv.entries[5].error == "ServerError" and len(conv) == 6
    assert repr(conv) == "<Conversation 't': 6 messages>"


def test_request_messages() -> None:
    conv = Conversation()
    conv.add_turn("a", "b")
    assert conv.request_messages("c", system="S") == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    assert conv.request_messages("c", history=False) == [{"role": "user", "content": "c"}]
    assert len(conv) == 2  # asking does not record


def test_markdown_json_export_and_clear(tmp_path) -> None:
    conv = Conversation("notes")
    assert "_(empty)_" in conv.to_markdown()
    conv.add_turn("Q?", "A partial", interrupted=True, model="m")
    conv.add_turn("Q2", "", error="RateLimitError: slow down")
    md = conv.to_markdown()
    assert md.startswith("# Conversation: notes\n") and "**Assistant** (m) _[interrupted]_" in md
    assert "_[error: RateLimitError: slow down]_" in md
    data = json.loads(conv.to_json())
    assert data["name"] == "notes" and data["messages"][1]["interrupted"] is True
    md_path = conv.export(tmp_path / "t.md")
    json_path = conv.export(tmp_path / "t.JSON")
    assert md_path.read_text() == md and json.loads(json_path.read_text()) == data
    conv.clear()
    assert conv.messages == [] and len(conv) == 0


def test_history_nests_the_answers_headings_under_each_turn() -> None:
    conv = Conversation("nested")
    conv.add_turn("First question", "## Summary\n\nText\n\n```md\n# not a heading\n```\n", model="m")
    conv.add_turn("Second", "# Title\nSetext\n---\n", model="m")
    md = conv.to_markdown()
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == [
        "# Conversation: nested",
        "## Turn 1",
        "#### Summary",  # under the turn, not level with it
        "# not a heading",  # inside a code block: untouched
        "## Turn 2",
        "### Title",
        "#### Setext",  # a setext h2 becomes an ATX h4
    ]
