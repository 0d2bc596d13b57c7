"""A function's description and per-parameter descriptions from its docstring (Google, NumPy, reST).

Written by hand on purpose: the three styles need ~150 lines, and the packages that parse them
(docstring_parser, griffe) would be a dependency for a narrow job; only what a tool schema needs
is read (the text before the first section, each parameter's text and its type name).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

# Section headers. Google: "Args:" alone on a line. NumPy: "Parameters" over a line of dashes.
_GOOGLE_PARAMS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_GOOGLE_SECTIONS = _GOOGLE_PARAMS | {
    "attributes",
    "example",
    "examples",
    "note",
    "notes",
    "other parameters",
    "raises",
    "references",
    "return",
    "returns",
    "see also",
    "todo",
    "warning",
    "warnings",
    "yield",
    "yields",
}
_NUMPY_PARAMS = {"parameters", "other parameters", "keyword arguments"}
_GOOGLE_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z ]*):\s*$")
_DASHES = re.compile(r"^\s*-{3,}\s*$")
# "name (int, optional): text" / "*args: text"
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
# "name : int, optional" / "x, y : float" / "name"
_NUMPY_ENTRY = re.compile(r"^\*{0,2}(\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::\s*(.*))?$")
# ":param name: text" / ":param int name: text" / ":type name: int"
_REST_FIELD = re.compile(r"^:(\w+)(?:\s+([^:]*?))?\s*:\s*(.*)$")
_REST_PARAM = {"param", "parameter", "arg", "argument", "key", "keyword"}


@dataclass
class Docstring:
    """What a tool schema takes from a docstring."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # the type names the docstring gives


def parse(doc: str | None) -> Docstring:
    """Parse a docstring in any of the three styles (they may even be mixed)."""
    if not doc or not doc.strip():
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    found = Docstring()
    end = len(lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        header = _section_header(lines, index)
        if header is not None:
            end = min(end, index)
            name, style = header
            body_start = index + (2 if style == "numpy" else 1)
            body_end = _section_end(lines, body_start, style)
            if style == "google" and name in _GOOGLE_PARAMS:
                _google_params(lines[body_start:body_end], found)
            elif style == "numpy" and name in _NUMPY_PARAMS:
                _numpy_params(lines[body_start:body_end], found)
            index = body_end
            continue
        if _REST_FIELD.match(line):
            end = min(end, index)
            index = _rest_field(lines, index, found)
            continue
        index += 1
    found.description = _paragraphs(lines[:end])
    return found


def _section_header(lines: list[str], index: int) -> tuple[str, str] | None:
    line = lines[index]
    if index + 1 < len(lines) and _DASHES.match(lines[index + 1]) and line.strip():
        return line.strip().lower(), "numpy"
    match = _GOOGLE_HEADER.match(line)
    if match and match.group(1).strip().lower() in _GOOGLE_SECTIONS:
        return match.group(1).strip().lower(), "google"
    return None


def _section_end(lines: list[str], start: int, style: str) -> int:
    """Index of the first line after the section that starts at `start`."""
    index = start
    while index < len(lines):
        line = lines[index]
        if line.strip() and (_section_header(lines, index) is not None or _REST_FIELD.match(line)):
            return index
        # A Google section is indented under its header; text back at the margin ends it.
        if style == "google" and line.strip() and not line[:1].isspace():
            return index
        index += 1
    return index


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _entries(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Split a section body into (entry line, continuation lines) by indentation."""
    content = [line for line in lines if line.strip()]
    if not content:
        return []
    margin = min(_indent(line) for line in content)
    entries: list[tuple[str, list[str]]] = []
    for line in lines:
        if not line.strip():
            continue
        if _indent(line) == margin:
            entries.append((line.strip(), []))
        elif entries:
            entries[-1][1].append(line.strip())
    return entries


def _google_params(lines: list[str], found: Docstring) -> None:
    for head, more in _entries(lines):
        match = _GOOGLE_ENTRY.match(head)
        if match is None:
            continue
        name, kind, text = match.groups()
        found.params[name] = " ".join([text, *more]).strip()
        if kind:
            found.types[name] = kind.strip()


def _numpy_params(lines: list[str], found: Docstring) -> None:
    for head, more in _entries(lines):
        match = _NUMPY_ENTRY.match(head)
        if match is None:
            continue
        names, kind = match.groups()
        for name in (n.strip().lstrip("*") for n in names.split(",")):
            found.params[name] = " ".join(more).strip()
            if kind:
                found.types[name] = kind.strip()


def _rest_field(lines: list[str], index: int, found: Docstring) -> int:
    """Read one `:field ...: text` entry with its indented continuation; return the next index."""
    match = _REST_FIELD.match(lines[index])
    assert match is not None
    kind, target, text = match.groups()
    parts = [text]
    index += 1
    while index < len(lines) and lines[index][:1].isspace() and lines[index].strip():
        parts.append(lines[index].strip())
        index += 1
    words = (target or "").split()
    if kind in _REST_PARAM and words:
        name = words[-1].lstrip("*")
        found.params[name] = " ".join(parts).strip()
        if len(words) > 1:
            found.types[name] = " ".join(words[:-1])
    elif kind == "type" and words:
        found.types[words[-1].lstrip("*")] = " ".join(parts).strip()
    return index


def _paragraphs(lines: list[str]) -> str:
    """Text with each paragraph's lines joined, paragraphs separated by a blank line."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


__all__ = ["Docstring", "parse"]
