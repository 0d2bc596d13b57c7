"""Checks of a chat call's arguments, run before any request: misuse is a clear TypeError/ValueError.

Without them a wrong type surfaces deep inside as `dictionary update sequence element #0...`, an
unknown keyword is silently dropped (so code written for gpt4free's `base_url=` talks to the
wrong server), and `temperature=float("nan")` is sent as invalid JSON.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from . import errors
from .secret import Secret, reveal

DEFAULT_EXTRA_PARAMETERS: tuple[str, ...] = (
    "seed",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "n",
    "user",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "modalities",
    "audio",
)
IMAGE_PARAMETERS = ("n", "size", "quality", "style", "response_format", "background", "output_format")
# `impersonate` comes from gpt4free (curl_cffi). httpx cannot mimic a browser's TLS fingerprint, so
# here it only sends a browser User-Agent, which is what some gateways check.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
# gpt4free's (and the openai SDK's) names for two of our keywords.
ALIASES = {"base_url": "api_base", "extra_body": "extra_data"}
# Accepted whatever a preset's `extra_parameters` say: the tool-calling loop builds on them.
ALWAYS_ACCEPTED = ("tools", "tool_choice", "parallel_tool_calls")
# The tool loop's own options (core/tools.py): accepted, never sent.
TOOL_LOOP_KEYWORDS = ("max_steps", "confirm")
_NUMBERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_ILLEGAL_IN_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def take_aliases(kwargs: dict[str, Any], named: dict[str, Any]) -> dict[str, Any]:
    """`named` (our keywords' values) with `base_url=` / `extra_body=` moved in from `kwargs`."""
    result = dict(named)
    for alias, name in ALIASES.items():
        if alias not in kwargs:
            continue
        value = kwargs.pop(alias)
        if result.get(name) is not None:
            raise TypeError(f"pass either {alias}= or {name}=, not both")
        result[name] = value
    return result


def check_keywords(kwargs: Mapping[str, Any], accepted: Iterable[str], known: Iterable[str]) -> None:
    """A keyword that is neither a parameter nor accepted (`extra_parameters`) is a TypeError."""
    allowed = set(accepted)
    unknown = [name for name in kwargs if name not in allowed]
    if not unknown:
        return
    name = unknown[0]
    candidates = sorted(allowed | set(known) | set(ALIASES))
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise TypeError(
        f"unexpected keyword argument {name!r}{hint} (request body fields go in extra_data=, or in "
        "the provider's extra_parameters)"
    )


def check_call(
    model: Any, messages: Any, sampling: Mapping[str, Any], max_retries: Any, max_retry_wait: Any
) -> None:
    """Every check of a chat call's values (its keywords are checked by `check_keywords`)."""
    check_model(model)
    check_messages(messages)
    check_sampling(sampling)
    check_retries(max_retries, max_retry_wait)


def check_model(model: Any) -> None:
    if not isinstance(model, str):
        raise TypeError(f"model must be a str (a model id), not {type(model).__name__}")


def check_messages(messages: Any) -> None:
    """A prompt string, or a list of `{"role": ..., "content": ...}` dicts."""
    if isinstance(messages, str):
        return
    if not isinstance(messages, list | tuple):
        raise TypeError(
            "messages must be a prompt string or a list of {'role': ..., 'content': ...} dicts, "
            f"not {type(messages).__name__}"
        )
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TypeError(
                f"messages[{index}] must be a dict like {{'role': 'user', 'content': 'hi'}}, not "
                f"{type(message).__name__} (a single prompt can be passed as a string)"
            )
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise ValueError(f"messages[{index}] needs a 'role' string ('system', 'user', 'assistant', ...)")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list | tuple):
            raise TypeError(
                f"messages[{index}]['content'] must be a str or a list of content parts, "
                f"not {type(content).__name__}"
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_sampling(sampling: Mapping[str, Any]) -> None:
    """temperature/top_p/penalties finite numbers, max_tokens a positive int, stop str(s)."""
    for name in _NUMBERS:
        value = sampling.get(name)
        if value is None:
            continue
        if not _is_number(value):
            raise TypeError(f"{name} must be a number, not {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value!r}")
    max_tokens = sampling.get("max_tokens")
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise TypeError(f"max_tokens must be an int, not {type(max_tokens).__name__}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
    stop = sampling.get("stop")
    valid_stop = isinstance(stop, list | tuple) and all(isinstance(s, str) for s in stop)
    if stop is not None and not isinstance(stop, str) and not valid_stop:
        raise TypeError("stop must be a str or a list of str")


def check_retries(max_retries: Any, max_retry_wait: Any) -> None:
    if max_retries is not None and (not isinstance(max_retries, int) or max_retries < 0):
        raise ValueError(f"max_retries must be an int of at least 0, not {max_retries!r}")
    if max_retry_wait is not None and (
        not _is_number(max_retry_wait) or not max_retry_wait >= 0 or math.isinf(max_retry_wait)
    ):
        raise ValueError(f"max_retry_wait must be a number of seconds of at least 0, not {max_retry_wait!r}")


def sendable_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Caller headers as sent (`Secret` values revealed); a value with a line break or another
    control character is refused by name (h11 would raise an error, and httpx log it, quoting the
    value, which may be a key)."""
    sent: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str | Secret):
            raise TypeError(f"header {name!r} must map a str name to a str value")
        if _ILLEGAL_IN_HEADER.search(reveal(value) or ""):
            raise errors.BadRequestError(f"request header {name!r} holds a line break or control character")
        sent[name] = reveal(value) or ""
    return sent


def image_body(model: str, prompt: str, kwargs: Mapping[str, Any], extra_data: Any) -> dict[str, Any]:
    """The body of an image request: model, prompt, the image keywords given, then `extra_data`."""
    body = {"model": model, "prompt": prompt}
    body.update({k: kwargs[k] for k in IMAGE_PARAMETERS if kwargs.get(k) is not None})
    body.update(extra_data or {})
    return body


def chat_body(
    model: str,
    messages: list[dict[str, Any]],
    sampling: Mapping[str, Any],
    kwargs: Mapping[str, Any],
    extra_parameters: Iterable[str],
    stream: bool,
    extra_data: Any,
) -> dict[str, Any]:
    """The body of a chat request: sampling values and accepted keywords that are set, stream
    options, then `extra_data` (which wins)."""
    body: dict[str, Any] = {"model": model, "messages": messages}
    body.update({k: v for k, v in sampling.items() if v is not None})
    fields = (*extra_parameters, *ALWAYS_ACCEPTED)
    body.update({k: kwargs[k] for k in fields if kwargs.get(k) is not None})
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    body.update(extra_data or {})
    return body


def _plain(value: Any) -> Any:
    # numpy and other scalar types that know their plain Python value (`np.float32(0.7)`).
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ != "builtins":
        plain = item()
        if isinstance(plain, int | float | str | bool):
            return plain
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _non_finite(value: Any, path: str, depth: int = 0) -> str | None:
    """The path of the first nan/inf number inside `value` (depth-limited)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if depth > 64:
        return None
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, f"{path}[{key!r}]", depth + 1)
        if found:
            return found
    return None


def json_body(body: dict[str, Any]) -> bytes:
    """The request body as JSON bytes; nan/inf, unknown objects and lone surrogates are clear errors."""
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False, default=_plain).encode()
    except UnicodeEncodeError:
        raise ValueError(
            "the request text holds a lone surrogate character (text decoded with errors='surrogateescape'?)"
        ) from None
    except ValueError as exc:
        where = _non_finite(body, "body")
        if where:
            raise ValueError(
                f"the request holds {where} = nan or infinity, which JSON cannot carry"
            ) from None
        raise ValueError(f"the request body cannot be sent as JSON: {exc}") from None
    except TypeError as exc:
        raise TypeError(f"the request body cannot be sent as JSON: {exc}") from None
    except RecursionError:
        raise ValueError("the request body is nested too deeply to send as JSON") from None


__all__ = [
    "ALIASES",
    "ALWAYS_ACCEPTED",
    "BROWSER_USER_AGENT",
    "DEFAULT_EXTRA_PARAMETERS",
    "IMAGE_PARAMETERS",
    "TOOL_LOOP_KEYWORDS",
    "chat_body",
    "check_call",
    "check_keywords",
    "check_messages",
    "check_model",
    "check_retries",
    "check_sampling",
    "image_body",
    "json_body",
    "sendable_headers",
    "take_aliases",
]
