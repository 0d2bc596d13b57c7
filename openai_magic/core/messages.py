"""Messages as they are sent: normalised, history and system folding for limited servers, media."""

from __future__ import annotations

from typing import Any

from . import media as media_mod
from . import parse

Messages = list[dict[str, Any]]


def _normalize_messages(messages: Messages | str) -> Messages:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, list | tuple):
        raise TypeError("messages must be a list of {'role', 'content'} dicts or a string")
    return [dict(message) for message in messages]


def _fold_system(messages: Messages) -> Messages:
    """System messages become a prefix of the first user message (for servers without them)."""
    system = "\n\n".join(
        parse.content_text(m.get("content")) for m in messages if m.get("role") == "system"
    ).strip()
    rest = [m for m in messages if m.get("role") != "system"]
    if not system:
        return rest
    for index, message in enumerate(rest):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                message["content"] = [{"type": "text", "text": f"{system}\n\n"}, *content]
            else:
                message["content"] = f"{system}\n\n{content or ''}"
            rest[index] = message
            return rest
    return [{"role": "user", "content": system}, *rest]


def _last_turn(messages: Messages) -> Messages:
    """System messages plus the last user message (for servers without conversation history)."""
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    system = [m for m in messages if m.get("role") == "system"]
    return system + ([last_user] if last_user is not None else messages[-1:])


def prepare_messages(provider: Any, messages: Messages | str, media: Any = None) -> Messages:
    """The messages as they will be sent: history and system folding applied, media attached."""
    result = _normalize_messages(messages)
    if not provider.supports_message_history:
        result = _last_turn(result)
    if not provider.supports_system_message:
        result = _fold_system(result)
    return media_mod.attach(result, media_mod.to_parts(media))


def last_user_text(messages: Messages) -> str:
    """Text of the last user message (the image prompt when none is given)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return parse.content_text(message.get("content"))
    return ""


__all__ = ["Messages", "last_user_text", "prepare_messages"]
