"""Trouble in a real kernel: bad options, empty prompts, every provider error, interrupts, secrets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import SENTINEL_KEY
from envs import kernel_env
from magics_kernel import Kernel, usage_error

pytestmark = [pytest.mark.kernel, pytest.mark.timing]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory, demo_server):
    k = Kernel(tmp_path_factory.mktemp("errors"), OPENAI_MAGIC_DEMO_URL=demo_server.base_url)
    assert k.run("%load_ext openai_magic").reply["content"]["status"] == "ok"
    yield k
    k.close()


def quiet(cell):
    """The cell finished normally: no traceback, no error message on iopub."""
    assert cell.reply["content"]["status"] == "ok", cell.everything
    assert not cell.of("error") and "Traceback" not in cell.everything
    return cell


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("%chat --bogus hello", "unrecognized arguments: --bogus"),
        ("%chat -t hot hello", "argument -t/--temperature: invalid float value"),
        ("%%chat -f yaml\nhello", "invalid choice: 'yaml'"),
        ("%%chat stray words\nhello", "unrecognized arguments: stray words"),
        ("%chat -t 5 hello", "temperature must be between 0 and 2, not 5"),
        ("%chat --max-tokens 0 hello", "max_tokens must be at least 1, not 0"),
    ],
)
def test_invalid_options_are_usage_errors(kernel, code: str, expected: str) -> None:
    message = usage_error(kernel.run(code))
    assert expected in message.splitlines()[0], message
    if "must be" not in expected:  # a parsing problem also shows the usage line
        assert "%chat [-m MODEL]" in message


def test_bad_header_and_unreadable_media_are_usage_errors(kernel, tmp_path) -> None:
    assert usage_error(kernel.run("%chat --header NoColon hello")) == "--header takes 'Name: value'"
    message = usage_error(kernel.run("not_media = 42\n%chat --new --media not_media what is this"))
    assert message.startswith("--media: ")


@pytest.mark.parametrize("code", ["%%chat\n   \n", "%chat", "%chat -m demo-chat   ", "%chat --raw"])
def test_empty_prompt_is_a_usage_error_not_a_request(kernel, code: str) -> None:
    cell = kernel.run(code)
    assert usage_error(cell).startswith("Empty prompt: nothing was sent")
    assert not cell.displays


UNKNOWN_PROVIDER = (
    "%chat -p nosuchprovider hello",
    "%models -p nosuchprovider",
    "%chat_panel -p nosuchprovider",
    "%chat_key nosuchprovider",
)


def test_unknown_provider_and_model(kernel) -> None:
    for code in UNKNOWN_PROVIDER:
        cell = kernel.run(code)
        message = usage_error(cell)
        assert message.startswith("Unknown provider 'nosuchprovider': use a preset ("), code
        assert "or a base URL" in message and message.lower().count("unknown provider") == 1, message
        assert not cell.displays, code
    model = quiet(kernel.run("%chat -m demo-chatt hello"))
    line = one_line(model.stderr)
    assert line.startswith("ModelNotFoundError: ") and "did you mean: demo-chat" in line
    assert line.count("did you mean") == 1  # core gives the facts, one formatter words them
    assert not model.markdown


def test_a_bad_option_stops_run_all(tmp_path, demo_server) -> None:
    """In Run All (nbclient, as in JupyterLab) the cell with a bad option fails; later cells never run."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_code_cell("%load_ext openai_magic"),
            new_code_cell("%chat -o answer --temprature 0.2 hello"),
            new_code_cell("print(answer)"),
        ]
    )
    client = NotebookClient(nb, timeout=60, kernel_name="python3")
    with pytest.raises(CellExecutionError) as failure:
        client.execute(env=kernel_env(OPENAI_MAGIC_DEMO_URL=demo_server.base_url))
    assert "UsageError" in str(failure.value) and "NameError" not in str(failure.value)
    assert nb.cells[2].get("execution_count") is None and not nb.cells[2].outputs
    nbformat.validate(nb)


def test_authentication_and_missing_key(kernel, keyed_server) -> None:
    cell = quiet(kernel.run(f"%chat -p {keyed_server.base_url} hello"))
    assert one_line(cell.stderr).startswith("AuthenticationError: ")
    missing = quiet(kernel.run("%chat -p openai hello"))
    line = one_line(missing.stderr)
    assert line == "MissingAuthError: OpenAI needs an API key: set OPENAI_API_KEY or run %chat_key openai"


def test_rate_limit_says_when_to_retry(kernel) -> None:
    cell = quiet(kernel.run("%chat --header 'X-Demo-Fault: 429;retry_after=300' hello"))
    line = one_line(cell.stderr)
    assert line.startswith("RateLimitError: ") and line.endswith("retry in 300 s")


def test_server_error(kernel) -> None:
    cell = quiet(kernel.run("%chat --header 'X-Demo-Fault: 500;times=5' hello"))
    assert one_line(cell.stderr).startswith("ServerError: ")


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("drop;after=6", "Error: "),
        ("error-event;after=6;code=500", "ServerError: stream error: "),
        ("truncate;after=6", "ResponseError: "),
        ("malformed;after=6", "ResponseError: "),
    ],
)
def test_mid_stream_failure_keeps_the_partial_answer(kernel, fault: str, error: str) -> None:
    cell = quiet(kernel.run(f"%chat --new -o part --header 'X-Demo-Fault: {fault}' tell me more"))
    assert error in one_line(cell.stderr)
    part = kernel.value("part")
    assert part and cell.markdown == part
    last = kernel.value(
        "[e.__dict__ for e in __import__('openai_magic.notebook.conversation', fromlist=['x'])"
        ".get_conversation().entries][-1]"
    )
    assert last["content"] == part and last["error"] and not last["interrupted"]


def _interrupt_when(kernel, predicate):
    state = {"sent": False}

    def on_message(msg):
        if not state["sent"] and predicate(msg):
            state["sent"] = True
            kernel.km.interrupt_kernel()

    return on_message


def test_interrupt_keeps_the_partial_answer_and_the_kernel(kernel) -> None:
    def started(msg):
        data = msg["content"].get("data", {})
        return msg["msg_type"] == "update_display_data" and data.get("text/markdown", "").count("\n") > 3

    cell = quiet(
        kernel.run(
            "%%chat --new -o partial\n[demo tokens=3000] [demo pace=0.01] a long answer",
            on_message=_interrupt_when(kernel, started),
        )
    )
    assert one_line(cell.stderr).startswith("Interrupted: kept the partial answer")
    partial = kernel.value("partial")
    assert partial and cell.markdown == partial
    entry = kernel.value(
        "__import__('openai_magic.notebook.conversation', fromlist=['x']).get_conversation()"
        ".entries[-1].__dict__"
    )
    assert entry["interrupted"] is True and entry["content"] == partial
    assert cell.meta["interrupted"] is True
    after = quiet(kernel.run("%chat And now a short one"))
    assert "I saw 3 messages" in after.markdown


def test_interrupt_before_the_first_token(kernel) -> None:
    def thinking(msg):
        return msg["msg_type"] == "display_data" and "_thinking" in str(msg["content"]["data"])

    cell = quiet(
        kernel.run(
            "%chat --new --header 'X-Demo-Fault: stall;seconds=60' hello",
            on_message=_interrupt_when(kernel, thinking),
        )
    )
    assert "Interrupted before any answer came: nothing was added to the conversation." in cell.stderr
    assert not cell.markdown.strip()
    assert (
        kernel.value("len(__import__('openai_magic').notebook.conversation.get_conversation().entries)") == 0
    )
    assert quiet(kernel.run("%chat hello again")).markdown


def test_chat_key_stays_out_of_outputs(kernel, keyed_server, tmp_path) -> None:
    url = keyed_server.base_url
    prompts = []

    def answer(prompt):
        prompts.append(prompt)
        return SENTINEL_KEY

    cells = [quiet(kernel.run(f"%chat_key {url}", stdin=answer))]
    assert prompts == [f"API key for {url}: "] and "kept in kernel memory" in cells[0].stdout
    cells.append(quiet(kernel.run(f"%chat -p {url} --new -o keyed hello with a key")))
    assert "Using model demo-chat (the first the server lists" in cells[-1].stdout
    assert not cells[-1].stderr and "hello with a key" in kernel.value("keyed")
    assert cells[-1].markdown == kernel.value("keyed")
    cells.append(quiet(kernel.run(f"%models -p {url}")))
    assert "demo-chat" in cells[-1].markdown
    export = tmp_path / "history.json"
    cells.append(quiet(kernel.run(f"%chat_history --export {export}")))
    cells.append(quiet(kernel.run("%chat -p openai hi")))  # MissingAuthError line, no key in it
    for cell in cells:
        assert SENTINEL_KEY not in cell.everything
    assert SENTINEL_KEY not in export.read_text()
    assert json.loads(export.read_text())["messages"][-1]["role"] == "assistant"


def test_chat_history_clear_and_export_markdown(kernel, tmp_path) -> None:
    quiet(kernel.run("%chat -c notes --new remember this"))
    path = tmp_path / "notes.md"
    cell = quiet(kernel.run(f"%chat_history -c notes --export {path}"))
    assert "Exported 2 messages of 'notes'" in cell.stdout
    assert path.read_text().startswith("# Conversation: notes")
    quiet(kernel.run("%chat_history -c notes --clear"))
    assert "_(empty)_" in quiet(kernel.run("%chat_history -c notes")).markdown


def test_terminal_ipython_streams_plain_text(demo_server, tmp_path) -> None:
    code = (
        "get_ipython().run_line_magic('load_ext', 'openai_magic'); "
        "get_ipython().run_line_magic('chat', '[demo echo] plain **text** here')"
    )
    result = subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=nocolor", "-c", code],
        env=kernel_env(OPENAI_MAGIC_DEMO_URL=demo_server.base_url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "[demo echo] plain **text** here\n-- demo-chat · " in result.stdout
    assert "embedded demo backend" in result.stdout and "Traceback" not in result.stderr
