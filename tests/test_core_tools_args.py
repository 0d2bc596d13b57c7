"""A model's tool arguments: checked against the generated schema, bound to Python values; results as text."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import pytest

from openai_magic import tools
from openai_magic.core import tool_args, tool_calls


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(TypedDict):
    x: float
    y: float


@dataclass
class Box:
    width: int
    color: Color = Color.RED


def lookup(
    city: str,
    point: Point,
    days: int = 3,
    unit: Literal["c", "f"] = "c",
    tags: list[str] | None = None,
    ratio: float = 1.0,
):
    pass


PARAMETERS = tools.schema(lookup)["function"]["parameters"]
GOOD = {"city": "Paris", "point": {"x": 1, "y": 2.5}}


@pytest.mark.parametrize(
    ("arguments", "problems"),
    [
        (GOOD, []),
        ({**GOOD, "days": 5, "unit": "f", "tags": ["a", "b"], "ratio": 2}, []),
        ({**GOOD, "tags": None, "days": 3.0}, []),  # null where allowed; 3.0 is an integer in JSON
        ({"point": GOOD["point"]}, ["missing required argument 'city'"]),
        ({**GOOD, "city": 3}, ["argument 'city': expected a string, got 3"]),
        ({**GOOD, "days": True}, ["argument 'days': expected an integer, got true"]),
        ({**GOOD, "days": 2.5}, ["argument 'days': expected an integer, got 2.5"]),
        ({**GOOD, "days": None}, ["argument 'days': expected an integer, got null"]),
        ({**GOOD, "unit": "k"}, ['argument \'unit\': "k" is not one of "c", "f"']),
        ({**GOOD, "tags": ["a", 2]}, ["argument 'tags[1]': expected a string, got 2"]),
        ({**GOOD, "tags": "a"}, ["argument 'tags': expected an array or null, got \"a\""]),
        ({**GOOD, "point": {"x": 1}}, ["missing required argument 'point.y'"]),
        ({**GOOD, "point": {"x": 1, "y": 2, "z": 3}}, ["unknown argument 'point.z' (accepted: x, y)"]),
        (
            {**GOOD, "town": "Rome"},
            ["unknown argument 'town' (accepted: city, point, days, unit, tags, ratio)"],
        ),
        (
            {"city": 1, "point": 2},
            ["argument 'city': expected a string, got 1", "argument 'point': expected an object, got 2"],
        ),
    ],
)
def test_check_against_the_generated_schema(arguments, problems):
    assert tool_args.check(arguments, PARAMETERS) == problems


def test_check_reports_a_bounded_number_of_problems():
    assert len(tool_args.check({**GOOD, "tags": list(range(100))}, PARAMETERS)) == 5


@pytest.mark.parametrize(
    ("raw", "decoded", "parsed_error"),
    [
        ('{"a": 1}', {"a": 1}, None),
        ("", {}, None),
        ("  ", {}, None),
        ('{"a": ', '{"a": ', "the arguments are not valid JSON"),
        ("[1]", "[1]", "the arguments must be a JSON object, not an array"),
        ('"text"', '"text"', "the arguments must be a JSON object, not a string"),
        ("null", "null", "the arguments must be a JSON object, not null"),
        ("__import__('os').system('x')", "__import__('os').system('x')", "not valid JSON"),
    ],
)
def test_decode_and_parse(raw, decoded, parsed_error):
    assert tool_args.decode(raw) == decoded
    if parsed_error is None:
        assert tool_args.parse(raw) == decoded
    else:
        with pytest.raises(tool_args.ArgumentError, match=parsed_error):
            tool_args.parse(raw)


def test_bind_converts_values_to_the_hints():
    def place(
        box: Box,
        color: Color,
        at: tuple[int, int],
        seen: set[str],
        scale: float,
        n: int,
        /,
        *,
        note: str = "",
    ):
        pass

    args, kwargs = tool_args.bind(
        place,
        {
            "box": {"width": 2, "color": "blue"},
            "color": "red",
            "at": [1, 2],
            "seen": ["a", "a"],
            "scale": 2,
            "n": 4.0,
            "note": "hi",
        },
    )
    assert args == [Box(2, Color.BLUE), Color.RED, (1, 2), {"a"}, 2.0, 4]
    assert isinstance(args[4], float) and isinstance(args[5], int)
    assert kwargs == {"note": "hi"}


def test_bind_passes_extra_names_to_kwargs_and_keeps_lists_of_enums():
    def tag(colors: list[Color], **extra: Any):
        pass

    assert tool_args.bind(tag, {"colors": ["red", "blue"], "size": 3}) == (
        [],
        {"colors": [Color.RED, Color.BLUE], "size": 3},
    )


def test_bind_builds_pydantic_models_and_refuses_what_they_refuse():
    pydantic = pytest.importorskip("pydantic")

    class Person(pydantic.BaseModel):
        name: str
        age: int

    def save(person):
        pass

    save.__annotations__ = {"person": Person}
    _, kwargs = tool_args.bind(save, {"person": {"name": "Ada", "age": 36}})
    assert kwargs == {"person": Person(name="Ada", age=36)}
    with pytest.raises(tool_args.ArgumentError, match="ValidationError"):
        tool_args.bind(save, {"person": {"name": "Ada", "age": "old"}})


class Unshowable:
    def __repr__(self) -> str:
        raise RuntimeError("no")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain text", "plain text"),
        ({"a": [1, 2], "é": None}, '{"a": [1, 2], "é": null}'),
        (None, "null"),
        (3.5, "3.5"),
        ([True, "x"], '[true, "x"]'),
        ({1, 2}, "{1, 2}"),
        (math.nan, "nan"),
        (Color.RED, "<Color.RED: 'red'>"),
        (Unshowable(), "<Unshowable that cannot be shown>"),
    ],
)
def test_format_result(value, text):
    assert tools.format_result(value) == text


def test_a_long_result_is_cut_at_the_module_bound_with_a_note(monkeypatch):
    assert tools.format_result("y" * tools.MAX_RESULT_CHARS) == "y" * tools.MAX_RESULT_CHARS
    monkeypatch.setattr(tool_calls, "MAX_RESULT_CHARS", 10)
    assert tools.format_result(list(range(20))) == (
        "[0, 1, 2, \n[cut: the result has 70 characters; only the first 10 are shown]"
    )
