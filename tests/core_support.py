"""Helpers shared by the core tests: a provider class bound to the embedded server, item collectors."""

from __future__ import annotations

from typing import Any

from openai_magic.core import providers
from openai_magic.core.template import OpenaiTemplate


def demo_provider(base_url: str, **attrs: Any) -> type[OpenaiTemplate]:
    """A custom provider for the test server, with quick retries."""
    settings = {
        "label": "Demo",
        "default_model": "demo-chat",
        "image_models": ["demo-image"],
        "retry_base_delay": 0.01,
        **attrs,
    }
    return providers.custom(base_url, **settings)


async def collect(result: Any, form: str = "iter") -> list[Any]:
    """All items of a `create_async_generator` result, via `async for` or via `await` first."""
    if form == "await":
        result = await result
    return [item async for item in result]


def text_of(items: list[Any]) -> str:
    return "".join(item for item in items if isinstance(item, str))


def of_type(items: list[Any], cls: type) -> list[Any]:
    return [item for item in items if isinstance(item, cls)]
