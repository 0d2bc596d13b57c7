"""openai_magic: chat with any OpenAI-compatible model from a Jupyter notebook.

The public surface is imported lazily so that `%load_ext openai_magic` stays fast: nothing here
imports httpx, markdown-it-py or ipywidgets until it is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .core import errors, providers, replay, responses, tools
    from .core.template import OpenaiTemplate
    from .notebook.panel import ChatPanel

_LAZY = {
    "OpenaiTemplate": ("openai_magic.core.template", "OpenaiTemplate"),
    "ChatPanel": ("openai_magic.notebook.panel", "ChatPanel"),
    "errors": ("openai_magic.core.errors", None),
    "responses": ("openai_magic.core.responses", None),
    "providers": ("openai_magic.core.providers", None),
    "replay": ("openai_magic.core.replay", None),
    "tools": ("openai_magic.core.tools", None),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'openai_magic' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext openai_magic`: register %%chat, %chat, %models and friends."""
    from .notebook.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook.magics import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "ChatPanel",
    "OpenaiTemplate",
    "errors",
    "load_ipython_extension",
    "providers",
    "replay",
    "responses",
    "tools",
    "unload_ipython_extension",
]
