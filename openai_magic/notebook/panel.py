"""`ChatPanel`: an ipywidgets control panel sharing providers, conversations and rendering with the magics.

Requests run as asyncio tasks on the kernel's running event loop (never the bridge thread), so a
callback returns at once, other cells keep running and two panels can stream at the same time. All
widget updates happen from those tasks, on the main thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import re
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..core import errors, providers
from .conversation import conversation_names, get_conversation
from .errorline import describe
from .options import DEFAULT_CONVERSATION, ChatOptions, default_provider, resolve_provider
from .panel_answer import AnswerView
from .panel_controls import CUSTOM, Controls
from .panel_key import KeyField
from .render import StreamRenderer, split_blocks

IMAGE_MARK = " 🖼"


class ChatPanel:
    """A chat panel for a notebook: display it, or drive it with `await panel.send(prompt)`.

    `params` are `ChatOptions` fields (`temperature`, `system`, `conversation`, `stop`, ...) plus
    `compare=[models]`. Compare answers are shown side by side but not added to the thread, which
    stays one linear conversation.
    """

    def __init__(
        self,
        provider: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        **params: Any,
    ) -> None:
        self._key = KeyField(api_key)
        self.ui = Controls(providers.names(), self._key.box)
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._models_task: asyncio.Task | None = None
        self._models_generation = 0
        self._image_models: list[str] = []
        self._provider: Any = None
        self._provider_error = ""
        self._wanted_model = model
        self._compare_wanted = list(params.pop("compare", None) or [])
        # Settings without a widget (stop, timeout, headers, json, ...) ride along in the options.
        self._defaults = ChatOptions(**params)
        self._conversation_name = self._defaults.conversation or DEFAULT_CONVERSATION
        if self._defaults.new:  # ChatPanel(new=True): start the thread afresh, once
            self.conversation.clear()
            self._defaults = self._defaults.merged(new=False)
        self._show_options(self._defaults)
        self.ui.compare.value = bool(self._compare_wanted)
        self._select_provider(provider)
        self._wire()
        self._show_history()
        self._show_thread()
        self.load_models()

    # -- display --------------------------------------------------------------------------------

    @property
    def widget(self) -> widgets.VBox:
        """The root widget (class "openai-magic-panel")."""
        return self.ui.root

    def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
        bundle = self.ui.root._repr_mimebundle_(**kwargs)
        if bundle:
            bundle["text/plain"] = repr(self)  # not the VBox's long repr of every child
        return bundle

    def __repr__(self) -> str:
        return f"<ChatPanel provider={self.provider_label!r} model={self.model!r} {self._key.description}>"

    # -- public state ---------------------------------------------------------------------------

    @property
    def provider_label(self) -> str:
        """The selected preset name, or the custom base URL."""
        if self.ui.provider.value == CUSTOM:
            return self.ui.base_url.value.strip()
        return self.ui.provider.value or ""

    @property
    def model(self) -> str | None:
        """The selected model id (None until chosen or loaded: the provider default is used)."""
        return self.ui.model.value or self._wanted_model

    @model.setter
    def model(self, value: str | None) -> None:
        self._wanted_model = value
        self._sync_model_choice()

    @property
    def key_status(self) -> str:
        """Says "key set (typed in panel)", "key set from OPENAI_API_KEY", "no key", never the key."""
        return self._key.description

    @property
    def conversation(self) -> Any:
        """The shared conversation thread (the same object `%%chat -c NAME` uses)."""
        return get_conversation(self._conversation_name)

    @property
    def conversation_name(self) -> str:
        return self._conversation_name

    @property
    def task(self) -> asyncio.Task | None:
        """The running (or last) request task; await it to wait for the answer."""
        return self._task

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def options(self) -> ChatOptions:
        """The shared parameter model (as `%%chat` uses it), filled from the widgets; no key in it."""
        ui = self.ui
        seed = ui.seed.value.strip()
        return self._defaults.merged(
            provider=self.provider_label or None,
            model=self.model,
            system=ui.system.value.strip() or None,
            temperature=ui.temperature.value,
            top_p=ui.top_p.value,
            max_tokens=ui.max_tokens.value or None,
            seed=int(seed) if seed.lstrip("-").isdigit() else None,
            image=ui.image_mode.value,
            conversation=self._conversation_name,
        )

    # -- actions --------------------------------------------------------------------------------

    async def send(self, prompt: str | None = None) -> str | dict[str, str]:
        """Send like the Send button; returns the answer text (in compare mode: {model: text})."""
        if prompt is not None:
            self.ui.prompt.value = prompt
        task = self._start()
        if task is None:
            raise ValueError(_plain(self.ui.thread_status.value) or "nothing was sent")
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled() and self._stopping:  # stopped before the request began
                return {} if self.ui.compare.value else ""
            raise

    def stop(self) -> None:
        """Cancel the running request; the partial answer stays, marked interrupted."""
        if self._task is not None and not self._task.done():
            self._stopping = True
            self._task.cancel()

    def switch_conversation(self, name: str) -> None:
        """Continue (or start) the named thread; the transcript shows its history."""
        name = name.strip() or DEFAULT_CONVERSATION
        if name != self._conversation_name or not self.ui.transcript.children:
            self._conversation_name = name
            self._show_history()
        self._show_thread()

    def new_conversation(self) -> str:
        """Switch to a fresh, empty thread with a new name; returns the name."""
        taken = set(conversation_names())
        name = next(f"panel-{n}" for n in itertools.count(1) if f"panel-{n}" not in taken)
        self.switch_conversation(name)
        return name

    def clear_conversation(self) -> None:
        """Empty the current thread and the transcript."""
        self.conversation.clear()
        self.ui.transcript.children = ()
        self._show_thread()

    def export(self, path: str | Path) -> Path:
        """Write the current thread as Markdown (.md) or JSON (.json)."""
        path = self.conversation.export(path)
        self.ui.thread_status.value = f"<small>exported to {html.escape(str(path))}</small>"
        return path

    def load_models(self) -> asyncio.Task | None:
        """Reload the model list in the background (the panel stays usable meanwhile)."""
        loop = _loop()
        if loop is None:
            self.ui.models_status.value = "<small>models load when an event loop runs</small>"
            return None
        self.ui.models_status.value = "<small><i>loading models…</i></small>"
        self._models_task = loop.create_task(self._load_models())
        return self._models_task

    # -- wiring ---------------------------------------------------------------------------------

    def _wire(self) -> None:
        ui = self.ui
        ui.send.on_click(lambda _: self._start())
        ui.prompt.on_submit(lambda _: self._start())  # Shift+Enter: the same path as Send
        ui.stop.on_click(lambda _: self.stop())
        ui.refresh.on_click(lambda _: self.load_models())
        self._key.on_change = self.load_models
        ui.provider.observe(self._on_provider, "value")
        ui.base_url.observe(lambda _: self._on_provider_changed(), "value")
        ui.model.observe(self._on_model, "value")
        ui.compare.observe(self._on_compare, "value")
        ui.thread.observe(lambda change: self.switch_conversation(change["new"]), "value")
        ui.new_thread.on_click(lambda _: self.new_conversation())
        ui.clear.on_click(lambda _: self.clear_conversation())
        ui.export_md.on_click(lambda _: self.export(f"{self._conversation_name}.md"))
        ui.export_json.on_click(lambda _: self.export(f"{self._conversation_name}.json"))

    def _show_options(self, options: ChatOptions) -> None:
        ui = self.ui
        ui.temperature.value = options.temperature
        ui.top_p.value = options.top_p
        ui.max_tokens.value = options.max_tokens or 0
        ui.seed.value = "" if options.seed is None else str(options.seed)
        ui.system.value = options.system or ""
        ui.image_mode.value = options.image

    def _select_provider(self, provider: str | None) -> None:
        ui = self.ui
        name = provider or _default_provider_name()
        match = next((n for n in ui.provider.options if n.lower() == str(name).lower()), None)
        if match and match != CUSTOM:
            ui.provider.value = match
        else:
            ui.provider.value = CUSTOM
            ui.base_url.value = str(name)
            ui.base_url.layout.display = ""
        self._resolve_provider()

    def _on_provider(self, change: dict) -> None:
        self.ui.base_url.layout.display = "" if change["new"] == CUSTOM else "none"
        self._on_provider_changed()

    def _on_model(self, change: dict) -> None:
        if change["new"]:
            self._wanted_model = change["new"]

    def _on_provider_changed(self) -> None:
        self._wanted_model = None
        self.ui.model.options = self.ui.compare_models.options = ()
        self._resolve_provider()
        self.load_models()

    def _resolve_provider(self) -> None:
        """Resolve the provider class once per selection (a custom URL makes a new class each time)."""
        label = self.provider_label
        try:
            self._provider = resolve_provider(label) if label else None
            self._provider_error = "" if label else "pick a provider or enter a base URL"
        except (KeyError, ValueError) as exc:
            self._provider, self._provider_error = None, str(exc)
        self._image_models = []
        self._key.set_provider(self._provider)

    def _provider_class(self) -> Any:
        if self._provider is None:
            raise errors.ProviderError(self._provider_error)
        return self._provider

    def _on_compare(self, change: dict) -> None:
        self.ui.compare_models.layout.display = "" if change["new"] else "none"
        self._sync_model_choice()

    def _show_thread(self) -> None:
        names = conversation_names()
        if self._conversation_name not in names:
            names = [*names, self._conversation_name]
        self.ui.thread.options = tuple(names)
        self.ui.thread.value = self._conversation_name
        count = len(self.conversation)
        self.ui.thread_status.value = f"<small>{count} messages</small>"

    # -- models ---------------------------------------------------------------------------------

    async def _load_models(self) -> list[str]:
        """Fetch the list; only the latest of overlapping loads updates the widgets (none is cancelled)."""
        self._models_generation += 1
        generation = self._models_generation
        try:
            cls = self._provider_class()
            models = await cls.get_models_async(api_key=self._key.key)
        except Exception as exc:
            if generation == self._models_generation:
                self.ui.models_status.value = _error_html(exc, self._key.key)
            return []
        if generation != self._models_generation:
            return models
        self._image_models = list(getattr(cls, "image_models", None) or [])
        labels = [(f"{m}{IMAGE_MARK}" if m in self._image_models else m, m) for m in models]
        self.ui.model.options = labels
        self.ui.compare_models.options = labels
        self._sync_model_choice(self._wanted_model or getattr(cls, "default_model", None))
        self.ui.models_status.value = f"<small>{len(models)} models</small>"
        return models

    def _sync_model_choice(self, wanted: str | None = None) -> None:
        """Select `wanted` (added as "not listed" when the listing lacks it), else keep or take the first."""
        wanted = wanted or self._wanted_model
        values = [value for _, value in self.ui.model.options]
        if wanted and wanted not in values:
            self.ui.model.options = [*self.ui.model.options, (f"{wanted} (not listed)", wanted)]
            values.append(wanted)
        if wanted:
            self.ui.model.value = wanted
        elif values and self.ui.model.value is None:
            self.ui.model.value = values[0]
        compare = [m for m in self._compare_wanted if m in values]
        if compare:
            self.ui.compare_models.value = tuple(compare)

    # -- sending --------------------------------------------------------------------------------

    def _start(self) -> asyncio.Task | None:
        ui = self.ui
        prompt = ui.prompt.value
        if not prompt.strip():
            ui.thread_status.value = "<small style='color:#b00'>empty prompt: nothing sent</small>"
            return None
        if self.busy:
            ui.thread_status.value = "<small style='color:#b00'>still answering: press Stop first</small>"
            return None
        loop = _loop()
        if loop is None:
            ui.thread_status.value = "<small style='color:#b00'>no running event loop</small>"
            return None
        media = [(bytes(f["content"]), f["name"]) for f in ui.upload.value] or None
        ui.prompt.value = ""
        ui.upload.value = ()
        self._stopping = False
        coro = self._compare(prompt, media) if ui.compare.value else self._chat(prompt, media)
        self._task = loop.create_task(coro)
        ui.send.disabled, ui.stop.disabled = True, False
        self._task.add_done_callback(self._on_done)
        return self._task

    def _on_done(self, task: asyncio.Task) -> None:
        if task is self._task:
            self.ui.send.disabled, self.ui.stop.disabled = False, True
        if not task.cancelled() and task.exception() is not None:
            self.ui.thread_status.value = _error_html(task.exception(), self._key.key)

    def _turn(self, prompt: str, media: list | None) -> None:
        note = f" <small>(+{len(media)} image{'s' if len(media) > 1 else ''})</small>" if media else ""
        user = widgets.HTML(
            f"<div class='openai-magic-user' style='white-space:pre-wrap'><b>you:</b> "
            f"{html.escape(prompt)}{note}</div>"
        )
        self._append(user)

    def _show_history(self) -> None:
        """Rebuild the transcript from the thread (turns may come from `%%chat` or another panel)."""
        self.ui.transcript.children = ()
        for entry in self.conversation.entries:
            if entry.role == "user":
                self._turn(entry.content, None)
                continue
            view = AnswerView()
            for index, source in enumerate(split_blocks(entry.content)):
                view.block(index, source)
            view.footer(entry.meta.get("model") or "", {})
            if entry.interrupted or entry.error:
                view.error(entry.error or "interrupted")
            self._append(view)

    def _append(self, widget: widgets.Widget) -> None:
        # The transcript is a height-capped flex column that scrolls: children must keep their natural
        # height, or the browser squeezes every answer to fit instead of scrolling.
        widget.layout.flex = "0 0 auto"
        self.ui.transcript.children = (*self.ui.transcript.children, widget)

    async def _chat(self, prompt: str, media: list | None) -> str:
        self._turn(prompt, media)
        view = AnswerView()
        self._append(view)
        conversation = self.conversation
        options = self.options().merged(media=media or [])
        if options.image:
            options = options.merged(model=self._image_model())
        messages = conversation.request_messages(prompt, system=options.system, history=options.history)
        text, outcome, error = await self._stream(view, options, messages)
        if not options.image and (text or outcome == "done"):
            conversation.add_turn(
                prompt, text, interrupted=outcome == "interrupted", error=error, model=options.model
            )
        self._show_thread()
        self._reraise([outcome])
        return text

    async def _compare(self, prompt: str, media: list | None) -> dict[str, str]:
        models = list(self.ui.compare_models.value)
        if len(models) < 2:
            self.ui.thread_status.value = "<small style='color:#b00'>compare: pick two or more models</small>"
            return {}
        self._turn(prompt, media)
        columns = [AnswerView(title=m, layout=widgets.Layout(flex="1 1 0", min_width="0")) for m in models]
        row = widgets.HBox(columns, layout=widgets.Layout(width="100%"))
        row.add_class("openai-magic-columns")
        self._append(row)
        options = self.options().merged(image=False, media=media or [])
        messages = self.conversation.request_messages(prompt, system=options.system, history=options.history)
        tasks = [
            asyncio.ensure_future(self._stream(view, options.merged(model=m), messages))
            for view, m in zip(columns, models, strict=True)
        ]
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:  # Stop: cancel every column, each keeps its partial answer
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
        results = [("", "interrupted", None) if task.cancelled() else task.result() for task in tasks]
        self._reraise([outcome for _, outcome, _ in results])
        return {m: text for m, (text, _, _) in zip(models, results, strict=True)}

    def _image_model(self) -> str | None:
        """The selected model when it makes images, else the provider's first image model."""
        cls = self._provider
        if self.model and cls is not None and cls.is_image_model(self.model):
            return self.model
        if self._image_models:
            return self._image_models[0]
        return getattr(cls, "default_image_model", None) or self.model

    async def _stream(
        self,
        view: AnswerView,
        options: ChatOptions,
        messages: list[dict],
    ) -> tuple[str, str, str | None]:
        """Stream one answer into `view`; returns (text, "done" | "interrupted" | "failed", error line).

        Cancellation is not re-raised here: the caller records the partial answer first.
        """
        key = self._key.key
        renderer = StreamRenderer(view, model=options.model)
        renderer.start()
        outcome, error = "done", None
        stream = None
        try:
            cls = self._provider_class()
            kwargs = options.merged(api_key=key).request_kwargs(messages, provider=cls)
            renderer.model = kwargs["model"]
            stream = cls.create_async_generator(**kwargs)
            async for item in stream:
                renderer.add(item)
        except asyncio.CancelledError:
            outcome = "interrupted"
        except Exception as exc:
            outcome, error = "failed", describe(exc, (key,))
            renderer.extend(getattr(exc, "partial_text", ""))
        finally:
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()
        renderer.finish(interrupted=outcome == "interrupted", error=error)
        if outcome != "done":
            view.error(error or "interrupted")
        return renderer.answer, outcome, error

    def _reraise(self, outcomes: list[str]) -> None:
        """A cancellation that did not come from Stop (e.g. the awaiting cell was interrupted) goes on."""
        if "interrupted" in outcomes and not self._stopping:
            raise asyncio.CancelledError


def _default_provider_name() -> str:
    """The dropdown entry for what `%%chat` uses when nothing names a provider."""
    cls, is_demo = default_provider()
    return "Demo" if is_demo else next((n for n, c in providers.PROVIDERS.items() if c is cls), "OpenAI")


def _loop() -> asyncio.AbstractEventLoop | None:
    """The running loop; in a kernel's main thread outside a coroutine, the kernel's loop."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return None
    return loop if loop.is_running() else None


def _plain(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup)).strip()


def _error_html(exc: BaseException, key: str | None) -> str:
    return f"<small style='color:#b00'>{html.escape(describe(exc, (key,)))}</small>"


__all__ = ["ChatPanel"]
