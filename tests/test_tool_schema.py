"""`openai_magic.tools.schema`: a function's OpenAI tool definition, table-driven against exact JSON."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict

import pytest

from openai_magic import tools

schema = tools.schema


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Point(TypedDict):
    x: float
    y: float
    label: NotRequired[str]


@dataclass
class Box:
    width: int
    tags: list[str] = field(default_factory=list)
    name: str = "box"


def scalars(s: str, i: int, x: float, b: bool):
    pass


def defaults(
    a: int = 1, s: str = "x", b: bool = False, f: float = 0.5, c: Color = Color.BLUE, o: object = None
):
    pass


def optionals(a: Optional[int], b: str | None = None, c: int = None, d: list[int] | None = None):  # noqa: RUF013, UP045
    pass


def containers(
    a: list[int], b: list, c: dict, d: dict[str, float], e: tuple[int, str], f: tuple[int, ...], g: set[str]
):
    pass


def choices(mode: Literal["a", "b"], n: Literal[1, 2, 3], c: Color, level: Level, mixed: Literal["x", 1]):
    pass


def unions(v: int | str, w: int | str | None, color: Color | None = None):
    pass


def annotated(x: Annotated[int, "How many."], y: Annotated[str, "unused note", 3]):
    """Annotated descriptions win over the docstring.

    Args:
        x: ignored, the annotation says it.
    """


def untyped(a, b: Any, c=3):
    pass


def keyword_extras(a: int, *args: int, **extra: str):
    pass


def any_extras(**kw):
    pass


def nested(grid: list[list[int]], palette: dict[str, list[Color]]):
    pass


def structured(point: Point, box: Box):
    pass


def positional_and_keyword_only(a: int, /, b: int, *, c: int = 2):
    pass


def google(city: str, days: int = 3, unit: str = "c"):
    """Forecast for a city.

    Uses the demo data, so it works
    offline.

    Args:
        city (str): The city name,
            for example Paris.
        days (int, optional): How many days.
        unit: ``c`` or ``f``.

    Returns:
        dict: The forecast.

    Raises:
        KeyError: For an unknown city.
    """


def numpy_style(values, scale: float = 1.0, *, mode: str = "sum"):
    """Combine values.

    Parameters
    ----------
    values : list
        The numbers to combine.
    scale : float, optional
        Multiplier
        for the result.
    mode : {'sum', 'mean'}
        How to combine.

    Returns
    -------
    float
        The combined value.
    """


def rest_style(x: int, y, z: bool = True):
    """Scale a number.

    :param x: The number,
        any integer.
    :param str y: A label.
    :param z: Whether to round.
    :type z: bool
    :returns: The scaled number.
    :rtype: int
    """


def rest_types_only(count, name):
    """Count things.

    :param count: how many
    :type count: int
    :param name: what
    :type name: str
    """


async def fetch(url: str) -> str:
    """Fetch a URL."""
    return url


class Greeter:
    """Greets people."""

    def greet(self, name: str) -> str:
        """Say hello to someone."""
        return name

    def __call__(self, name: str, loud: bool = False) -> str:
        return name


def power(base: float, exponent: int) -> float:
    """Raise base to a power."""
    return base**exponent


def obj(properties: dict[str, Any], required: list[str], **more: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        **more,
    }


def tool(name: str, parameters: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name}
    if description is not None:
        function["description"] = description
    function["parameters"] = parameters
    return {"type": "function", "function": function}


INTEGER, STRING, NUMBER, BOOLEAN = ({"type": t} for t in ("integer", "string", "number", "boolean"))

CASES = [
    (
        scalars,
        tool("scalars", obj({"s": STRING, "i": INTEGER, "x": NUMBER, "b": BOOLEAN}, ["s", "i", "x", "b"])),
    ),
    (
        defaults,
        tool(
            "defaults",
            obj(
                {
                    "a": {"type": "integer", "default": 1},
                    "s": {"type": "string", "default": "x"},
                    "b": {"type": "boolean", "default": False},
                    "f": {"type": "number", "default": 0.5},
                    "c": {"type": "string", "enum": ["red", "blue"], "default": "blue"},
                    "o": {"default": None},
                },
                [],
            ),
        ),
    ),
    (
        optionals,
        tool(
            "optionals",
            obj(
                {
                    "a": {"type": ["integer", "null"]},
                    "b": {"type": ["string", "null"], "default": None},
                    "c": {"type": ["integer", "null"], "default": None},
                    "d": {"type": ["array", "null"], "items": INTEGER, "default": None},
                },
                ["a"],
            ),
        ),
    ),
    (
        containers,
        tool(
            "containers",
            obj(
                {
                    "a": {"type": "array", "items": INTEGER},
                    "b": {"type": "array"},
                    "c": {"type": "object"},
                    "d": {"type": "object", "additionalProperties": NUMBER},
                    "e": {"type": "array", "prefixItems": [INTEGER, STRING], "minItems": 2, "maxItems": 2},
                    "f": {"type": "array", "items": INTEGER},
                    "g": {"type": "array", "items": STRING, "uniqueItems": True},
                },
                ["a", "b", "c", "d", "e", "f", "g"],
            ),
        ),
    ),
    (
        choices,
        tool(
            "choices",
            obj(
                {
                    "mode": {"type": "string", "enum": ["a", "b"]},
                    "n": {"type": "integer", "enum": [1, 2, 3]},
                    "c": {"type": "string", "enum": ["red", "blue"]},
                    "level": {"type": "integer", "enum": [1, 2]},
                    "mixed": {"enum": ["x", 1]},
                },
                ["mode", "n", "c", "level", "mixed"],
            ),
        ),
    ),
    (
        unions,
        tool(
            "unions",
            obj(
                {
                    "v": {"anyOf": [INTEGER, STRING]},
                    "w": {"anyOf": [INTEGER, STRING, {"type": "null"}]},
                    "color": {"type": ["string", "null"], "enum": ["red", "blue", None], "default": None},
                },
                ["v", "w"],
            ),
        ),
    ),
    (
        annotated,
        tool(
            "annotated",
            obj(
                {
                    "x": {"type": "integer", "description": "How many."},
                    "y": {"type": "string", "description": "unused note"},
                },
                ["x", "y"],
            ),
            "Annotated descriptions win over the docstring.",
        ),
    ),
    (untyped, tool("untyped", obj({"a": {}, "b": {}, "c": {"default": 3}}, ["a", "b"]))),
    (
        keyword_extras,
        tool("keyword_extras", {**obj({"a": INTEGER}, ["a"]), "additionalProperties": STRING}),
    ),
    (any_extras, tool("any_extras", {**obj({}, []), "additionalProperties": True})),
    (
        nested,
        tool(
            "nested",
            obj(
                {
                    "grid": {"type": "array", "items": {"type": "array", "items": INTEGER}},
                    "palette": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["red", "blue"]},
                        },
                    },
                },
                ["grid", "palette"],
            ),
        ),
    ),
    (
        structured,
        tool(
            "structured",
            obj(
                {
                    "point": obj({"x": NUMBER, "y": NUMBER, "label": STRING}, ["x", "y"]),
                    "box": obj(
                        {
                            "width": INTEGER,
                            "tags": {"type": "array", "items": STRING},
                            "name": {"type": "string", "default": "box"},
                        },
                        ["width"],
                    ),
                },
                ["point", "box"],
            ),
        ),
    ),
    (
        positional_and_keyword_only,
        tool(
            "positional_and_keyword_only",
            obj({"a": INTEGER, "b": INTEGER, "c": {"type": "integer", "default": 2}}, ["a", "b"]),
        ),
    ),
    (
        google,
        tool(
            "google",
            obj(
                {
                    "city": {"type": "string", "description": "The city name, for example Paris."},
                    "days": {"type": "integer", "default": 3, "description": "How many days."},
                    "unit": {"type": "string", "default": "c", "description": "``c`` or ``f``."},
                },
                ["city"],
            ),
            "Forecast for a city.\n\nUses the demo data, so it works offline.",
        ),
    ),
    (
        numpy_style,
        tool(
            "numpy_style",
            obj(
                {
                    "values": {"type": "array", "description": "The numbers to combine."},
                    "scale": {"type": "number", "default": 1.0, "description": "Multiplier for the result."},
                    "mode": {"type": "string", "default": "sum", "description": "How to combine."},
                },
                ["values"],
            ),
            "Combine values.",
        ),
    ),
    (
        rest_style,
        tool(
            "rest_style",
            obj(
                {
                    "x": {"type": "integer", "description": "The number, any integer."},
                    "y": {"type": "string", "description": "A label."},
                    "z": {"type": "boolean", "default": True, "description": "Whether to round."},
                },
                ["x", "y"],
            ),
            "Scale a number.",
        ),
    ),
    (
        rest_types_only,
        tool(
            "rest_types_only",
            obj(
                {
                    "count": {"type": "integer", "description": "how many"},
                    "name": {"type": "string", "description": "what"},
                },
                ["count", "name"],
            ),
            "Count things.",
        ),
    ),
    (fetch, tool("fetch", obj({"url": STRING}, ["url"]), "Fetch a URL.")),
    (Greeter().greet, tool("greet", obj({"name": STRING}, ["name"]), "Say hello to someone.")),
    (
        Greeter(),
        tool(
            "Greeter",
            obj({"name": STRING, "loud": {"type": "boolean", "default": False}}, ["name"]),
            "Greets people.",
        ),
    ),
    (
        functools.partial(power, exponent=2),
        tool(
            "power",
            obj({"base": NUMBER, "exponent": {"type": "integer", "default": 2}}, ["base"]),
            "Raise base to a power.",
        ),
    ),
]


@pytest.mark.parametrize(("fn", "expected"), CASES, ids=[c[1]["function"]["name"] for c in CASES])
def test_schema(fn, expected):
    assert schema(fn) == expected


def test_a_raw_definition_passes_through_unchanged():
    definition = {
        "type": "function",
        "function": {"name": "x", "strict": True, "parameters": {"type": "object"}},
    }
    assert schema(definition) is definition


def test_pydantic_models_use_pydantic_schema_with_defs_at_the_root():
    pydantic = pytest.importorskip("pydantic")

    class Address(pydantic.BaseModel):
        street: str
        number: int = 1

    class Person(pydantic.BaseModel):
        """A person."""

        name: str
        home: Address

    def save(person, note: str = ""):
        """Save a person."""

    save.__annotations__ = {"person": Person, "note": str}  # real classes: they are local to this test
    address = {
        "properties": {
            "street": {"title": "Street", "type": "string"},
            "number": {"default": 1, "title": "Number", "type": "integer"},
        },
        "required": ["street"],
        "title": "Address",
        "type": "object",
    }
    person = {
        "description": "A person.",
        "properties": {"name": {"title": "Name", "type": "string"}, "home": {"$ref": "#/$defs/Address"}},
        "required": ["name", "home"],
        "title": "Person",
        "type": "object",
    }
    parameters = obj({"person": person, "note": {"type": "string", "default": ""}}, ["person"])
    assert schema(save) == tool("save", {**parameters, "$defs": {"Address": address}}, "Save a person.")


@pytest.mark.parametrize(
    ("fn", "error", "match"),
    [
        (lambda x: x, ValueError, "a tool needs a name"),
        (lambda: None, ValueError, r"'<lambda>'"),
        ("not callable", TypeError, "a tool is a function or a tool definition dict"),
    ],
)
def test_bad_tools_are_refused_clearly(fn, error, match):
    with pytest.raises(error, match=match):
        schema(fn)


def test_a_type_without_json_form_names_the_parameter():
    def upload(data: bytes):
        pass

    with pytest.raises(TypeError, match=r"parameter 'data' of upload: no JSON schema for type 'bytes'"):
        schema(upload)


def test_a_hint_that_cannot_be_resolved_is_a_clear_error():
    def later(x: Undefined):  # noqa: F821
        pass

    with pytest.raises(TypeError, match="cannot read the type hints of later"):
        schema(later)
