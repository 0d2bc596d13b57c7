"""Turn a raw JSON body into a checked request, raising 400s (never 500s) for anything malformed."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import APIError, bad_request

CHAT_MODELS = ("demo-chat", "demo-reasoner", "demo-think", "demo-tools")
IMAGE_MODELS = ("demo-image",)
ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
PART_TYPES = {"text", "image_url", "input_audio", "file", "refusal"}
_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[^,;]*)*?)(;base64)?,(.*)$", re.S)


@dataclass(frozen=True)
class Attachment:
    """An image sent in a message: its MIME type and decoded size, or a remote URL."""

    mime: str
    size: int | None
    url: str | None = None


@dataclass
class ChatRequest:
    """The fields of a chat completion request that the demo model obeys."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = None
    json_mode: bool = False
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class ImageRequest:
    """The fields of an image generation request."""

    prompt: str
    model: str = "demo-image"
    n: int = 1
    width: int = 1024
    height: int = 1024
    response_format: str = "b64_json"


def _one_of(value: Any, allowed: set[str]) -> bool:
    return isinstance(value, str) and value in allowed


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> dict[str, Any]:
    """Decode the body as a JSON object."""
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def check_model(model: Any, kind: str) -> str:
    """404 for an unknown model id, 400 when a model of the other kind is used."""
    if not isinstance(model, str) or not model:
        raise bad_request("you must provide a model parameter", param="model")
    if model not in CHAT_MODELS + IMAGE_MODELS:
        raise APIError(404, f"The model `{model}` does not exist.", code="model_not_found", param="model")
    wanted = CHAT_MODELS if kind == "chat" else IMAGE_MODELS
    if model not in wanted:
        raise bad_request(f"The model `{model}` does not support {kind} requests.", param="model")
    return model


def _number(body: dict, name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"'{name}' must be a number.", param=name)
    if not low <= value <= high:
        raise bad_request(f"'{name}' must be between {low:g} and {high:g}, got {value}.", param=name)


def _integer(body: dict, name: str, low: int = 1) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"'{name}' must be an integer.", param=name)
    if value < low:
        raise bad_request(f"'{name}' must be at least {low}, got {value}.", param=name)
    return value


def _attachment(url: Any, param: str) -> Attachment:
    if not isinstance(url, str) or not url:
        raise bad_request("image_url.url must be a non-empty string.", param=param)
    match = _DATA_URI.match(url)
    if match is None:
        if not url.startswith(("http://", "https://")):
            raise bad_request("image_url.url must be an http(s) URL or a data URI.", param=param)
        return Attachment(mime="remote", size=None, url=url)
    mime, _, is_b64, payload = match.groups()
    if not is_b64:
        return Attachment(mime=mime or "text/plain", size=len(payload.encode()))
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("image_url.url is a data URI with invalid base64.", param=param) from None
    return Attachment(mime=mime or "application/octet-stream", size=len(data))


def _message(message: Any, index: int, attachments: list[Attachment]) -> dict[str, Any]:
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise bad_request(f"{param} must be an object.", param=param)
    role = message.get("role")
    if not _one_of(role, ROLES):
        raise bad_request(
            f"{param}.role must be one of {sorted(ROLES)}, got {role!r}.", param=f"{param}.role"
        )
    content = message.get("content")
    if content is None:
        if role not in {"assistant", "function"}:
            raise bad_request(f"{param}.content is required.", param=f"{param}.content")
    elif isinstance(content, list):
        for j, part in enumerate(content):
            where = f"{param}.content[{j}]"
            if not isinstance(part, dict) or not _one_of(part.get("type"), PART_TYPES):
                raise bad_request(f"{where} must be an object with a known 'type'.", param=where)
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise bad_request(f"{where}.text must be a string.", param=f"{where}.text")
            if part["type"] == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                attachments.append(_attachment(url, f"{where}.image_url"))
    elif not isinstance(content, str):
        raise bad_request(f"{param}.content must be a string or a list of parts.", param=f"{param}.content")
    return message


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list) and len(value) <= 4 and all(isinstance(s, str) for s in value):
        return [s for s in value if s]
    raise bad_request("'stop' must be a string or a list of up to 4 strings.", param="stop")


def _tools(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request("'tools' must be a list.", param="tools")
    for i, tool in enumerate(value):
        function: Any = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            function = {}
        name = function.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise bad_request(
                f"tools[{i}] must be {{'type': 'function', 'function': {{'name': ...}}}} "
                "with a name of 1-64 letters, digits, _ or -.",
                param=f"tools[{i}]",
            )
        parameters = function.get("parameters") or {}
        if not isinstance(parameters, dict) or not isinstance(parameters.get("properties", {}), dict | None):
            raise bad_request(
                f"tools[{i}].function.parameters must be a JSON schema object.", param=f"tools[{i}]"
            )
    return value


def _tool_choice(value: Any) -> Any:
    if value is None or _one_of(value, {"none", "auto", "required"}):
        return value
    function = value.get("function") if isinstance(value, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return value
    raise bad_request(
        "'tool_choice' must be none, auto, required or {'type': 'function', 'function': {'name': ...}}.",
        param="tool_choice",
    )


def chat_request(body: dict[str, Any]) -> ChatRequest:
    """Validate a `/v1/chat/completions` body."""
    model = check_model(body.get("model"), "chat")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list.", param="messages")
    attachments: list[Attachment] = []
    checked = [_message(m, i, attachments) for i, m in enumerate(messages)]
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _number(body, "presence_penalty", -2, 2)
    _number(body, "frequency_penalty", -2, 2)
    if body.get("seed") is not None and (isinstance(body["seed"], bool) or not isinstance(body["seed"], int)):
        raise bad_request("'seed' must be an integer.", param="seed")
    n = _integer(body, "n")
    if n not in (None, 1):
        raise bad_request("The demo server only supports n=1 for chat.", param="n")
    max_tokens = _integer(body, "max_completion_tokens") or _integer(body, "max_tokens")
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise bad_request("'stream' must be a boolean.", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object.", param="stream_options")
    response_format = body.get("response_format") or {}
    if not isinstance(response_format, dict) or not _one_of(
        response_format.get("type", "text"), {"text", "json_object", "json_schema"}
    ):
        raise bad_request(
            "'response_format.type' must be text, json_object or json_schema.", param="response_format"
        )
    return ChatRequest(
        model=model,
        messages=checked,
        stream=bool(stream),
        include_usage=bool(options.get("include_usage")),
        max_tokens=max_tokens,
        stop=_stop(body.get("stop")),
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice")),
        json_mode=response_format.get("type") in {"json_object", "json_schema"},
        attachments=attachments,
    )


def image_request(body: dict[str, Any]) -> ImageRequest:
    """Validate a `/v1/images/generations` body."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_request("'prompt' must be a non-empty string.", param="prompt")
    model = check_model(body.get("model") or "demo-image", "image")
    n = _integer(body, "n") or 1
    if n > 10:
        raise bad_request("'n' must be at most 10.", param="n")
    size = body.get("size") or "1024x1024"
    match = re.fullmatch(r"(\d{1,4})x(\d{1,4})", size) if isinstance(size, str) else None
    if match is None or not all(16 <= int(v) <= 2048 for v in match.groups()):
        raise bad_request("'size' must look like '256x256', each side between 16 and 2048.", param="size")
    response_format = body.get("response_format") or "b64_json"
    if not _one_of(response_format, {"b64_json", "url"}):
        raise bad_request("'response_format' must be 'b64_json' or 'url'.", param="response_format")
    width, height = (int(v) for v in match.groups())
    return ImageRequest(prompt, model, n, width, height, response_format)
