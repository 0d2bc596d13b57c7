"""The embedded OpenAI-compatible demo backend: no API key, no network (see docs/demo-server.md)."""

from __future__ import annotations

from .app import create_app
from .runner import DemoServer, add_serve_arguments, serve

__all__ = ["DemoServer", "add_serve_arguments", "create_app", "serve"]
