"""The demo backend's `demo-tools` model over HTTP (openai SDK): directives, parallel and bad calls,
steps, and answers that quote the results."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "metric": {"type": ["boolean", "null"]},
                "tags": {"type": "array", "items": {"type": "integer"}},
                "unit": {"type": "string", "enum": ["c", "f"]},
            },
            "required": ["city", "days", "unit"],
        },
    },
}
NESTED = {
    "type": "function",
    "function": {
        "name": "save",
        "parameters": {
            "type": "object",
            "properties": {
                "person": {"$ref": "#/$defs/Person"},
                "score": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            },
            "required": ["person", "score"],
            "$defs": {
                "Person": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                    "required": ["name"],
                }
            },
        },
    },
}


@pytest.fixture(scope="module")
def sdk(demo_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=demo_server.base_url, api_key="unused", max_retries=0)


def calls_of(
    sdk: openai.OpenAI, prompt: str | list[dict[str, Any]], stream: bool, **kwargs: Any
) -> list[tuple]:
    """(id, name, arguments) of each call in the reply, joined from fragments when streamed."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    kwargs.setdefault("tools", [LOOKUP])
    if not stream:
        reply = sdk.chat.completions.create(model="demo-tools", messages=messages, **kwargs)
        calls = reply.choices[0].message.tool_calls or []
        return [(c.id, c.function.name, c.function.arguments) for c in calls]
    joined: dict[int, list[str]] = {}
    for chunk in sdk.chat.completions.create(model="demo-tools", messages=messages, stream=True, **kwargs):
        for fragment in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            entry = joined.setdefault(fragment.index, ["", "", ""])
            entry[0] += fragment.id or ""
            entry[1] += fragment.function.name or ""
            entry[2] += fragment.function.arguments or ""
    return [tuple(joined[i]) for i in sorted(joined)]


@pytest.fixture(params=[False, True], ids=["whole", "stream"])
def stream(request) -> bool:
    return request.param


def test_demo_tools_is_listed(sdk):
    assert "demo-tools" in {m.id for m in sdk.models.list()}


def test_a_directive_calls_with_typed_values_and_fills_the_required_rest(sdk, stream):
    ((call_id, name, arguments),) = calls_of(
        sdk, '[demo tool=lookup city="New York" metric=false tags=1,2]', stream
    )
    assert call_id.startswith("call_") and name == "lookup"
    assert json.loads(arguments) == {
        "city": "New York",
        "days": 3,
        "unit": "c",
        "metric": False,
        "tags": [1, 2],
    }


def test_two_directives_make_two_parallel_calls(sdk, stream):
    calls = calls_of(sdk, "[demo tool=lookup city=Paris] [demo tool=lookup city=Rome days=5]", stream)
    assert [json.loads(a)["city"] for _, _, a in calls] == ["Paris", "Rome"]
    assert json.loads(calls[1][2])["days"] == 5
    assert len({c[0] for c in calls}) == 2


def not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize(
    ("bad", "check"),
    [
        ("json", lambda a: not_json(a) and a.startswith('{"city": ')),
        ("missing", lambda a: json.loads(a) == {}),
        ("type", lambda a: json.loads(a) == {"city": 12345, "days": "not a number", "unit": 12345}),
    ],
)
def test_bad_arguments_on_purpose(sdk, stream, bad, check):
    ((_, _, arguments),) = calls_of(sdk, f"[demo tool=lookup bad={bad}]", stream)
    assert check(arguments)


def test_a_value_that_does_not_fit_is_sent_as_given_and_unknown_names_are_called(sdk, stream):
    ((_, name, arguments),) = calls_of(sdk, "[demo tool=lookup days=many extra=1]", stream)
    assert json.loads(arguments)["days"] == "many" and json.loads(arguments)["extra"] == "1"
    ((_, name, arguments),) = calls_of(sdk, "[demo tool=nosuch x=1]", stream)
    assert (name, json.loads(arguments)) == ("nosuch", {"x": "1"})


def test_fitting_values_follow_refs_unions_and_nested_required(sdk, stream):
    ((_, _, arguments),) = calls_of(sdk, "Please save 'Ada'.", stream, tools=[NESTED])
    assert json.loads(arguments) == {"person": {"name": "Ada"}, "score": 42.5}


def answered(history: list[dict[str, Any]], calls: list[tuple], results: list[str]) -> list[dict[str, Any]]:
    tool_calls = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls]
    history = [*history, {"role": "assistant", "content": None, "tool_calls": tool_calls}]
    return history + [
        {"role": "tool", "tool_call_id": c[0], "content": r} for c, r in zip(calls, results, strict=True)
    ]


def test_steps_then_an_answer_quoting_every_result(sdk, stream):
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "[demo tool=lookup city=Oslo] [demo steps=2]"}
    ]
    first = calls_of(sdk, history, stream)
    history = answered(history, first, ['{"temp": 1}'])
    second = calls_of(sdk, history, stream)
    assert len(second) == 1 and second[0][0] != first[0][0]
    history = answered(history, second, ["it is\n  cold"])
    assert calls_of(sdk, history, stream) == []
    reply = sdk.chat.completions.create(model="demo-tools", messages=history, tools=[LOOKUP])
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content == (
        'Here is what the tools returned:\n\n- `lookup` returned: {"temp": 1}\n'
        "- `lookup` returned: it is cold\n\nThat is my answer from 2 tool results.\n"
    )


def test_without_directive_it_calls_a_named_tool_once(sdk, stream):
    ((_, name, arguments),) = calls_of(sdk, "Run lookup for 'Lima'.", stream)
    assert name == "lookup" and json.loads(arguments) == {"city": "Lima", "days": 3, "unit": "c"}
    assert calls_of(sdk, "Tell me about Lima.", stream) == []
    assert calls_of(sdk, "[demo tool=lookup]", stream, tool_choice="none") == []


def test_without_tools_it_answers_like_the_chat_model(sdk):
    reply = sdk.chat.completions.create(
        model="demo-tools", messages=[{"role": "user", "content": "[demo tool=x] hi"}]
    )
    assert "`demo-tools`" in reply.choices[0].message.content


@pytest.mark.parametrize(
    ("model", "prompt", "message"),
    [
        ("demo-chat", "[demo tool=lookup]", "are for model demo-tools"),
        ("demo-chat", "[demo steps=2]", "are for model demo-tools"),
        ("demo-tools", "[demo tool=lookup bad=worse]", "bad= one of json, missing, type"),
        ("demo-tools", '[demo tool=lookup city="Paris]', "unbalanced quotes"),
        ("demo-tools", "[demo tool=lookup city]", "expected key=value"),
        ("demo-tools", "[demo tool=no/name]", "tool=NAME"),
        ("demo-tools", "[demo steps=0]", "Invalid demo directive"),
    ],
)
def test_bad_tool_directives_are_400s(sdk, model, prompt, message):
    with pytest.raises(openai.BadRequestError, match=message):
        sdk.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], tools=[LOOKUP]
        )
