"""ChatPanel driven from Python against the embedded server: widgets set, buttons clicked, tasks awaited."""

from __future__ import annotations

import asyncio
import base64
import json

import ipywidgets as widgets
import pytest
from conftest import SENTINEL_KEY

from openai_magic import ChatPanel
from openai_magic.notebook.conversation import get_conversation
from openai_magic.notebook.panel_answer import AnswerView, _safe_parser
from openai_magic.notebook.panel_prompt import PromptBox

PACED = "[demo tokens=2000] [demo pace=0.01]"
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

pytestmark = [pytest.mark.panel, pytest.mark.timing]


def answers(panel: ChatPanel) -> list[AnswerView]:
    """Every AnswerView in the transcript, in order (compare columns flattened)."""
    found: list[AnswerView] = []
    for child in panel.ui.transcript.children:
        if isinstance(child, AnswerView):
            found.append(child)
        elif isinstance(child, widgets.HBox):
            found.extend(c for c in child.children if isinstance(c, AnswerView))
    return found


def tree(widget: widgets.Widget) -> list[widgets.Widget]:
    """The widget and every widget it references (children, layout, style)."""
    seen: dict[str, widgets.Widget] = {}
    stack = [widget]
    while stack:
        current = stack.pop()
        if current.model_id in seen:
            continue
        seen[current.model_id] = current
        for name in current.keys:
            value = getattr(current, name)
            values = value if isinstance(value, (list, tuple)) else [value]
            stack.extend(v for v in values if isinstance(v, widgets.Widget))
    return list(seen.values())


def classes(panel: ChatPanel) -> set[str]:
    return {cls for w in tree(panel.widget) for cls in getattr(w, "_dom_classes", ())}


async def loaded(panel: ChatPanel) -> ChatPanel:
    await panel.models_loaded()
    return panel


async def until(predicate, step: float = 0.01) -> None:
    """Yield to the loop until `predicate()` holds (pytest-timeout bounds it)."""
    while not predicate():
        await asyncio.sleep(step)


@pytest.fixture
def make_panel(demo_server):
    def make(**kwargs) -> ChatPanel:
        kwargs.setdefault("provider", demo_server.base_url)
        return ChatPanel(**kwargs)

    return make


async def test_layout_has_stable_css_classes_and_displays(make_panel):
    panel = await loaded(make_panel(conversation="layout"))
    expected = {
        "openai-magic-panel",
        "openai-magic-prompt",
        "openai-magic-send",
        "openai-magic-stop",
        "openai-magic-transcript",
        "openai-magic-compare",
    }
    assert expected <= classes(panel)
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    assert panel.provider_label.startswith("http://127.0.0.1:")
    assert bundle["text/plain"] == (
        f"<ChatPanel provider={panel.provider_label!r} model='demo-chat' no key (optional)>"
    )
    assert panel.ui.stop.disabled and not panel.ui.send.disabled


async def test_model_list_loads_in_background_with_image_models_marked(make_panel):
    panel = make_panel(conversation="models")
    assert "loading" in panel.ui.models_status.value  # the constructor returned before the list arrived
    await loaded(panel)
    labels = dict(panel.ui.model.options)
    assert labels["demo-image 🖼"] == "demo-image"
    assert labels["demo-chat"] == "demo-chat"
    assert panel.model == "demo-chat"
    assert "5 models" in panel.ui.models_status.value
    panel.ui.refresh.click()
    assert "loading" in panel.ui.models_status.value
    await loaded(panel)
    assert dict(panel.ui.model.options) == labels


async def test_model_list_error_shows_inline():
    panel = ChatPanel(provider="http://127.0.0.1:9/v1", conversation="models-error")
    await loaded(panel)
    assert "Error" in panel.ui.models_status.value
    assert panel.ui.model.options == ()


async def test_send_button_streams_blocks_and_records_history(make_panel):
    panel = await loaded(make_panel(conversation="send"))
    panel.ui.prompt.value = "Hello there"
    panel.ui.send.click()
    assert panel.busy and panel.ui.send.disabled and not panel.ui.stop.disabled
    text = await panel.task
    assert panel.ui.prompt.value == ""
    (view,) = answers(panel)
    assert len(view.blocks.children) == 1  # once complete: one rendering of the whole answer
    assert "<h" in view.text_html and "<table>" in view.text_html
    assert "demo-chat" in view.footer_line.value
    assert view.error_line.value == ""
    assert not panel.ui.send.disabled and panel.ui.stop.disabled
    conversation = get_conversation("send")
    assert conversation is panel.conversation
    assert [m["role"] for m in conversation.messages] == ["user", "assistant"]
    assert conversation.messages[-1]["content"] == text


async def test_streaming_is_block_wise(make_panel, monkeypatch):
    """Settled parts are set once and left alone; once complete the answer is one rendering of the whole."""
    calls: list[int] = []
    show_blocks = AnswerView.show_blocks

    def record(self: AnswerView, changes: list[tuple[int, str]]) -> None:
        calls.extend(index for index, _ in changes)
        show_blocks(self, changes)

    monkeypatch.setattr(AnswerView, "show_blocks", record)
    panel = await loaded(make_panel(conversation="blocks"))
    text = await panel.send("long [demo tokens=400] [demo pace=0.001]")
    (view,) = answers(panel)
    assert len(set(calls)) > 10  # streamed as many parts
    assert calls == sorted(calls)  # never back to an earlier part
    assert view.text_html == _safe_parser().render(text) and len(view.blocks.children) == 1


def front_end_update(widget: widgets.Widget, state: dict) -> None:
    """Deliver a comm "update" message as the front end sends it (the real ipywidgets entry point)."""
    data = {"method": "update", "state": state, "buffer_paths": []}
    widget._handle_msg({"content": {"data": data}, "buffers": []})


def shift_enter(prompt: PromptBox, text: str) -> None:
    """What Shift+Enter in the text area sends: the text and a raised submit count, in one update."""
    front_end_update(prompt, {"value": text, "_submits": prompt._submits + 1})


async def test_shift_enter_sends_like_the_button(make_panel):
    """Shift+Enter in the front end: the Send path runs, the answer streams into the thread."""
    panel = await loaded(make_panel(conversation="shift-enter"))
    prompt = panel.ui.prompt
    assert isinstance(prompt, PromptBox) and "openai-magic-prompt" in prompt._dom_classes
    assert "openai-magic-prompt-input" in prompt._esm and "shiftKey" in prompt._esm
    shift_enter(prompt, "Hello from Shift+Enter")
    assert panel.busy and panel.ui.send.disabled and prompt.value == ""
    text = await panel.task
    (view,) = answers(panel)
    assert text and view.text_html == _safe_parser().render(text)
    assert "demo-chat" in view.footer_line.value and view.error_line.value == ""
    assert "Hello from Shift+Enter" in panel.ui.transcript.children[0].value
    messages = get_conversation("shift-enter").messages
    assert [m["content"] for m in messages] == ["Hello from Shift+Enter", text]


async def test_typing_alone_sends_nothing_and_an_empty_shift_enter_is_refused(make_panel):
    panel = await loaded(make_panel(conversation="shift-enter-empty"))
    prompt = panel.ui.prompt
    front_end_update(prompt, {"value": "typed, not sent"})  # each input syncs the value
    assert prompt.value == "typed, not sent" and panel.task is None
    front_end_update(prompt, {"value": ""})
    shift_enter(prompt, "  \n ")
    assert panel.task is None and "empty prompt" in panel.ui.thread_status.value


async def test_shift_enter_while_answering_keeps_the_text(make_panel):
    panel = await loaded(make_panel(conversation="shift-enter-busy"))
    first = asyncio.ensure_future(panel.send(f"first {PACED}"))
    await until(lambda: panel.busy)
    shift_enter(panel.ui.prompt, "second")
    assert panel.ui.prompt.value == "second" and "still answering" in panel.ui.thread_status.value
    panel.stop()
    await first


async def test_history_carries_over_and_is_shared_with_magics(make_panel):
    panel = await loaded(make_panel(conversation="shared"))
    await panel.send("first")
    second = await panel.send("second")
    assert "I saw 3 messages" in second  # the demo model reports how many messages it saw
    assert len(get_conversation("shared").messages) == 4
    other = await loaded(make_panel(conversation="shared"))
    assert other.conversation is panel.conversation
    assert len(answers(other)) == 2  # a panel opened on a thread shows its history


async def test_stop_keeps_partial_answer_marked_interrupted(make_panel):
    panel = await loaded(make_panel(conversation="stop"))
    panel.ui.prompt.value = f"Write a lot {PACED}"
    panel.ui.send.click()
    await until(lambda: bool(answers(panel)) and len(answers(panel)[0].blocks.children) > 0)
    panel.ui.stop.click()
    partial = await panel.task
    assert partial
    (view,) = answers(panel)
    assert "interrupted" in view.error_line.value
    assert not panel.ui.send.disabled
    last = panel.conversation.entries[-1]
    assert last.role == "assistant" and last.content == partial and last.interrupted


async def test_compare_streams_side_by_side_with_separate_footers(make_panel):
    panel = await loaded(make_panel(conversation="compare", compare=["demo-chat", "demo-think"]))
    assert panel.ui.compare.value
    assert panel.ui.compare_models.value == ("demo-chat", "demo-think")
    result = await panel.send("Compare me")
    assert set(result) == {"demo-chat", "demo-think"}
    (row,) = [c for c in panel.ui.transcript.children if isinstance(c, widgets.HBox)]
    assert "openai-magic-columns" in row._dom_classes
    left, right = answers(panel)
    assert "demo-chat" in left.footer_line.value and "demo-think" in right.footer_line.value
    assert left.text_html and right.text_html
    assert "The user asks" not in right.text_html and "think&gt;" not in right.text_html  # reasoning apart
    assert "<details" in right.reasoning_box.value


async def test_stop_in_compare_mode_stops_every_column(make_panel):
    panel = await loaded(make_panel(conversation="compare-stop", compare=["demo-chat", "demo-reasoner"]))
    pending = asyncio.ensure_future(panel.send(f"Long {PACED}"))
    await until(lambda: len(answers(panel)) == 2 and all(v.blocks.children for v in answers(panel)))
    panel.stop()
    result = await pending
    assert all(result.values())
    for view in answers(panel):
        assert "interrupted" in view.error_line.value and view.footer_line.value


async def test_two_panels_stream_at_once(make_panel):
    one = await loaded(make_panel(conversation="two-a"))
    two = await loaded(make_panel(conversation="two-b"))
    first = asyncio.ensure_future(one.send("one [demo tokens=30] [demo pace=0.005]"))
    second = asyncio.ensure_future(two.send("two [demo tokens=30] [demo pace=0.005]"))
    await until(lambda: one.busy and two.busy)
    a, b = await asyncio.gather(first, second)
    assert a and b
    assert len(one.conversation.messages) == len(two.conversation.messages) == 2


async def test_unknown_model_error_shows_inline_and_send_raises(make_panel):
    from openai_magic.core import errors

    panel = await loaded(make_panel(conversation="unknown", model="no-such-model"))
    assert panel.model == "no-such-model"
    with pytest.raises(errors.ModelNotFoundError):
        await panel.send("hi")
    (view,) = answers(panel)
    assert "ModelNotFoundError" in view.error_line.value
    assert "Traceback" not in view.error_line.value


async def test_image_mode_renders_images_inline(make_panel):
    panel = await loaded(make_panel(conversation="image"))
    panel.ui.params["image"].value = True
    await panel.send("a red square")
    (view,) = answers(panel)
    assert "<img" in view.images.value and "a red square" in view.images.value
    assert view.error_line.value == ""
    assert panel.conversation.entries == []  # an image is not a turn of the chat thread


async def test_upload_attaches_media(make_panel):
    panel = await loaded(make_panel(conversation="media"))
    panel.ui.upload.set_state(
        {
            "value": [
                {"name": "dot.png", "type": "image/png", "size": len(PNG), "content": PNG, "last_modified": 0}
            ]
        }
    )
    answer = await panel.send("what is attached?")
    assert "image/png" in answer
    assert panel.ui.upload.value == ()


async def test_parameters_and_system_prompt_are_sent(make_panel):
    panel = await loaded(
        make_panel(conversation="params", temperature=0.3, seed=7, max_tokens=3, system="Be brief.")
    )
    options = panel.options()
    assert (options.temperature, options.top_p, options.max_tokens, options.seed) == (0.3, None, 3, 7)
    assert options.system == "Be brief." and options.conversation == "params"
    assert not hasattr(options, "api_key")  # options never hold a key
    answer = await panel.send("hello")
    assert answer and len(answer.split()) <= 4  # max_tokens=3 reached the server: three chunks
    (view,) = answers(panel)
    assert view.error_line.value == ""


async def test_conversation_new_switch_clear_export(make_panel, tmp_path):
    panel = await loaded(make_panel(conversation="threads"))
    await panel.send("remember me")
    name = panel.new_conversation()
    assert name != "threads" and panel.conversation.messages == []
    assert panel.ui.transcript.children == ()
    panel.ui.thread.value = "threads"
    assert panel.conversation_name == "threads" and len(panel.conversation.messages) == 2
    (view,) = answers(panel)  # the thread's history is shown again
    assert view.text_html == _safe_parser().render(panel.conversation.messages[-1]["content"])
    md = panel.export(tmp_path / "t.md")
    assert "remember me" in md.read_text()
    data = json.loads(panel.export(tmp_path / "t.json").read_text())
    assert "remember me" in json.dumps(data)
    panel.ui.clear.click()
    assert panel.conversation.messages == [] and panel.ui.transcript.children == ()


async def test_empty_prompt_is_not_sent(make_panel):
    panel = await loaded(make_panel(conversation="empty"))
    panel.ui.prompt.value = "   "
    panel.ui.send.click()
    assert panel.task is None and "empty prompt" in panel.ui.thread_status.value


def all_widget_states() -> str:
    from ipywidgets.widgets.widget import _instances

    return json.dumps([w.get_state() for w in list(_instances.values())], default=repr)


async def test_typed_key_never_reaches_widget_state(keyed_server, key_store):
    panel = ChatPanel(provider=keyed_server.base_url, conversation="typed-key")
    await loaded(panel)
    assert "AuthenticationError" in panel.ui.models_status.value
    assert panel.key_status == "no key (optional)"
    password = next(w for w in tree(panel.widget) if isinstance(w, widgets.Password))
    sent: list[dict] = []
    send = password._send
    password._send = lambda msg, buffers=None: (sent.append(msg), send(msg, buffers))
    password.set_state({"value": SENTINEL_KEY})  # as the front end sends it on Enter
    assert password.value == ""
    assert sent == [{"method": "update", "state": {"value": ""}, "buffer_paths": []}]  # no echo of the key
    assert panel.key_status == "key set (typed in panel)"
    panel.ui.refresh.click()
    await loaded(panel)
    answer = await panel.send("hello with a key")
    assert answer and answers(panel)[0].error_line.value == ""
    assert SENTINEL_KEY not in all_widget_states()
    assert SENTINEL_KEY not in repr(panel)


async def test_key_argument_never_reaches_widget_state(keyed_server):
    panel = await loaded(
        ChatPanel(provider=keyed_server.base_url, api_key=SENTINEL_KEY, conversation="arg-key")
    )
    assert panel.key_status == "key set (passed to ChatPanel)"
    await panel.send("hello")
    assert SENTINEL_KEY not in all_widget_states()
    assert SENTINEL_KEY not in repr(panel) and SENTINEL_KEY not in str(panel._repr_mimebundle_())


async def test_key_kept_by_chat_key_serves_a_panel_made_in_python(keyed_server, key_store):
    from openai_magic.notebook.plan import resolve_provider

    key_store.remember(resolve_provider(keyed_server.base_url)[0], SENTINEL_KEY)  # what %chat_key does
    panel = await loaded(ChatPanel(provider=keyed_server.base_url, conversation="stored-key"))
    assert panel.key_status == "key set (kept in kernel memory by %chat_key)"
    assert await panel.send("hello with the stored key")
    assert answers(panel)[0].error_line.value == ""
    assert SENTINEL_KEY not in all_widget_states() and SENTINEL_KEY not in repr(panel)


async def test_key_typed_in_the_panel_is_kept_for_the_magics(keyed_server, key_store):
    from openai_magic.notebook.plan import resolve_provider

    panel = ChatPanel(provider=keyed_server.base_url, conversation="shared-key")
    await loaded(panel)
    password = next(w for w in tree(panel.widget) if isinstance(w, widgets.Password))
    password.set_state({"value": SENTINEL_KEY})
    stored = key_store.lookup(resolve_provider(keyed_server.base_url)[0])
    assert stored is not None and stored.reveal() == SENTINEL_KEY and SENTINEL_KEY not in repr(stored)


async def test_key_status_from_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)
    panel = ChatPanel(provider="OpenAI", conversation="env-key")
    assert panel.key_status == "key set from OPENAI_API_KEY"
    assert SENTINEL_KEY not in all_widget_states()
    monkeypatch.delenv("OPENAI_API_KEY")
    panel.ui.provider.value = "OpenAI"
    assert panel.key_status == "no key"


def test_send_click_in_a_real_kernel_does_not_block_it(demo_server):
    """In ipykernel a Send click (a comm message) starts a task on the kernel's loop; %chat continues it."""
    import jupyter_client

    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:

        def run(code: str) -> str:
            msg_id = kc.execute(code)
            out: list[str] = []
            while True:
                msg = kc.get_iopub_msg(timeout=60)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                elif msg["msg_type"] in ("display_data", "update_display_data"):
                    out.append(msg["content"]["data"].get("text/markdown", ""))
                elif msg["msg_type"] == "error":
                    out.append("\n".join(msg["content"]["traceback"]))
                elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    return "".join(out)

        send_id = run(
            "from openai_magic import ChatPanel\n"
            f"p = ChatPanel(provider={demo_server.base_url!r}, conversation='kernel')\n"
            "await p.load_models()\n"
            f"p.ui.prompt.value = 'hi {PACED}'\n"
            "print(p.ui.send.model_id)"
        ).strip()
        click = {"comm_id": send_id, "data": {"method": "custom", "content": {"event": "click"}}}
        kc.shell_channel.send(kc.session.msg("comm_msg", click))
        # The kernel answers the next cell while the answer streams (2000 chunks, 0.01 s apart).
        assert run("import asyncio\nawait asyncio.sleep(0.3)\nprint(p.busy)").strip() == "True"
        assert (
            run("print(len(p.conversation.messages) == 0 and len(p.ui.transcript.children))").strip() == "2"
        )
        out = run(
            "p.stop()\ntext = await p.task\nprint(len(text) > 0, p.conversation.entries[-1].interrupted)"
        )
        assert out.strip() == "True True"
        # The magics continue the panel's thread: user + partial answer, then this prompt.
        assert "I saw 3 messages" in run(
            f"%load_ext openai_magic\n%chat -c kernel -p {demo_server.base_url} And now"
        )
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


async def test_provider_dropdown_and_custom_base_url(demo_server):
    panel = await loaded(ChatPanel(provider="ollama", conversation="custom-url"))
    assert panel.ui.provider.value == "Ollama" and panel.ui.base_url.layout.display == "none"
    assert "Error" in panel.ui.models_status.value  # nothing listens on Ollama's port here
    panel.ui.provider.value = "custom base URL"
    assert panel.ui.base_url.layout.display == ""
    panel.ui.base_url.value = demo_server.base_url
    await loaded(panel)
    assert panel.provider_label == demo_server.base_url and panel.model == "demo-chat"
    assert "5 models" in panel.ui.models_status.value
    assert await panel.send("hello from a custom URL")


def test_code_blocks_are_highlighted_and_stay_escaped():
    view = AnswerView()
    view.block(0, '```python\ndef f(x):\n    return "<script>" + x\n```\n')
    block = view.text_html
    assert '<span style="' in block and ">def</span>" in block  # Pygments colours, inline (no stylesheet)
    assert "<script>" not in block and "&lt;script&gt;" in block
    view.block(1, "```no-such-language\n<b>raw</b>\n```\n")
    assert "<b>raw</b>" not in view.text_html and "&lt;b&gt;raw&lt;/b&gt;" in view.text_html


async def test_a_long_answer_streams_in_bounded_containers_one_widget_per_part(make_panel):
    """A container re-sends its whole children list on every change: parts go in groups of GROUP, and
    share one Layout and Style, so an answer of many blocks costs linear comm bytes."""
    from ipywidgets.widgets.widget import _instances

    from openai_magic.notebook.panel_answer import GROUP

    panel = await loaded(make_panel(conversation="groups"))
    widest: list[int] = []
    parts: set[int] = set()
    original = AnswerView.show_blocks

    def show_blocks(self: AnswerView, changes: list[tuple[int, str]]) -> None:
        original(self, changes)
        parts.update(id(part) for part, _, _ in self._pieces.values())
        widest.append(max([len(self.blocks.children)] + [len(g.children) for g in self.blocks.children]))

    before = len(_instances)
    AnswerView.show_blocks = show_blocks  # type: ignore[method-assign]
    try:
        await panel.send("[demo tokens=1500] [demo pace=0.0005] many blocks")
    finally:
        AnswerView.show_blocks = original  # type: ignore[method-assign]
    assert len(parts) > 3 * GROUP and max(widest) <= max(GROUP, len(parts) // GROUP + 1)
    created = len(_instances) - before
    assert created < 1.3 * len(parts) + 40  # about one widget per part (not three), plus the turn's own


def test_blocks_settled_in_one_update_share_one_widget_and_render_the_same():
    """A fast server settles many blocks between two updates: they become one part, the growing block
    its own, and updates of that block re-send only it. The view reads as the blocks rendered apart."""
    from openai_magic.notebook.blocks import split_blocks
    from openai_magic.notebook.render import StreamRenderer

    view = AnswerView()
    renderer = StreamRenderer(view, throttle=0)
    text = "".join(f"## Part {i}\n\nParagraph {i} with `code`.\n\n" for i in range(30)) + "Still growing"
    renderer.add(text)
    part_widgets = [part for group in view.blocks.children for part in group.children]
    blocks = split_blocks(text)
    assert len(blocks) == 61 and len(part_widgets) == 2
    assert view.text_html == "".join(_safe_parser().render(b) for b in blocks)
    growing = part_widgets[1]
    sent: list[str] = []
    growing.observe(lambda change: sent.append(change["new"]), "value")
    settled_before = part_widgets[0].value
    renderer.add(" and growing")
    assert sent == [_safe_parser().render("Still growing and growing")]
    assert part_widgets[0].value == settled_before
    renderer.add("\n\n- a new list\n")
    assert len([p for g in view.blocks.children for p in g.children]) == 3
    assert view.text_html == "".join(_safe_parser().render(b) for b in split_blocks(renderer.answer))
