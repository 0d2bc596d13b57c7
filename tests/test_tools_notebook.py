"""Tools from the notebook: `%%chat --tools` in a real kernel, `ChatPanel(tools=[...])` on the loop.

Against the demo backend's `demo-tools` model and a strict loopback server that speaks OpenAI's
tool-call protocol (and refuses a history that breaks it).
"""

from __future__ import annotations

import asyncio

import pytest
from magics_kernel import demo_kernel, ok, usage_error
from tool_protocol_server import ToolProtocolServer, call, say

from openai_magic import ChatPanel

pytestmark = [pytest.mark.kernel, pytest.mark.timing]

TOOLS = '''
import asyncio, threading, time
from IPython.display import Markdown, display

def population(city: str) -> int:
    """The population of a city."""
    print(f"looking up {city}")
    display(Markdown(f"**{city}** looked up"))
    assert threading.current_thread() is threading.main_thread()
    return {"Paris": 2_100_000, "Lyon": 520_000}[city]

async def weather(city: str, days: int = 1) -> dict:
    """The forecast for a city."""
    await asyncio.sleep(0)
    return {"city": city, "days": days, "sky": "clear"}

def broken(city: str) -> str:
    """Always fails."""
    raise ValueError(f"no data for {city}")

def slow(seconds: float) -> str:
    """Sleeps."""
    time.sleep(seconds)
    return "done"

helpers = [population, weather]
'''


@pytest.fixture(scope="module")
def kernel(tmp_path_factory, demo_server):
    with demo_kernel(
        tmp_path_factory.mktemp("tools"), demo_server.base_url, "%chat --no-history warm up", TOOLS
    ) as k:
        yield k


def tool_blocks(cell) -> list[str]:
    return [d["text/html"] for d, _ in cell.displays if "openai-magic-tool" in d.get("text/html", "")]


def test_chat_answers_from_a_tool_run_in_the_kernel(kernel) -> None:
    cell = ok(
        kernel.run(
            "%%chat --new -m demo-tools --tools population -o answer\n"
            "[demo tool=population city=Paris] How many?"
        )
    )
    answer = kernel.value("answer")
    assert "2100000" in answer and cell.markdown.endswith(answer)
    (block,) = tool_blocks(cell)
    assert "population(city=&quot;Paris&quot;)" in block and "2100000" in block and " s</summary>" in block
    assert "looking up Paris" in cell.stdout  # what the tool printed stays in the cell
    assert any(
        "**Paris** looked up" in d.get("text/markdown", "") for d, _ in cell.displays
    )  # and its display
    assert cell.meta["parameters"]["tools"] == ["population"]
    # The thread holds the call and the result: a follow-up sends them, and the history reads well.
    follow = ok(kernel.run("%chat -m demo-tools and Lyon?"))
    assert "I saw 5 messages" in follow.markdown
    history = ok(kernel.run("%chat_history")).markdown
    assert '**Assistant** called `population({"city": "Paris"})`' in history
    assert "**Tool** `population` returned:" in history


def test_lists_async_tools_errors_and_parallel_calls(kernel) -> None:
    cell = ok(
        kernel.run(
            "%%chat --new -m demo-tools --tools helpers,broken -o both\n"
            "[demo tool=weather city=Lyon days=3] [demo tool=broken city=Nice] go"
        )
    )
    blocks = tool_blocks(cell)
    assert len(blocks) == 2
    assert "&quot;sky&quot;: &quot;clear&quot;" in blocks[0] or "clear" in blocks[0]
    assert "ValueError: no data for Nice" in blocks[1] and "color:#b00" in blocks[1]
    assert "returned" in kernel.value("both")


def test_unknown_tool_name_is_a_usage_error(kernel) -> None:
    message = usage_error(kernel.run("%chat --tools nosuchfunction hello"))
    assert message == "--tools nosuchfunction: no function, or list of functions, by that name"


def test_confirm_asks_and_a_denied_call_is_not_made(kernel) -> None:
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return "n"

    cell = ok(
        kernel.run(
            "%%chat --new -m demo-tools --tools population --confirm -o denied\n"
            "[demo tool=population city=Paris] go",
            stdin=answer,
        )
    )
    assert asked == ['Allow population(city="Paris")? [y]es / [n]o / [a]ll for this cell: ']
    assert "denied by the user" in tool_blocks(cell)[0] and "looking up" not in cell.stdout
    allowed: list[str] = []
    cell = ok(
        kernel.run(
            "%%chat --new -m demo-tools --tools population --confirm\n"
            "[demo tool=population city=Paris] [demo tool=population city=Lyon] go",
            stdin=lambda prompt: allowed.append(prompt) or "a",
        )
    )
    assert len(allowed) == 1 and "looking up Lyon" in cell.stdout  # "all" allowed the second call too


def test_max_steps_ends_with_one_notice(kernel) -> None:
    cell = ok(
        kernel.run(
            "%chat --new -m demo-tools --tools population --max-steps 2 "
            "[demo steps=5] [demo tool=population city=Paris] go"
        )
    )
    assert "Stopped after 2 steps: the model still asked to call population." in cell.stdout
    assert len(tool_blocks(cell)) == 1


def test_interrupt_during_a_tool_keeps_what_was_said_and_the_kernel(kernel) -> None:
    state = {"sent": False}

    def on_message(msg):
        if not state["sent"] and "openai-magic-tool" in str(msg["content"].get("data", {})):
            state["sent"] = True
            kernel.km.interrupt_kernel()

    cell = ok(
        kernel.run(
            "%%chat --new -m demo-tools --tools slow -o cut\n[demo tool=slow seconds=60] go",
            on_message=on_message,
        )
    )
    assert "Interrupted" in cell.stderr
    (block,) = tool_blocks(cell)
    assert "running" not in block and "interrupted" in block  # the call's block says how it ended
    assert ok(kernel.run("%chat --no-history still here?")).markdown


def test_a_strict_tool_protocol_server_accepts_the_history(kernel) -> None:
    with ToolProtocolServer() as server:
        server.play(
            call(("population", {"city": "Lyon"})), say("Lyon has 520000 people."), say("Still 520000.")
        )
        first = ok(
            kernel.run(f"%%chat --new -p {server.base_url} -m m --tools population -o lyon\nPeople in Lyon?")
        )
        assert kernel.value("lyon") == "Lyon has 520000 people." and len(tool_blocks(first)) == 1
        # The follow-up sends the assistant tool_calls and the tool message; the server checks them.
        again = ok(kernel.run(f"%chat -p {server.base_url} -m m And now?"))
        assert again.markdown == "Still 520000." and not again.stderr


# -- the panel --------------------------------------------------------------------------------------


def population(city: str) -> int:
    """The population of a city."""
    return {"Paris": 2_100_000}[city]


@pytest.mark.panel
async def test_panel_tools_answer_and_show_each_call(demo_server):
    panel = ChatPanel(
        provider=demo_server.base_url, model="demo-tools", tools=[population], conversation="p-tools"
    )
    assert (
        "population" in panel.ui.tools_list.value and "The population of a city." in panel.ui.tools_list.value
    )
    text = await panel.send("[demo tool=population city=Paris] how many?")
    assert "2100000" in text
    view = panel.ui.transcript.children[-1]
    (block,) = view.tools.children
    assert "population(city=&quot;Paris&quot;)" in block.value and "2100000" in block.value
    assert [e.role for e in panel.conversation.entries] == ["user", "assistant", "tool", "assistant"]


@pytest.mark.panel
async def test_panel_confirm_buttons_deny_a_call(demo_server):
    panel = ChatPanel(
        provider=demo_server.base_url,
        model="demo-tools",
        tools=[population],
        confirm=True,
        conversation="p-confirm",
    )
    assert panel.ui.params["confirm"].value is True  # the confirm switch
    pending = asyncio.ensure_future(panel.send("[demo tool=population city=Paris] how many?"))
    while True:  # bounded by pytest-timeout: the buttons come once the model asks for the call
        views = panel.ui.transcript.children
        boxes = [
            c
            for c in (views[-1].tools.children if len(views) > 1 else ())
            if "openai-magic-confirm" in c._dom_classes
        ]
        if boxes:
            break
        await asyncio.sleep(0.01)
    deny = next(b for b in boxes[0].children if getattr(b, "description", "") == "deny")
    deny.click()
    text = await pending
    assert "denied by the user" in text and "denied by the user" in views[-1].tools.children[0].value
