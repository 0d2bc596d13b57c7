"""One turn engine for the magics and the panel: each bug the two drifted copies had, tested where it lived.

Kernel bugs are tested in a real kernel; panel bugs against ChatPanel on the test's event loop.
"""

from __future__ import annotations

import asyncio
import html
import json

import pytest
from envs import kernel_env
from magics_kernel import Kernel, demo_kernel, ok, usage_error

from openai_magic import ChatPanel
from openai_magic.notebook.conversation import get_conversation

pytestmark = [pytest.mark.kernel, pytest.mark.timing]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory, demo_server):
    with demo_kernel(tmp_path_factory.mktemp("engine"), demo_server.base_url) as k:
        yield k


THREAD = "__import__('openai_magic.notebook.conversation', fromlist=['x']).get_conversation({name!r})"


def test_an_image_model_named_with_m_fills_o_and_records_no_empty_turn(kernel) -> None:
    cell = ok(kernel.run("%chat -c pics -m demo-image -o pic a red square"))
    assert any("image/png" in data for data, _ in cell.displays)
    assert kernel.value("type(pic).__name__") == "bytes" and kernel.value("pic[:4] == b'\\x89PNG'")
    assert kernel.value(f"len({THREAD.format(name='pics')}.entries)") == 0


def test_image_flag_wins_over_a_configured_chat_model(kernel) -> None:
    ok(kernel.run("%config ChatMagics.model = 'demo-chat'"))
    try:
        cell = ok(kernel.run("%%chat --image -o pic2\na blue circle"))
    finally:
        ok(kernel.run("%config ChatMagics.model = None"))
    images = [md for data, md in cell.displays if "image/png" in data]
    assert images and images[0]["openai_magic"]["model"] == "demo-image"
    assert not cell.markdown.strip() and kernel.value("pic2[:4] == b'\\x89PNG'")


def test_an_image_request_uses_the_model_named_on_its_line(kernel) -> None:
    """`-m X --image` asks X for the image even when X is a chat model (the server then says so);
    only a configured default model is replaced by the provider's image model."""
    cell = kernel.run("%chat -m demo-chat --image -o pic3 a green square")
    assert "does not support image requests" in cell.stderr + cell.stdout
    assert not any("image/png" in data for data, _ in cell.displays)


async def test_an_image_model_the_listing_does_not_mark_is_used_when_named() -> None:
    """A server listing models without a `type` field (most local servers): `-m` names the image model."""
    from core_support import HostileServer, http_reply

    from openai_magic.notebook.options import ChatOptions
    from openai_magic.notebook.plan import NoModelError, plan_turn

    listing = {"object": "list", "data": [{"id": "chatty"}, {"id": "hidream-i1"}]}
    async with HostileServer(lambda request: http_reply(200, listing)) as server:
        named = ChatOptions(provider=server.base_url, model="hidream-i1", image=True, log=False)
        plan = await plan_turn("a cat", named, surface="magic", notify=lambda _: None, model_given=True)
        assert (plan.model, plan.image) == ("hidream-i1", True)
        assert plan.provider.is_image_model("hidream-i1")  # so the core sends an image request
        with pytest.raises(NoModelError):  # a configured model is not taken for an image model
            await plan_turn("a cat", named, surface="magic", notify=lambda _: None)


def test_no_history_turns_stay_out_of_the_thread(kernel) -> None:
    ok(kernel.run("%chat --new -c lone hi"))
    big = "x " * 100_000
    ok(kernel.run(f"%chat -c lone --no-history {big}"))
    after = ok(kernel.run("%chat -c lone and now?"))
    assert "I saw 3 messages" in after.markdown  # hi, its answer, and this one: not the big prompt
    assert after.meta["usage"]["prompt_tokens"] < 1000


def test_a_turn_from_the_magics_appears_live_in_a_panel_in_the_same_kernel(kernel, demo_server) -> None:
    ok(kernel.run("p = __import__('openai_magic').ChatPanel(conversation='planning')"))
    assert kernel.value("len(p.ui.transcript.children)") == 0
    ok(kernel.run("%chat -c planning plan my week"))
    assert kernel.value("len(p.ui.transcript.children)") == 2
    assert kernel.value("p.ui.thread_status.value") == "<small>2 messages</small>"


def test_only_openai_base_url_set_works_in_magics_and_panel(tmp_path, demo_server) -> None:
    k = Kernel(tmp_path, OPENAI_BASE_URL=demo_server.base_url)
    try:
        ok(k.run("%load_ext openai_magic"))
        assert "I saw 1 message" in ok(k.run("%chat -m demo-chat hello")).markdown
        cell = ok(
            k.run(
                "from openai_magic import ChatPanel\np = ChatPanel(model='demo-chat')\n"
                "text = await p.send('hello from the panel')\nprint(p.provider_label, '|', 'I saw' in text)"
            )
        )
        assert "(environment)" not in cell.stdout and "MissingAuthError" not in cell.everything
        assert cell.stdout.strip() == "OpenAI-compatible | True"
        # No model named: a local server has no gpt-4o-mini, so the first model it lists answers.
        unnamed = ok(k.run("%chat -c unnamed hello"))
        assert "Using model demo-chat (the first the server lists" in unnamed.stdout
        assert unnamed.meta["model"] == "demo-chat"
        ok(k.run("q = ChatPanel(conversation='unnamed-panel')\nawait q.models_loaded()\nprint(q.model)"))
        assert k.value("q.model") == "demo-chat" and "I saw" in k.value("await q.send('hello')")
    finally:
        k.close()


def test_error_lines_fit_and_name_what_to_fix(kernel) -> None:
    refused = ok(kernel.run("%chat -p http://user:pa55word@127.0.0.1:9/v1 -m x hi"))
    line = refused.stderr.strip()
    assert line.startswith("APIConnectionError: ") and "http://127.0.0.1:9/v1" in line
    shown = json.dumps([m["content"] for m in refused.of("stream", "display_data", "update_display_data")])
    assert "pa55word" not in shown and "user:" not in shown  # the cell's own source holds them, no output
    message = usage_error(kernel.run("%chat_history -c typo"))
    assert message.startswith("No thread 'typo'. Known threads: ")


# -- the panel --------------------------------------------------------------------------------------


@pytest.mark.panel
async def test_the_first_send_right_after_construction_answers(demo_server):
    panel = ChatPanel(provider=demo_server.base_url, conversation="first-send")
    assert panel.model is None  # the listing is still in progress
    text = await panel.send("hi")
    assert "I saw 1 message" in text and panel.model == "demo-chat"


@pytest.mark.panel
async def test_an_image_model_in_the_panel_shows_the_image_and_records_no_turn(demo_server):
    panel = ChatPanel(provider=demo_server.base_url, model="demo-image", conversation="panel-pics")
    await panel.send("a red square")
    answer = panel.ui.transcript.children[-1]
    assert "<img" in answer.images.value and panel.conversation.entries == []


@pytest.mark.panel
async def test_held_back_text_shows_while_the_server_stalls(demo_server):
    panel = ChatPanel(
        provider=demo_server.base_url,
        conversation="stall",
        headers={"X-Demo-Fault": "stall;after=5;seconds=60"},
    )
    pending = asyncio.ensure_future(panel.send("Pause here"))
    await panel.models_loaded()
    while len(panel.ui.transcript.children) < 2 or "Pause" not in panel.ui.transcript.children[1].text_html:
        await asyncio.sleep(0.01)  # bounded by pytest-timeout; the stall lasts 60 s
    view = panel.ui.transcript.children[1]
    assert panel.busy and view.footer_line.value == ""  # shown during the stall, not at the end
    assert "<h2>" in view.text_html and "<h2></h2>" not in view.text_html
    panel.stop()
    await pending


@pytest.mark.panel
async def test_turns_added_elsewhere_appear_in_every_panel_on_the_thread(demo_server):
    one = ChatPanel(provider=demo_server.base_url, conversation="live")
    two = ChatPanel(provider=demo_server.base_url, conversation="live")
    get_conversation("live").add_turn("from %%chat", "an answer", model="demo-chat")
    assert len(one.ui.transcript.children) == len(two.ui.transcript.children) == 2
    await one.send("and from a panel")
    assert len(one.ui.transcript.children) == 4 and len(two.ui.transcript.children) == 4
    assert two.ui.thread_status.value == "<small>4 messages</small>"
    one.clear_conversation()
    assert two.ui.transcript.children == ()


@pytest.mark.panel
async def test_a_turn_added_while_a_panel_streams_appears_there_in_the_thread_order(demo_server):
    """Panel `slow` streams; meanwhile `fast` (same thread) answers: `slow` shows that turn too, before
    its own, as the thread has them."""
    slow_prompt = "[demo tokens=400] [demo pace=0.05] slow one"  # 20 s: stopped once `fast` answered
    slow = ChatPanel(provider=demo_server.base_url, model="demo-chat", conversation="overlap")
    fast = ChatPanel(provider=demo_server.base_url, model="demo-chat", conversation="overlap")
    slow.ui.prompt.value = slow_prompt
    streaming = slow._start()
    assert streaming is not None
    children = slow.ui.transcript
    while len(children.children) < 2 or not children.children[1].text_html:  # the slow answer began
        await asyncio.sleep(0.01)
    await fast.send("[demo tokens=3] fast one")
    assert not streaming.done()
    slow.stop()
    await streaming
    thread = get_conversation("overlap").entries
    assert [e.content for e in thread if e.role == "user"] == ["[demo tokens=3] fast one", slow_prompt]
    shown = [w.text_html if hasattr(w, "text_html") else w.value for w in children.children]
    assert len(shown) == 4 and "fast one" in shown[0] and "slow one" in shown[2]
    assert slow.ui.thread_status.value == "<small>4 messages</small>"


@pytest.mark.panel
async def test_panel_fields_and_keywords(demo_server):
    demo = ChatPanel(provider="demo", conversation="fields")
    assert demo.key_status == "no key needed"
    assert demo.ui.params["max_tokens"].text.value == ""  # unset shows blank, like seed
    with pytest.raises(TypeError, match="unexpected keyword argument 'format'"):
        ChatPanel(format="markdown")
    with pytest.raises(TypeError, match="did you mean temperature"):
        ChatPanel(temprature=0.2)
    with pytest.raises(ValueError, match="temperature must be between 0 and 2"):
        ChatPanel(temperature=5)
    custom = ChatPanel(provider="demo", conversation="fields")
    custom.ui.provider.value = "custom base URL"
    assert "Error" not in custom.ui.models_status.value and "#b00" not in custom.ui.models_status.value


@pytest.mark.panel
@pytest.mark.parametrize(
    ("typed", "said"),
    [("0", "max tokens: must be at least 1, not 0"), ("100k", "max tokens: a whole number, not '100k'")],
)
async def test_a_number_field_the_panel_cannot_send_is_said_and_nothing_is_sent(demo_server, typed, said):
    panel = ChatPanel(provider=demo_server.base_url, model="demo-chat", conversation=f"bad-field-{typed}")
    field = panel.ui.params["max_tokens"]
    field.text.value = typed  # as the front end sends it
    assert html.escape(said.removeprefix("max tokens: ")) in field.hint.value
    with pytest.raises(ValueError, match=said):
        await panel.send("hello")
    assert panel.conversation.entries == [] and panel.ui.prompt.value == "hello"  # the prompt is kept
    field.text.value = "5"
    assert field.hint.value == "" and panel.options().max_tokens == 5 and await panel.send()


@pytest.mark.panel
async def test_missing_key_in_the_panel_points_to_the_key_field(monkeypatch):
    from openai_magic.core import errors

    panel = ChatPanel(provider="openai", model="gpt-4o-mini", conversation="no-key")
    with pytest.raises(errors.MissingAuthError):
        await panel.send("hi")
    line = panel.ui.transcript.children[-1].error_line.value
    assert "type it into the key field or set OPENAI_API_KEY" in line and "%chat_key" not in line


def test_kernel_env_has_no_real_keys() -> None:
    assert not any(name.endswith("_API_KEY") for name in kernel_env())
