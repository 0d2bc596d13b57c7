"""`ChatPanel`: an ipywidgets chat panel on the same turn engine, options, threads and keys as the magics.

Requests run as asyncio tasks on the kernel's running event loop (never the bridge thread), so a
callback returns at once, other cells keep running and two panels can stream at the same time. All
widget updates happen from those tasks, on the main thread.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import uuid
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from .confirm import AskButtons
from .conversation import Conversation, conversation_names, get_conversation
from .errorline import describe
from .options import DEFAULT_CONVERSATION, PANEL, ChatOptions
from .panel_answer import AnswerView, user_turn
from .panel_controls import Controls
from .panel_key import KeyField
from .panel_models import ModelList
from .panel_params import tools_html
from .panel_provider import ProviderChoice, provider_choices
from .panel_transcript import Transcript
from .plan import plan_turn
from .replay_scope import scope as replay_scope
from .turn import FAILED, INTERRUPTED, Turn, compare


class ChatPanel:
    """A chat panel for a notebook: display it, or drive it with `await panel.send(prompt)`.

    `params` are the options `%%chat` takes (`temperature`, `system`, `conversation`, `stop`, ...;
    a keyword the panel does not offer is a TypeError) plus `compare=[models]`. Compare answers are
    shown side by side but not added to the thread, which stays one linear conversation.
    """

    def __init__(
        self,
        provider: str | None = None,
        model: str | None = None,
        api_key: Any = None,
        *,
        compare: list[str] | None = None,
        **params: Any,
    ) -> None:
        self._defaults = ChatOptions.from_params(PANEL, **params)  # validates before any widget exists
        self._key = KeyField(api_key)
        self._id = uuid.uuid4().hex[:16]  # names the static copy of the thread (panel_fallback.py)
        self.ui = Controls(provider_choices(), self._key.box, self._id)
        self._models = ModelList(self.ui, self._key)
        self._provider = ProviderChoice(self.ui, self._key, self._models)
        self._task: asyncio.Task[Any] | None = None
        self._stopping = False
        self._transcript = Transcript(self.ui, self._id, lambda: f"ChatPanel ({self.provider_label})")
        self._models.wanted = model
        self._models.compare_wanted = list(compare or [])
        self.ui.params.show(self._defaults)
        self.ui.tools_list.value = tools_html(self._defaults.tools)
        self.ui.compare.value = bool(compare)
        self._provider.select(provider)
        self._wire()
        name = self._defaults.conversation or DEFAULT_CONVERSATION
        from . import turn_log

        if self._defaults.new:  # ChatPanel(new=True): start the thread afresh, once
            get_conversation(name).clear()
            turn_log.mark_cleared(get_conversation(name), self._defaults)
            self._defaults = self._defaults.replace(new=False)
        elif self._defaults.restore and not get_conversation(name).entries:  # after a kernel restart
            turn_log.restore(get_conversation(name), self._defaults)
        self.switch_conversation(name)
        self.load_models()

    # -- display --------------------------------------------------------------------------------

    @property
    def widget(self) -> widgets.VBox:
        """The root widget (class "openai-magic-panel")."""
        return self.ui.root

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = self.ui.root._repr_mimebundle_(**kwargs)
        if bundle:
            bundle["text/plain"] = repr(self)  # not the VBox's long repr of every child
        return bundle

    def _ipython_display_(self) -> None:
        """The live panel, then a static copy of its thread (kept current; shown where widgets can't be)."""
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
        self._transcript.display_snapshot()

    def __repr__(self) -> str:
        return f"<ChatPanel provider={self.provider_label!r} model={self.model!r} {self._key.description}>"

    # -- public state ---------------------------------------------------------------------------

    @property
    def provider_label(self) -> str:
        """The selected preset name, the custom base URL (no credentials), or the default's label."""
        return self._provider.label

    @property
    def model(self) -> str | None:
        """The selected model id (None until chosen or listed: the provider's default is used)."""
        return self._models.selected

    @model.setter
    def model(self, value: str | None) -> None:
        self._models.choose(value)

    @property
    def key_status(self) -> str:
        """Says "key set (typed in panel)", "no key needed", ..., never the key."""
        return self._key.description

    @property
    def conversation(self) -> Conversation:
        """The shared conversation thread (the same object `%%chat -c NAME` uses)."""
        return get_conversation(self.conversation_name)

    @property
    def conversation_name(self) -> str:
        return self._transcript.name

    @property
    def task(self) -> asyncio.Task[Any] | None:
        """The running (or last) request task; await it to wait for the answer."""
        return self._task

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def options(self) -> ChatOptions:
        """The options as `%%chat` takes them, filled from the widgets; no key in them."""
        return self._defaults.replace(
            provider=self._provider.provider,
            model=self.model,
            conversation=self.conversation_name,
            **self.ui.params.values(),
        )

    # -- actions --------------------------------------------------------------------------------

    async def send(self, prompt: str | None = None) -> str | dict[str, str]:
        """Send like the Send button; the answer text (compare mode: {model: text}).

        A failed request is shown in the transcript, then raised (a `ProviderError`, or ValueError for
        a provider or model that cannot be used); Stop returns what was answered so far.
        """
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
        """Continue (or start) the named thread; the transcript shows its history and follows it."""
        self._transcript.switch(name)

    def new_conversation(self) -> str:
        """Switch to a fresh, empty thread with a new name; returns the name."""
        taken = set(conversation_names())
        name = next(f"panel-{n}" for n in itertools.count(1) if f"panel-{n}" not in taken)
        self.switch_conversation(name)
        return name

    def clear_conversation(self) -> None:
        """Empty the current thread (and so the transcript of every panel showing it)."""
        from . import turn_log

        self.conversation.clear()
        turn_log.mark_cleared(self.conversation, self._defaults)

    def export(self, path: str | Path) -> Path:
        """Write the current thread as Markdown (.md) or JSON (.json)."""
        target = self.conversation.export(path)
        self.ui.thread_status.value = f"<small>exported to {html.escape(str(target))}</small>"
        return target

    def load_models(self) -> asyncio.Task[Any] | None:
        """Reload the model list in the background (the panel stays usable meanwhile)."""
        return self._models.load()

    async def models_loaded(self) -> list[str]:
        """Wait for the model listing in progress (if any); the models listed ([] when it failed)."""
        return await self._models.loaded()

    # -- wiring ---------------------------------------------------------------------------------

    def _wire(self) -> None:
        ui = self.ui
        ui.send.on_click(lambda _: self._start())
        ui.prompt.on_submit(lambda _: self._start())  # Shift+Enter: the same path as Send
        ui.stop.on_click(lambda _: self.stop())
        ui.refresh.on_click(lambda _: self.load_models())
        self._key.on_change = self.load_models
        self._provider.on_change = self.load_models
        self._provider.wire()
        ui.compare.observe(self._on_compare, "value")
        ui.thread.observe(lambda change: self.switch_conversation(change["new"]), "value")
        ui.new_thread.on_click(lambda _: self.new_conversation())
        ui.clear.on_click(lambda _: self.clear_conversation())
        ui.export_md.on_click(lambda _: self.export(f"{self.conversation_name}.md"))
        ui.export_json.on_click(lambda _: self.export(f"{self.conversation_name}.json"))

    def _on_compare(self, change: dict[str, Any]) -> None:
        self.ui.compare_models.layout.display = "" if change["new"] else "none"
        self._models.sync()

    # -- sending --------------------------------------------------------------------------------

    def _start(self) -> asyncio.Task[Any] | None:
        ui = self.ui
        prompt = ui.prompt.value
        if not prompt.strip():
            ui.thread_status.value = "<small style='color:#b00'>empty prompt: nothing sent</small>"
            return None
        if self.busy:
            ui.thread_status.value = "<small style='color:#b00'>still answering: press Stop first</small>"
            return None
        problems = ui.params.problems()
        if problems:
            said = html.escape("; ".join(problems))
            ui.thread_status.value = f"<small style='color:#b00'>nothing sent: {said}</small>"
            return None
        loop = _loop()
        if loop is None:
            ui.thread_status.value = "<small style='color:#b00'>no running event loop</small>"
            return None
        media = [(bytes(f["content"]), f["name"]) for f in ui.upload.value]
        ui.prompt.value = ""
        ui.upload.value = ()
        self._stopping = False
        coro = self._compare(prompt, media) if ui.compare.value else self._chat(prompt, media)
        self._task = loop.create_task(coro)
        ui.send.disabled, ui.stop.disabled = True, False
        self._task.add_done_callback(self._on_done)
        return self._task

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        if task is self._task:
            self.ui.send.disabled, self.ui.stop.disabled = False, True
        if not task.cancelled() and task.exception() is not None:
            self._transcript.show_status()  # the error itself is in the transcript

    async def _plan(self, prompt: str, media: list[Any], view: AnswerView, **changes: Any) -> Any:
        """Plan the turn; a failure is shown in `view` and raised."""
        await self._models.loaded()  # the first send right after construction waits for the listing
        try:
            return await plan_turn(
                prompt,
                self.options().replace(**changes),
                surface="panel",
                key=self._key.key,
                media=media,
                notify=view.notice,
            )
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            view.error(describe(exc, surface="panel", provider=self._models.provider, key=self._key.key))
            raise

    async def _chat(self, prompt: str, media: list[Any]) -> str:
        with replay_scope(self.options()):  # planning (a model listing) too
            return await self._chat_turn(prompt, media)

    async def _chat_turn(self, prompt: str, media: list[Any]) -> str:
        view = AnswerView()
        self._transcript.start_turn(user_turn(prompt, len(media)), view)
        try:
            plan = await self._plan(prompt, media, view)
            confirm = AskButtons(view) if plan.options.confirm else None
            turn = Turn(
                plan,
                view,
                throttle=plan.options.throttle,
                confirm=confirm,
                recording=self._transcript.recording,
            )
            result = await turn.run()
        finally:
            self._transcript.end_turn()
        self._transcript.show_status()
        self._reraise([result.outcome])
        if result.outcome == FAILED and result.exception is not None:
            raise result.exception
        return result.answer

    async def _compare(self, prompt: str, media: list[Any]) -> dict[str, str]:
        with replay_scope(self.options()):
            return await self._compare_turns(prompt, media)

    async def _compare_turns(self, prompt: str, media: list[Any]) -> dict[str, str]:
        models = list(self.ui.compare_models.value)
        if len(models) < 2:
            self.ui.thread_status.value = "<small style='color:#b00'>compare: pick two or more models</small>"
            return {}
        self._transcript.append(user_turn(prompt, len(media)))
        columns = [AnswerView(title=m, layout=widgets.Layout(flex="1 1 0", min_width="0")) for m in models]
        row = widgets.HBox(columns, layout=widgets.Layout(width="100%"))
        row.add_class("openai-magic-columns")
        self._transcript.append(row)
        plan = await self._plan(prompt, media, columns[0], image=False, model=models[0])
        turns = [
            Turn(
                plan.with_model(m),
                view,
                throttle=plan.options.throttle,
                record=False,
                surface="compare",
                confirm=AskButtons(view) if plan.options.confirm else None,
            )
            for view, m in zip(columns, models, strict=True)
        ]
        results = await compare(turns)
        self._reraise([r.outcome for r in results])
        failures = [r.exception for r in results if r.outcome == FAILED and r.exception is not None]
        if failures and len(failures) == len(results):
            raise failures[0]
        return {m: r.answer for m, r in zip(models, results, strict=True)}

    def _reraise(self, outcomes: list[str]) -> None:
        """A cancellation that did not come from Stop (e.g. the awaiting cell was interrupted) goes on."""
        if INTERRUPTED in outcomes and not self._stopping:
            raise asyncio.CancelledError


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
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", markup)).strip()


__all__ = ["ChatPanel"]
