"""What a streamed answer leaves in the cell, in a real kernel: one clean output, at once, exportable.

Assertions are on message order and content, never on wall-clock time.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from envs import kernel_env
from magics_kernel import demo_kernel, ok
from nbformat.v4 import new_code_cell, new_notebook
from notebook_run import execute_notebook

from openai_magic.notebook.display_sink import EXPORT_STYLE

pytestmark = [pytest.mark.kernel, pytest.mark.timing]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory, demo_server):
    with demo_kernel(
        tmp_path_factory.mktemp("streaming"), demo_server.base_url, "%chat --no-history warm up"
    ) as k:
        yield k


def role(metadata: dict) -> str | None:
    return metadata.get("openai_magic", {}).get("role")


def rich(cell) -> list[dict]:
    return [o for o in cell.outputs if o["kind"] != "stream"]


@pytest.mark.parametrize("shape", ["", " shape=code", " shape=paragraph", " shape=table", " shape=list"])
def test_an_answer_ends_as_one_markdown_output_then_the_footer(kernel, shape: str) -> None:
    cell = ok(kernel.run(f"%%chat --no-history -o answer\n[demo tokens=1200{shape}] [demo pace=0.001] go"))
    answer = kernel.value("answer")
    parts = {
        m["content"]["transient"]["display_id"]
        for m in cell.of("display_data")
        if m["content"].get("transient")
    }
    outputs = rich(cell)
    if "```" in answer:  # the export style comes with every answer that has a code block, just before it
        style = outputs.pop(0)
        assert (
            style["data"] == {"text/html": EXPORT_STYLE, "text/plain": ""} and role(style["metadata"]) is None
        )
    assert [role(o["metadata"]) for o in outputs] == ["answer", "footer"], outputs
    assert outputs[0]["data"] == {"text/markdown": answer, "text/plain": answer}  # the whole answer, once
    meta = outputs[0]["metadata"]["openai_magic"]
    assert meta["model"] == "demo-chat" and meta["usage"]["completion_tokens"] == 1200
    assert not [o for o in cell.outputs if o["kind"] == "stream"]  # nothing else in the cell
    if shape == " shape=code":
        assert len(parts) > 2  # it streamed as several parts, and ended as one
    assert "<small" not in json.dumps(outputs[1]["data"]) and outputs[1]["data"]["text/plain"].startswith(
        "demo-chat"
    )


def test_notices_stay_and_come_before_the_answer(kernel) -> None:
    cell = ok(kernel.run("%chat --no-history [demo echo] {undefined_name} stays"))
    assert [o["kind"] for o in cell.outputs] == ["stream", "display_data", "display_data"]
    assert "Left as typed" in cell.outputs[0]["text"]
    assert cell.outputs[1]["data"]["text/markdown"] == "[demo echo] {undefined_name} stays"


def test_a_rerun_answer_keeps_its_export_style(kernel) -> None:
    """Once per kernel would be lost when that cell is re-run or cleared: each answer with code has it."""
    for _ in range(2):
        cell = ok(kernel.run("%%chat --no-history\n[demo tokens=80 shape=code] [demo pace=0] go"))
        assert rich(cell)[0]["data"].get("text/html") == EXPORT_STYLE
    prose = ok(kernel.run("%%chat --no-history\n[demo tokens=40 shape=paragraph] [demo pace=0] go"))
    assert EXPORT_STYLE not in json.dumps([o.get("data") for o in prose.outputs])  # none without code


def test_a_failed_request_leaves_only_its_error_line(kernel) -> None:
    cell = ok(kernel.run("%chat --no-history -p http://127.0.0.1:9/v1 -m demo-chat hello"))
    assert [o["kind"] for o in cell.outputs] == ["stream"] and cell.outputs[0]["name"] == "stderr"
    assert cell.stderr.startswith("APIConnectionError: ")
    server = ok(kernel.run("%chat --no-history --header 'X-Demo-Fault: 503' hello"))
    assert [o["kind"] for o in server.outputs] == ["stream"]


def test_a_failure_in_a_cell_with_other_code_leaves_no_empty_answer(kernel) -> None:
    cell = ok(kernel.run('print("before")\n%chat --no-history -m no-such-model hi'))
    assert cell.stdout == "before\n" and "no-such-model" in cell.stderr
    displayed = [o for o in rich(cell)]
    assert not [o for o in displayed if "text/markdown" in o["data"] or role(o["metadata"])], displayed


def test_a_cell_with_other_code_keeps_that_code_output(kernel) -> None:
    chat = "%chat --no-history -o mixed [demo tokens=300] [demo pace=0] go"
    cell = ok(kernel.run(f"print('before the chat')\n{chat}\nprint('after')"))
    assert cell.stdout == "before the chat\nafter\n"
    assert cell.markdown == kernel.value("mixed")  # the parts hold the whole answer, in the first one
    answers = [o for o in rich(cell) if role(o["metadata"]) == "answer"]
    assert len(answers) == 1 and answers[0]["data"]["text/markdown"] == kernel.value("mixed")


def test_the_first_text_is_published_at_once(kernel) -> None:
    """With a throttle of an hour, the first text still shows while the server stalls after it."""
    ok(kernel.run("%config ChatMagics.throttle = 3600"))
    try:
        state = {"sent": False}

        def on_message(msg):
            data = msg["content"].get("data", {})
            text = data.get("text/markdown", "")
            if not state["sent"] and text and text != "_thinking..._":
                state["sent"] = True
                kernel.km.interrupt_kernel()  # ends the 120 s stall: the first text came before it

        cell = ok(
            kernel.run(
                "%chat --no-history -o first --header 'X-Demo-Fault: stall;after=2;seconds=120' Pause here",
                on_message=on_message,
            )
        )
    finally:
        ok(kernel.run("%config ChatMagics.throttle = 0.0667"))
    assert "Interrupted: kept the partial answer" in cell.stderr
    assert "conversation" not in cell.stderr  # --no-history: the thread was not told anything
    first = kernel.value("first")
    assert first and cell.markdown == first
    updates = [m for m in cell.of("display_data", "update_display_data") if m["content"].get("transient")]
    texts = [m["content"]["data"].get("text/markdown") for m in updates]
    assert texts[0] == "_thinking..._" and texts[1] and len(texts) == 2  # later text waited for the throttle
    footer = next(o for o in rich(cell) if role(o["metadata"]) == "footer")
    assert "first token" not in footer["data"]["text/plain"] and "interrupted" in footer["data"]["text/plain"]


def test_an_image_footer_has_no_first_token(kernel) -> None:
    cell = ok(kernel.run("%chat --image a red square"))
    footer = next(o for o in rich(cell) if role(o["metadata"]) == "footer")
    assert "first token" not in footer["data"]["text/plain"]
    assert [role(o["metadata"]) for o in rich(cell)] == ["image", "footer"]


@pytest.mark.browser
def test_exports_give_each_answer_in_one_piece(tmp_path: Path, demo_server) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell("%load_ext openai_magic"),
            new_code_cell("%%chat -o a\nExplain Python list comprehensions"),
            new_code_cell("%%chat -o b\n[demo tokens=400 shape=code] [demo pace=0] code please"),
            new_code_cell("print(json.dumps([a, b]))", metadata={}),
        ]
    )
    nb.cells.insert(0, new_code_cell("import json"))
    path = tmp_path / "export.ipynb"
    nbformat.write(nb, path)
    executed = execute_notebook(path, kernel_env(OPENAI_MAGIC_DEMO_URL=demo_server.base_url))
    nbformat.write(executed.nb, path)
    a, b = json.loads(executed.nb.cells[-1].outputs[0]["text"])
    for cell, answer in ((executed.nb.cells[2], a), (executed.nb.cells[3], b)):
        markdown = [o for o in cell.outputs if "text/markdown" in o.get("data", {})]
        assert markdown[0]["data"]["text/markdown"] == answer  # one piece in the saved notebook
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "markdown", str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    exported = path.with_suffix(".md").read_text()
    assert a in exported and b in exported  # each answer in one piece
    assert "<small" not in exported and "*demo-chat · " in exported  # a plain-text footer
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    from browser_page import chromium, new_page

    with chromium() as browser, new_page(browser) as page:
        page.goto(path.with_suffix(".html").as_uri())
        style = page.evaluate(
            """() => [...document.querySelectorAll('.jp-RenderedMarkdown pre')].map((pre) => {
                const s = getComputedStyle(pre);
                return [pre.innerText.slice(0, 12), s.fontFamily, s.backgroundColor];
            })"""
        )
    codes = [row for row in style if row[0].startswith(("def summ", "def run"))]
    assert len(codes) == 2, style
    for _, font, background in codes:  # monospaced, on a background of its own (not the page's white)
        assert "mono" in font.lower() and background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")


def test_a_retry_wait_says_so_until_the_answer_comes(kernel) -> None:
    cell = ok(
        kernel.run("%chat --no-history -o after --header 'X-Demo-Fault: 429;retry_after=1;times=1' hello")
    )
    shown = [
        m["content"]["data"].get("text/markdown", "") for m in cell.of("display_data", "update_display_data")
    ]
    assert "_rate limited, retrying in 1 s_" in shown  # said while waiting
    assert kernel.value("after") and cell.markdown == kernel.value("after")
    assert "retrying" not in json.dumps([o.get("data") for o in cell.outputs])  # gone once answered


@pytest.mark.panel
async def test_a_retry_wait_shows_in_the_panel(demo_server):
    from openai_magic import ChatPanel

    panel = ChatPanel(provider=demo_server.base_url, headers={"X-Demo-Fault": "429;retry_after=2;times=1"})
    seen: list[str] = []
    pending = asyncio.ensure_future(panel.send("hello"))
    while not pending.done():
        children = panel.ui.transcript.children
        if len(children) > 1:
            seen.append(children[1].status_line.value)
        await asyncio.sleep(0.01)
    assert await pending and any("rate limited, retrying in 2 s" in line for line in seen)
