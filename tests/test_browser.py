"""Real JupyterLab in headless Chromium: run the quickstart, then drive the panel (Send, streaming, Stop)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser_page import (
    chromium,
    new_page,
    open_notebook,
    run_all_cells,
    save_element,
    save_screenshot,
    screenshot_on_failure,
)
from envs import kernel_env
from lab_server import jupyter
from notebook_run import copy_notebooks

pytestmark = [pytest.mark.browser, pytest.mark.timing, pytest.mark.timeout(300)]

LONG_PROMPT = "Tell me a very long story. [demo tokens=3000] [demo pace=0.02]"


def code_cell_count(path: Path) -> int:
    """How many code cells a notebook file has."""
    return sum(c.cell_type == "code" for c in nbformat.read(path, as_version=4).cells)


def hide_sidebar(page: Any) -> None:
    """Collapse the left sidebar so screenshots show the notebook at full width."""
    tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if tab.count():
        tab.first.click()


def open_and_run(page: Any, lab: Any, name: str) -> None:
    """Open a notebook full width, Run All, and wait until every cell has run."""
    open_notebook(page, lab, name)
    hide_sidebar(page)
    run_all_cells(page, name, code_cell_count(lab.root / name))


def text_length(locator: Any) -> int:
    """The rendered text length of a locator's first element."""
    return len(locator.first.inner_text())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab over a copy of notebooks/, kernels pointed at a paced demo server."""
    from openai_magic.server import DemoServer

    work = tmp_path_factory.mktemp("lab")
    root = copy_notebooks(work / "notebooks")
    with DemoServer(pace=0.01) as server:
        env = kernel_env(OPENAI_MAGIC_DEMO_URL=server.base_url)
        with jupyter(root, env, work, "lab") as running:
            yield running


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (Playwright's sync API allows one at a time)."""
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def page(lab, browser):
    """A page for the JupyterLab tests."""
    with new_page(browser) as browser_page:
        yield browser_page


def test_quickstart_streams_rendered_markdown(lab, page) -> None:
    """Run All on the quickstart: the first %%chat answer shows a real table and a code block."""
    with screenshot_on_failure(page, "quickstart"):
        open_and_run(page, lab, "01_quickstart.ipynb")
        chat_cell = page.locator(".jp-CodeCell", has_text="Explain Python list comprehensions").first
        answer = chat_cell.locator(".jp-OutputArea-output.jp-RenderedMarkdown")
        table = answer.locator("table")
        code = answer.locator("pre")
        assert table.count() >= 1 and code.count() >= 1
        assert table.first.locator("th").count() >= 2
        assert "demo-chat" in chat_cell.inner_text()  # the footer names the model
        # The follow-up cell answered from the history.
        follow_up = page.locator(".jp-CodeCell", has_text="Summarize your previous answer").first
        assert "I saw 3 messages" in follow_up.locator(".jp-Cell-outputArea").inner_text()
        # -f code inserted the generated code as a new, unexecuted cell right after its cell.
        code_source = page.locator(".jp-CodeCell", has_text="%%chat -f code").first
        inserted = code_source.locator("xpath=following-sibling::div[contains(@class,'jp-CodeCell')][1]")
        assert "def " in inserted.locator(".jp-InputArea-editor").inner_text()
        page.evaluate("(el) => el.scrollIntoView({block: 'start'})", chat_cell.element_handle())
        save_screenshot(page, "quickstart.png", docs_name="chat.png")


def wait_count(page: Any, panel: Any, selector: str, more_than: int) -> None:
    """Wait until the panel holds more than `more_than` elements matching `selector`."""
    page.wait_for_function(
        "([root, sel, n]) => root.querySelectorAll(sel).length > n",
        arg=[panel.element_handle(), selector, more_than],
    )


def wait_text(page: Any, locator: Any, more_than: int = 0, contains: str = "") -> None:
    """Wait until an element's rendered text is longer than `more_than` and contains `contains`."""
    page.wait_for_function(
        "([el, n, s]) => el.innerText.trim().length > n && el.innerText.includes(s)",
        arg=[locator.element_handle(), more_than, contains],
    )


ANSWER = ".openai-magic-transcript .openai-magic-answer"
FOOTER = ".openai-magic-transcript .openai-magic-footer"
ERROR = ".openai-magic-transcript .openai-magic-error"


def send(panel: Any, text: str) -> None:
    """Type a prompt into the panel and press Send."""
    panel.locator(".openai-magic-prompt textarea").fill(text)
    panel.locator("button.openai-magic-send").click()


def test_panel_send_streams_and_stop_keeps_partial(lab, page) -> None:
    """The panel: type a prompt, Send, watch it stream; Stop a long answer and keep the partial text."""
    with screenshot_on_failure(page, "panel"):
        open_and_run(page, lab, "02_control_panel.ipynb")
        panel = page.locator(".openai-magic-panel").first
        panel.wait_for(state="visible")
        answers = panel.locator(ANSWER)
        before = answers.count()
        assert before >= 1  # `await panel.send(...)` in the notebook already answered once

        send(panel, "What is a Python decorator? Show a table and an example.")
        wait_count(page, panel, ANSWER, before)
        new = answers.nth(before)
        # Streaming: text appears, then grows, and only then does the footer (end of answer) show.
        wait_text(page, new)
        wait_text(page, new, more_than=text_length(new))
        wait_count(page, panel, FOOTER, before)
        wait_text(page, panel.locator(FOOTER).nth(before))
        assert new.locator("table").count() >= 1
        # Code blocks are highlighted in the panel too (HTML widgets get no highlighter from JupyterLab).
        code = new.locator("pre").first
        assert code.locator("span[style]").count() >= 3
        save_element(code, "panel-code.png")

        # Stop a long answer, in a fresh thread so it has the transcript to itself: it ends, marked
        # interrupted, and the partial answer stays.
        panel.locator("button.openai-magic-new").click()
        page.wait_for_function(
            "([root, sel]) => root.querySelectorAll(sel).length === 0",
            arg=[panel.element_handle(), ANSWER],
        )
        send(panel, LONG_PROMPT)
        wait_count(page, panel, ANSWER, 0)
        long_answer = answers.nth(0)
        wait_text(page, long_answer, more_than=300)
        # The transcript follows the streaming answer while the reader is at the bottom...
        transcript = panel.locator(".openai-magic-transcript").element_handle()
        overflowing = "(el) => el.scrollHeight > el.clientHeight + 100"
        page.wait_for_function(overflowing, arg=transcript)
        at_bottom = "(el) => el.scrollTop + el.clientHeight >= el.scrollHeight - 30"
        page.wait_for_function(at_bottom, arg=transcript)
        # ...and stays where the reader scrolled up to, while the answer keeps growing.
        panel.locator(".openai-magic-transcript").hover()
        page.mouse.wheel(0, -5000)
        page.wait_for_function("(el) => el.scrollTop === 0", arg=transcript)
        grown = text_length(long_answer) + 200
        page.wait_for_function(f"(el) => el.innerText.length > {grown}", arg=long_answer.element_handle())
        assert page.evaluate("(el) => el.scrollTop", transcript) == 0
        stop = panel.locator("button.openai-magic-stop")
        assert stop.is_enabled()
        save_screenshot(page, "panel-streaming.png")
        stop.click()
        wait_text(page, panel.locator(ERROR).nth(0), contains="interrupted")
        send_button = panel.locator("button.openai-magic-send")
        page.wait_for_function("(el) => !el.disabled", arg=send_button.element_handle())
        partial = long_answer.inner_text()
        assert len(partial) > 300
        # The picture for the README: the panel with the stopped answer, its "interrupted" line, the controls.
        page.evaluate("(el) => { el.scrollTop = el.scrollHeight; }", transcript)
        page.evaluate("(el) => el.scrollIntoView({block: 'end'})", panel.element_handle())
        save_screenshot(page, "panel.png", docs_name="panel.png")
        # The kernel stays usable, and the stopped answer no longer grows: ask again and wait for the end.
        send(panel, "One more short question: what is a list?")
        wait_count(page, panel, FOOTER, 1)
        wait_text(page, panel.locator(FOOTER).nth(1))
        assert long_answer.inner_text() == partial
        page.evaluate("(el) => el.scrollIntoView({block: 'end'})", send_button.element_handle())
        save_screenshot(page, "panel-after.png")


@pytest.fixture(scope="module", params=["lab", "notebook"])
def front_end(request, tmp_path_factory, browser):
    """JupyterLab and Jupyter Notebook 7, each with a page, over a fresh copy of notebooks/."""
    from openai_magic.server import DemoServer

    work = tmp_path_factory.mktemp(request.param)
    root = copy_notebooks(work / "notebooks")
    with DemoServer(pace=0.005) as server:
        env = kernel_env(OPENAI_MAGIC_DEMO_URL=server.base_url)
        with jupyter(root, env, work, request.param) as running, new_page(browser) as browser_page:
            yield running, browser_page


def test_shift_enter_in_the_prompt_sends_and_never_reruns_the_cell(front_end) -> None:
    """A real Shift+Enter in the panel's prompt box: the panel sends, the notebook cell is left alone."""
    server, page = front_end
    name = "02_control_panel.ipynb"
    with screenshot_on_failure(page, f"shift-enter-{server.front_end}"):
        open_notebook(page, server, name)
        run_all_cells(page, name, code_cell_count(server.root / name))
        panels = page.locator(".openai-magic-panel")
        panel = panels.first
        panel.wait_for(state="visible")
        before = panel.locator(ANSWER).count()
        panels_before = panels.count()
        prompt_cell = page.locator(".jp-CodeCell", has=panel).first
        count_before = prompt_cell.locator(".jp-InputArea-prompt").inner_text()
        box = panel.locator(".openai-magic-prompt textarea")
        box.click()
        box.fill("Sent with Shift+Enter: what is a generator?")
        box.press("Shift+Enter")
        wait_count(page, panel, FOOTER, before)
        wait_text(page, panel.locator(FOOTER).nth(before))
        assert "what is a generator" in panel.locator(".openai-magic-user").last.inner_text()
        assert box.input_value() == ""
        # The cell did not run again: same execution count, no new panel on the page.
        assert prompt_cell.locator(".jp-InputArea-prompt").inner_text() == count_before
        assert panels.count() == panels_before
        # The static copy of each panel's thread (for GitHub, nbviewer, nbconvert) is in the page but
        # hidden while the live panel renders.
        statics = page.locator(".openai-magic-static")
        assert statics.count() == panels_before
        for index in range(statics.count()):
            statics.nth(index).wait_for(state="hidden")
        save_screenshot(page, f"panel-shift-enter-{server.front_end}.png")


def test_a_long_code_block_answer_grows_then_ends_as_one_output(lab, page) -> None:
    """A streamed code block in JupyterLab: parts while it grows, one rendered answer once complete."""
    name = "01_quickstart.ipynb"
    with screenshot_on_failure(page, "code-answer"):
        open_notebook(page, lab, name)
        source = "%%chat --no-history\n[demo tokens=1500 shape=code] [demo pace=0.004] a long script"
        page.evaluate(
            """async ([path, sources]) => {
                const app = window.jupyterapp;
                const panel = Array.from(app.shell.widgets('main')).find((w) => w.context?.path === path);
                const notebook = panel.content;
                for (const source of sources) {
                    notebook.activeCellIndex = notebook.widgets.length - 1;
                    await app.commands.execute('notebook:insert-cell-below');
                    notebook.activeCell.model.sharedModel.setSource(source);
                    const run = app.commands.execute('notebook:run-cell');
                    if (source.startsWith('%load_ext')) await run;  // the magics, before the chat
                }
            }""",
            [name, ["%load_ext openai_magic", source]],
        )
        cell = page.locator(".jp-CodeCell").last
        # Growing: several Markdown parts of the code block, and no footer yet.
        page.wait_for_function(
            "(el) => el.querySelectorAll('.jp-RenderedMarkdown pre').length >= 3", arg=cell.element_handle()
        )
        assert "demo-chat ·" not in cell.inner_text()
        hide_sidebar(page)
        cell.locator(".jp-RenderedMarkdown pre").last.evaluate("(el) => el.scrollIntoView({block: 'end'})")
        save_screenshot(page, "code-answer-streaming.png")
        # Complete: one Markdown output holding one code block, then the footer.
        page.wait_for_function("(el) => el.innerText.includes('demo-chat ·')", arg=cell.element_handle())
        markdown = cell.locator(".jp-RenderedMarkdown")
        assert markdown.count() == 2  # the answer and the footer
        assert markdown.first.locator("pre").count() == 1
        assert markdown.first.locator("pre").inner_text().count("total_") > 1000
        assert cell.locator(".jp-RenderedMarkdown pre").count() == 1  # the parts are gone
        markdown.last.evaluate("(el) => el.scrollIntoView({block: 'end'})")
        save_screenshot(page, "code-answer-complete.png")
