"""`{name}` interpolation: replaces what resolves, leaves every other brace exactly as typed."""

from __future__ import annotations

import types

import pytest

from openai_magic.notebook.interpolate import interpolate, notice, resolve

NS = {
    "name": "World",
    "n": 3,
    "d": {"k": "value", "two words": "spaced", 1: "int key"},
    "items": ["zero", "one"],
    "obj": types.SimpleNamespace(attr=42, inner=types.SimpleNamespace(deep="down")),
    "In": ["", "x = 1", "1 + 1"],
    "Out": {2: 2},
}


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Hello {name}!", "Hello World!"),
        ("{n} items", "3 items"),
        ("{d[k]} {d['k']} {d[\"k\"]}", "value value value"),
        ("{d[1]} {items[1]} {items[-1]}", "int key one one"),
        ("{obj.attr} {obj.inner.deep}", "42 down"),
        ("Code: {In[2]} gave {Out[2]}", "Code: 1 + 1 gave 2"),
        ("{name}{name}", "WorldWorld"),
        ("multi\nline {name}\n", "multi\nline World\n"),
    ],
)
def test_resolvable_placeholders_are_replaced(prompt: str, expected: str) -> None:
    assert interpolate(prompt, NS).text == expected


@pytest.mark.parametrize(
    "prompt",
    [
        '{"a": 1}',
        "{}",
        "{ name }",
        "{name!r}",
        "{name:>10}",
        "{0}",
        "{name()}",
        "{name + 1}",
        "{{name}}",
        "{{ name }}",
        "f'{name}' and f\"{name}\" and rf'{name}'",
        'f"""\n{name}\n"""',
        "```python\nprint(f'{name}')\nx = {name}\n```",
        "~~~\n{name}\n~~~",
        "x = {'k': 1}",
        "{obj.__class__}",
        "{",
        "}",
        "{name",
        "name}",
        "{{{",
        "{d[k}",
        "{d[k]]}",
        "$name and %(name)s",
    ],
)
def test_everything_else_stays_exactly_as_typed(prompt: str) -> None:
    assert interpolate(prompt, NS).text == prompt


def test_unresolved_names_stay_literal_and_are_reported_once() -> None:
    result = interpolate("{missing} {missing} {obj.nope} {d[zz]} {items[5]} {name}", NS)
    assert result.text == "{missing} {missing} {obj.nope} {d[zz]} {items[5]} World"
    assert result.unresolved == ["{missing}", "{obj.nope}", "{d[zz]}", "{items[5]}"]
    assert result.replaced == ["{name}"]
    line = notice(result.unresolved)
    assert "\n" not in line and "{missing}" in line and "--raw" in line


def test_values_are_inserted_verbatim_and_not_rescanned() -> None:
    ns = {"a": "{b}", "b": "nope", "braces": '{"json": true}'}
    assert interpolate("{a} {braces}", ns).text == '{b} {"json": true}'


def test_code_fence_without_close_protects_the_rest() -> None:
    prompt = "{name}\n```\n{name}\n"
    assert interpolate(prompt, NS).text == "World\n```\n{name}\n"


def test_resolve_raises_lookup_error() -> None:
    assert resolve("obj.inner.deep", NS) == "down"
    for expression in ("missing", "obj.missing", "d[missing]", "items[9]", "obj.__dict__"):
        with pytest.raises(LookupError):
            resolve(expression, NS)


def test_objects_use_their_str() -> None:
    class Thing:
        def __str__(self) -> str:
            return "a thing"

    assert interpolate("{t}", {"t": Thing()}).text == "a thing"
