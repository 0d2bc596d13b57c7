"""IPython magics: `%%chat`, `%chat`, `%models`, `%chat_history`, `%chat_key`, `%chat_log`, `%chat_panel`.

One Magics class per concern (as in `IPython/core/magics/`), all thin over the turn engine. Loading
imports only IPython and traitlets; httpx, markdown-it-py and ipywidgets load on first use.
"""

from __future__ import annotations

import re
from typing import Any

from IPython.core.magic import Magics

from .chat import ChatMagics
from .history import HistoryMagics
from .keys import KeyMagics
from .log import LogMagics
from .models import ModelsMagics
from .panel import PanelMagics
from .replay import ReplayMagics

MAGICS: tuple[type[Magics], ...] = (
    ChatMagics,
    ModelsMagics,
    HistoryMagics,
    KeyMagics,
    LogMagics,
    ReplayMagics,
    PanelMagics,
)

_QUESTION = re.compile(r"^([ \t]*)%chat[ \t]+(\S.*?\?)[ \t]*$")


def protect_questions(lines: list[str]) -> list[str]:
    """Input transformer: `%chat Why?` is a prompt, not IPython's `?` help request."""
    if not lines or lines[0].lstrip().startswith("%%"):
        return lines
    result = []
    for line in lines:
        match = _QUESTION.match(line.rstrip("\r\n"))
        if match:
            indent, args = match.groups()
            newline = "\n" if line.endswith("\n") else ""
            line = f"{indent}get_ipython().run_line_magic('chat', {args!r}){newline}"
        result.append(line)
    return result


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (fast: no httpx, markdown-it or ipywidgets import)."""
    for magics in MAGICS:
        ipython.register_magics(magics)
    cleanup = getattr(ipython, "input_transformers_cleanup", None)
    if cleanup is not None and protect_questions not in cleanup:
        cleanup.append(protect_questions)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and their configurables."""
    manager = ipython.magics_manager
    for magics in MAGICS:
        instance = manager.registry.pop(magics.__name__, None)
        for kind, names in magics.magics.items():
            for name in names:
                manager.magics[kind].pop(name, None)
        if instance is not None and instance in getattr(ipython, "configurables", []):
            ipython.configurables.remove(instance)
    cleanup = getattr(ipython, "input_transformers_cleanup", [])
    if protect_questions in cleanup:
        cleanup.remove(protect_questions)


__all__ = ["ChatMagics", "load_ipython_extension", "protect_questions", "unload_ipython_extension"]
