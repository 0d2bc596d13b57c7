"""The panel's model list: loaded in the background per provider and key, image models marked.

Only the latest of overlapping loads fills the dropdowns (none is cancelled, so a cached listing is
never half-written), and `loaded()` lets a send wait for the listing in progress.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from .errorline import describe
from .plan import default_model, is_image_model

IMAGE_MARK = " 🖼"


class ModelList:
    """The model dropdown and the compare list of one panel."""

    def __init__(self, ui: Any, key: Any) -> None:
        self.ui = ui
        self.key = key
        self.provider: Any = None
        self.problem = ""
        self.wanted: str | None = None  # asked for (ChatPanel(model=...), a pick) before it is listed
        self.compare_wanted: list[str] = []
        self.models: list[str] = []
        self._task: asyncio.Task[list[str]] | None = None
        self._generation = 0

    @property
    def selected(self) -> str | None:
        value = self.ui.model.value
        return str(value) if value else self.wanted

    def set_provider(self, provider: Any, problem: str = "") -> None:
        """A new provider: forget the old lists; `problem` says why there is none (shown, not red)."""
        if self.provider is not None and provider is not self.provider:
            self.wanted = None
        self.provider, self.problem = provider, problem
        self.models = []
        self.ui.model.options = self.ui.compare_models.options = ()
        self.ui.models_status.value = f"<small>{html.escape(problem)}</small>" if problem else ""

    def choose(self, model: str | None) -> None:
        self.wanted = model
        self.sync()

    def load(self) -> asyncio.Task[list[str]] | None:
        """Start a (re)load on the running loop; None when there is no loop or no provider."""
        from .panel import _loop

        loop = _loop()
        if self.provider is None:
            return None
        if loop is None:
            self.ui.models_status.value = "<small>models load when an event loop runs</small>"
            return None
        self.ui.models_status.value = "<small><i>loading models…</i></small>"
        self._task = loop.create_task(self._load())
        return self._task

    async def loaded(self) -> list[str]:
        """Wait for the load in progress (and any that started meanwhile); [] when it failed."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})
        return list(self.models)

    async def _load(self) -> list[str]:
        self._generation += 1
        generation, provider = self._generation, self.provider
        try:
            models: list[str] = await provider.get_models_async(api_key=self.key.key)
        except Exception as exc:
            if generation == self._generation:
                line = describe(exc, surface="panel", provider=provider, key=self.key.key)
                self.ui.models_status.value = f"<small style='color:#b00'>{html.escape(line)}</small>"
            return []
        if generation != self._generation:
            return models
        self.models = list(models)
        labels = [(f"{m}{IMAGE_MARK}" if is_image_model(provider, m) else m, m) for m in models]
        self.ui.model.options = labels
        self.ui.compare_models.options = labels
        self.sync(self.wanted or default_model(provider) or None)
        self.ui.models_status.value = f"<small>{len(models)} models</small>"
        return models

    def sync(self, wanted: str | None = None) -> None:
        """Select `wanted` (added as "not listed" when the listing lacks it), else keep or take the first."""
        wanted = wanted or self.wanted
        values = [value for _, value in self.ui.model.options]
        if wanted and wanted not in values:
            self.ui.model.options = [*self.ui.model.options, (f"{wanted} (not listed)", wanted)]
            values.append(wanted)
        if wanted:
            self.ui.model.value = wanted
        elif values and self.ui.model.value is None:
            self.ui.model.value = values[0]
        compare = [m for m in self.compare_wanted if m in values]
        if compare:
            self.ui.compare_models.value = tuple(compare)


__all__ = ["IMAGE_MARK", "ModelList"]
