"""Every demo notebook, executed top to bottom in a real kernel against the embedded server."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from envs import kernel_env
from notebook_run import (
    NOTEBOOK_NAMES,
    NOTEBOOKS,
    Executed,
    copy_notebooks,
    execute_notebook,
    mime_types,
    output_text,
)

pytestmark = pytest.mark.kernel

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
QUICKSTART = "01_quickstart.ipynb"
FIRST_CHAT = "Explain Python list comprehensions"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory, demo_server) -> dict[str, Executed]:
    """Each notebook run once in its own fresh kernel, with OPENAI_MAGIC_DEMO_URL set to the fixture."""
    root = copy_notebooks(tmp_path_factory.mktemp("nb") / "notebooks")
    env = kernel_env(OPENAI_MAGIC_DEMO_URL=demo_server.base_url)
    return {name: execute_notebook(root / name, env) for name in NOTEBOOK_NAMES}


def answer_text(cell: nbformat.NotebookNode) -> str:
    """The answer a %%chat cell rendered (its Markdown, else its plain text)."""
    return output_text(cell, "text/markdown") or output_text(cell)


def chat_metadata(cell: nbformat.NotebookNode) -> dict:
    """The `openai_magic` metadata of a chat cell's outputs (the last one that carries it)."""
    found = [
        out.metadata["openai_magic"] for out in cell.outputs if "openai_magic" in out.get("metadata", {})
    ]
    assert found, f"no openai_magic metadata in outputs of {cell.source!r}"
    return found[-1]


def messages_seen(text: str) -> int:
    """The number of messages the demo model says it received."""
    match = re.search(r"\bsaw (\d+) messages?\b", text)
    assert match, text[:500]
    return int(match.group(1))


# -- the committed files -------------------------------------------------------------------------


def test_committed_notebooks_are_stripped_and_run_in_python3() -> None:
    """The notebooks in git carry no outputs or counts, and name the python3 kernel."""
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb") if ".executed." not in p.name) == NOTEBOOK_NAMES
    for name in NOTEBOOK_NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (name, cell.source)
                assert "api_key" not in cell.source.lower() or "os.environ" in cell.source


# -- 01 quickstart -------------------------------------------------------------------------------


def test_quickstart_models_table(executed: dict[str, Executed]) -> None:
    """%models shows the demo models, the image model marked."""
    text = output_text(executed["01_quickstart.ipynb"].cell("%models"))
    for model in ("demo-chat", "demo-reasoner", "demo-image"):
        assert model in text
    assert "<table" in text or "|---" in text or "| ---" in text


def test_quickstart_streamed_answer_is_rendered_markdown(executed: dict[str, Executed]) -> None:
    """The first %%chat answer is Markdown with a table and a fenced code block, plus metadata."""
    cell = executed["01_quickstart.ipynb"].cell("Explain Python list comprehensions")
    assert "text/markdown" in mime_types(cell)
    text = answer_text(cell)
    assert re.search(r"^\|.*\|\s*$", text, re.M), text[:500]
    assert re.search(r"^\|\s*:?-{3,}", text, re.M), text[:500]
    assert "```" in text
    meta = chat_metadata(cell)
    assert meta["model"] == "demo-chat"
    assert meta["usage"]["completion_tokens"] > 0


def test_quickstart_follow_up_sends_the_history(executed: dict[str, Executed]) -> None:
    """The follow-up cells see the earlier turns: the demo model reports 3, then 5 messages."""
    nb = executed["01_quickstart.ipynb"]
    assert messages_seen(answer_text(nb.cell("Summarize your previous answer"))) == 3
    assert messages_seen(answer_text(nb.cell("%chat And which"))) == 5


def test_quickstart_interpolates_variables_and_keeps_json(executed: dict[str, Executed]) -> None:
    """{days} and {city} are substituted; the JSON braces reach the model verbatim."""
    text = answer_text(executed["01_quickstart.ipynb"].cell("[demo echo]"))
    assert "Plan 3 days in Lisbon" in text
    assert '{"city": "...", "days": [{"morning": "...", "evening": "..."}]}' in text
    assert "{city}" not in text


def test_quickstart_out_variable_holds_the_answer(executed: dict[str, Executed]) -> None:
    """-o answer: the next cell prints a word count and the answer's start, which the chat cell showed."""
    nb = executed["01_quickstart.ipynb"]
    shown = answer_text(nb.cell("%%chat -o answer"))
    printed = output_text(nb.cell("words captured"))
    match = re.fullmatch(r"(\d+) words captured, starting with (.+)\n", printed)
    assert match, printed
    assert int(match.group(1)) > 5
    start = ast.literal_eval(match.group(2))
    assert len(start) == 40
    assert " ".join(start.split()) in " ".join(shown.split())  # the blocks were displayed one by one


def test_quickstart_code_goes_to_the_next_cell(executed: dict[str, Executed]) -> None:
    """-f code: the kernel asks the front end to insert the fenced code as the next cell."""
    nb = executed["01_quickstart.ipynb"]
    payloads = nb.payloads[nb.index("%%chat -f code")]
    nexts = [p for p in payloads if p.get("source") == "set_next_input"]
    assert len(nexts) == 1, payloads
    code = nexts[0]["text"]
    assert code.strip() and "```" not in code
    compile(code, "<next cell>", "exec")  # the demo's code block is Python


def test_quickstart_named_thread_history(executed: dict[str, Executed]) -> None:
    """%chat_history -c names shows the prompt and the answer of that thread only."""
    nb = executed["01_quickstart.ipynb"]
    text = output_text(nb.cell("%chat_history -c names"))
    assert "Suggest three names for a data-science blog." in text
    assert "Plan 3 days" not in text and "list comprehensions" not in text


# -- 02 control panel ----------------------------------------------------------------------------


def test_panel_notebook_displays_widgets_and_answers(executed: dict[str, Executed]) -> None:
    """The panel is a widget view; `await panel.send` returned the answer; %%chat -c continues it."""
    nb = executed["02_control_panel.ipynb"]
    assert WIDGET_VIEW in mime_types(nb.cell("panel = ChatPanel("))
    assert output_text(nb.cell("await panel.send(")).strip()
    assert messages_seen(answer_text(nb.cell("%%chat -c planning"))) == 3


def test_saved_panel_shows_its_thread_where_widgets_cannot_render(
    executed: dict[str, Executed], tmp_path: Path
) -> None:
    """The panel's cell keeps a static copy of the thread, current after later cells (panel and %%chat)."""
    nb = executed["02_control_panel.ipynb"]
    cell = nb.cell("panel = ChatPanel(")
    static = [o for o in cell.outputs if "openai-magic-static" in o.get("data", {}).get("text/html", "")]
    assert len(static) == 1
    html = static[0]["data"]["text/html"]
    assert "Suggest three small weekend projects" in html  # sent by `await panel.send` two cells later
    assert "Which of those projects needs the least setup" in html  # and by %%chat -c planning
    assert "4 messages" in html
    path = tmp_path / "panel.ipynb"
    nbformat.write(nb.nb, path)
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    exported = path.with_suffix(".html").read_text()
    assert "Suggest three small weekend projects" in exported and "openai-magic-static" in exported


def test_panel_notebook_compare_mode(executed: dict[str, Executed]) -> None:
    """Compare mode answered with two models, each with a non-empty answer."""
    nb = executed["02_control_panel.ipynb"]
    assert WIDGET_VIEW in mime_types(nb.cell("compare = ChatPanel("))
    lines = output_text(nb.cell("answers = await compare.send(")).strip().splitlines()
    assert len(lines) == 2, lines
    counts = dict(re.fullmatch(r"(\S+): (\d+) words", line).groups() for line in lines)
    assert set(counts) == {"demo-chat", "demo-reasoner"}
    assert all(int(n) > 0 for n in counts.values())


# -- 03 images and media -------------------------------------------------------------------------


def test_images_generated_inline_and_kept(executed: dict[str, Executed]) -> None:
    """--image renders a PNG inline; -o keeps its bytes, shown again by IPython.display.Image."""
    nb = executed["03_images_and_media.ipynb"]
    assert "image/png" in mime_types(nb.cell("%%chat --image"))
    cell = nb.cell('print(f"{len(picture)} bytes")')
    assert re.match(r"\d+ bytes", output_text(cell, "text/plain"))
    assert int(output_text(cell, "text/plain").split()[0]) > 100
    assert "image/png" in mime_types(cell)


def test_images_attached_are_described(executed: dict[str, Executed]) -> None:
    """--media sample.png reaches the model as a PNG of the file's size; two attachments, two images."""
    nb = executed["03_images_and_media.ipynb"]
    size = (NOTEBOOKS / "sample.png").stat().st_size
    one = answer_text(nb.cell("--media sample.png\nWhat is"))
    assert "image/png" in one and str(size) in one
    two = answer_text(nb.cell("--media picture --media sample.png"))
    assert two.count("image/png") >= 2 and str(size) in two


# -- 04 providers --------------------------------------------------------------------------------


def test_providers_listed(executed: dict[str, Executed]) -> None:
    """providers.names() lists the presets the notebook's table describes."""
    text = output_text(executed["04_providers.ipynb"].cell("providers.names()")).lower()
    for name in ("openai", "openrouter", "groq", "ollama", "lm", "vllm", "llama", "demo"):
        assert name in text, name


def test_providers_custom_base_url_and_config(executed: dict[str, Executed]) -> None:
    """-p <base URL> answers; %config defaults (system prompt) apply to the next %%chat."""
    nb = executed["04_providers.ipynb"]
    assert "demo-reasoner" in output_text(nb.cell("%config ChatMagics.provider = base_url"))
    hello = "Hello from a custom base URL!"
    custom = nb.cell(f"%chat --new {hello}")
    assert "Using model demo-chat (the first the server lists" in output_text(custom)
    assert hello in answer_text(custom)
    assert "ChatMagics.model" in output_text(nb.cell("%config ChatMagics", exact=True))
    configured = answer_text(nb.cell("What does a system prompt do?"))
    assert "Following your system instructions (“Answer in one short paragraph.”)" in configured
    meta = chat_metadata(nb.cell("What does a system prompt do?"))
    assert meta.get("parameters", {}).get("temperature") == 0.2


def test_providers_core_api_streams(executed: dict[str, Executed]) -> None:
    """The `async for` cell prints streamed text and a usage line; the sync helper answers too."""
    nb = executed["04_providers.ipynb"]
    text = output_text(nb.cell("async for item in"))
    assert re.search(r"\[\d+ tokens in, \d+ out\]", text), text[-300:]
    assert len(text) > 100
    assert output_text(nb.cell("Provider.chat(")).strip()


# -- the CLI's headless run ----------------------------------------------------------------------


def test_cli_demo_execute_writes_the_executed_quickstart(tmp_path: Path) -> None:
    """`openai-magic demo --execute` runs the quickstart headless; the copy holds the streamed answer."""
    root = copy_notebooks(tmp_path / "notebooks")
    out = tmp_path / "quickstart.executed.ipynb"
    script = Path(sys.executable).with_name("openai-magic")  # installed by `pip install -e .`
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "openai_magic.cli"]
    result = subprocess.run(
        [
            *cli,
            "demo",
            "--execute",
            "--notebook",
            str(root / "01_quickstart.ipynb"),
            "--output",
            str(out),
        ],
        env=kernel_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    nb = nbformat.read(out, as_version=4)
    cells = [
        c for c in nb.cells if c.cell_type == "code" and "Explain Python list comprehensions" in c.source
    ]
    assert len(cells) == 1
    text = answer_text(cells[0])
    assert "```" in text and "|" in text
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")


# -- 05 tools --------------------------------------------------------------------------------------


def tool_blocks(cell: nbformat.NotebookNode) -> list[str]:
    return [
        o["data"]["text/html"]
        for o in cell.outputs
        if "openai-magic-tool" in o.get("data", {}).get("text/html", "")
    ]


def test_tools_answer_from_the_data_in_the_kernel(executed: dict[str, Executed]) -> None:
    nb = executed["05_tools.ipynb"]
    cell = nb.cell("%%chat --tools city_facts -o answer")
    assert len(tool_blocks(cell)) == 2  # two calls in one reply
    printed = output_text(nb.cell("print(answer[:200])"))
    assert "2102650" in printed and "522250" in printed


def test_tools_async_error_and_confirm(executed: dict[str, Executed]) -> None:
    nb = executed["05_tools.ipynb"]
    (forecast, facts) = tool_blocks(nb.cell("%%chat --tools travel"))
    assert "Porto: sunny for 2 days" in forecast and "231800" in facts
    (failed,) = tool_blocks(nb.cell("%%chat --tools exchange_rate"))
    assert "ConnectionError: the rates service is down" in failed
    confirm = nb.cell("--confirm")
    assert "Cannot ask before calling tools here" in output_text(confirm)  # headless: nothing can answer
    assert "denied by the user" in tool_blocks(confirm)[0]
    history = output_text(nb.cell("%chat_history"), "text/markdown")
    assert "**Tool** `city_facts` returned:" in history
    assert "'additionalProperties': False" in output_text(nb.cell("tools.schema(forecast)"))


# -- 06 reproducible -------------------------------------------------------------------------------


def test_the_reproducible_notebook_replays_its_shipped_answers_with_no_server(tmp_path: Path) -> None:
    """Every answer comes from the committed replay file: the demo backend's URL points nowhere."""
    root = copy_notebooks(tmp_path / "notebooks")
    shipped = (NOTEBOOKS / "06_reproducible.replay.jsonl").read_text()
    env = kernel_env(OPENAI_MAGIC_DEMO_URL="http://127.0.0.1:9/v1", OPENAI_MAGIC_LOG=str(tmp_path / "log.db"))
    run = execute_notebook(root / "06_reproducible.ipynb", env)
    footers = [
        o["data"]["text/plain"]
        for c in run.nb.cells
        for o in c.get("outputs", [])
        if o.get("metadata", {}).get("openai_magic", {}).get("role") == "footer"
    ]
    assert len(footers) == 3 and all(f.endswith("· replayed") for f in footers)
    assert "Restored 2 turns of 'tour'" in output_text(run.cell("--restore"))
    assert "I saw 5 messages" in answer_text(run.cell("Summarize our conversation"))
    assert "contextlib" in output_text(run.cell("%chat_log -s contextlib --json"))
    assert output_text(run.cell("replay.use(")).strip()
    assert (root / "06_reproducible.replay.jsonl").read_text() == shipped  # nothing new was recorded
