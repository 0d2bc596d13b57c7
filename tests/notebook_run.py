"""Notebooks executed for real (nbclient, a fresh python3 kernel) and helpers to read their outputs."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from envs import ROOT
from nbclient import NotebookClient

NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_NAMES = [
    "01_quickstart.ipynb",
    "02_control_panel.ipynb",
    "03_images_and_media.ipynb",
    "04_providers.ipynb",
    "05_tools.ipynb",
    "06_reproducible.ipynb",
]


def copy_notebooks(dest: Path) -> Path:
    """Copy notebooks/ (notebooks and the files they use) into `dest` and return it."""
    shutil.copytree(NOTEBOOKS, dest, ignore=shutil.ignore_patterns("*.executed.ipynb", ".ipynb_checkpoints"))
    return dest


@dataclass
class Executed:
    """An executed notebook plus the execute_reply payloads (e.g. set_next_input) of each cell."""

    nb: nbformat.NotebookNode
    payloads: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def cell(self, marker: str, exact: bool = False) -> nbformat.NotebookNode:
        """The one code cell whose source contains (or, with `exact`, is) `marker`."""
        found = [
            c
            for c in self.nb.cells
            if c.cell_type == "code" and (c.source.strip() == marker if exact else marker in c.source)
        ]
        assert len(found) == 1, f"expected one code cell containing {marker!r}, found {len(found)}"
        return found[0]

    def index(self, marker: str) -> int:
        """The index of the one code cell whose source contains `marker`."""
        return int(self.nb.cells.index(self.cell(marker)))


def execute_notebook(
    path: Path, env: dict[str, str], *, timeout: int = 120, store_widget_state: bool = False
) -> Executed:
    """Run a notebook top to bottom in a fresh python3 kernel with `env`; fail on any cell error."""
    nb = nbformat.read(path, as_version=4)
    result = Executed(nb)

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        result.payloads[cell_index] = list(execute_reply.get("content", {}).get("payload", []))

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=store_widget_state,
        on_cell_executed=on_cell_executed,
    )
    client.execute(env=env)
    return result


def output_text(cell: nbformat.NotebookNode, mime: str | None = None) -> str:
    """All text a cell displayed: stream text and the given MIME type (all text-like ones by default)."""
    parts: list[str] = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            if mime in (None, "text/plain"):
                parts.append(out.text)
        elif out.output_type in {"display_data", "execute_result", "update_display_data"}:
            for key, value in out.get("data", {}).items():
                if (mime is None and (key.startswith("text/") or key.endswith("json"))) or key == mime:
                    parts.append(value if isinstance(value, str) else json.dumps(value))
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback))
    return "\n".join(parts)


def mime_types(cell: nbformat.NotebookNode) -> set[str]:
    """Every MIME type among a cell's rich outputs."""
    return {key for out in cell.get("outputs", []) for key in out.get("data", {})}
