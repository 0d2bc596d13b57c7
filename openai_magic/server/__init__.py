"""The embedded OpenAI-compatible demo backend: no API key, no network (see docs/demo-server.md)."""

from __future__ import annotations

from .app import create_app
from .runner import DemoServer, serve

__all__ = ["DemoServer", "create_app", "serve"]
