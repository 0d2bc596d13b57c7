"""A notebook run with a real key (magics and panel), saved with widget state, holds no trace of the key."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat
import pytest
from conftest import SENTINEL_KEY
from envs import kernel_env
from nbformat.v4 import new_code_cell, new_notebook
from notebook_run import execute_notebook, output_text

pytestmark = pytest.mark.kernel

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

CELLS = [
    "%load_ext openai_magic\nimport os\nkeyed_url = os.environ['OPENAI_BASE_URL']",
    # The OpenAI preset, pointed by OPENAI_BASE_URL at a server that demands OPENAI_API_KEY.
    "%config ChatMagics.provider = 'openai'\n%config ChatMagics.model = 'demo-chat'",
    "%%chat\nHello over an authenticated connection.",
    "%chat --no-stream -o reply A second question, not streamed.",
    "%models",
    "%%chat -m no-such-model\nThis model does not exist.",
    "%chat_history",
    "%chat_history --export history.json",
    (
        "from openai_magic import ChatPanel\n"
        "panel = ChatPanel(provider='openai', model='demo-chat', conversation='keyed')\n"
        "panel"
    ),
    "text = await panel.send('Hello from the panel.')\nprint(panel.key_status)\nprint(text[:80])",
    # A key typed into the panel's key field, as a user would (set from the kernel side here).
    (
        "import ipywidgets as widgets\n"
        "typed = ChatPanel(provider=keyed_url, model='demo-chat', conversation='typed')\n"
        "def walk(w):\n"
        "    yield w\n"
        "    for c in getattr(w, 'children', ()):\n"
        "        yield from walk(c)\n"
        "box = next(w for w in walk(typed.widget) if 'openai-magic-key' in w._dom_classes)\n"
        "box.value = os.environ['TYPED_KEY']\n"
        "typed"
    ),
    "text = await typed.send('Hello with a typed key.')\nprint(typed.key_status)\nprint(text[:80])",
    "typed.export('typed.md')\nprint(panel, typed)",
]


def test_saved_notebook_holds_no_trace_of_the_key(tmp_path: Path, keyed_server) -> None:
    """Run magics and panels against a server that demands the key; the saved file never contains it."""
    path = tmp_path / "keyed.ipynb"
    nb = new_notebook(cells=[new_code_cell(src) for src in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    env = kernel_env(
        OPENAI_API_KEY=SENTINEL_KEY,
        OPENAI_BASE_URL=keyed_server.base_url,
        TYPED_KEY=SENTINEL_KEY,
    )
    result = execute_notebook(path, env, store_widget_state=True)
    nbformat.write(result.nb, path)

    # The key was really used: the server requires it, and every request succeeded.
    first = output_text(result.cell("Hello over an authenticated connection."))
    assert first.strip() and "AuthenticationError" not in first and "401" not in first
    assert "demo-chat" in output_text(result.cell("%models", exact=True))
    assert "ModelNotFoundError" in output_text(result.cell("no-such-model"))
    panel_out = output_text(result.cell("await panel.send("))
    assert "key set from OPENAI_API_KEY" in panel_out and "Error" not in panel_out
    typed_out = output_text(result.cell("await typed.send("))
    assert "key set (typed in panel)" in typed_out and "Error" not in typed_out
    saved = path.read_text()
    assert WIDGET_STATE in json.loads(saved)["metadata"]["widgets"]
    assert '"openai-magic-key"' in saved  # the key field's widget state was saved

    files = {"notebook": saved}
    files |= {name: (tmp_path / name).read_text() for name in ("history.json", "typed.md")}
    for name, text in files.items():
        for trace in (
            SENTINEL_KEY,
            SENTINEL_KEY[len("sk-test-") :],
            "d0n0tl3ak",
            base64.b64encode(SENTINEL_KEY.encode()).decode()[:24],
            json.dumps(SENTINEL_KEY)[1:-1],
        ):
            assert trace not in text, f"{name} contains a trace of the key"


def test_verbose_tracebacks_from_the_panel_and_magics_never_show_the_key(tmp_path, keyed_server) -> None:
    """`await panel.send()` raises into the cell; with %xmode Verbose every frame's locals are printed.
    (The magics never show a traceback: their errors are one line.)"""
    from magics_kernel import Kernel

    k = Kernel(tmp_path, OPENAI_MAGIC_TEST_SECRET=SENTINEL_KEY)  # the key in the environment, not the cell
    try:
        code = (
            "%load_ext openai_magic\n%xmode Verbose\nimport os\nfrom openai_magic import ChatPanel\n"
            f"p = ChatPanel(provider={keyed_server.base_url!r},\n"
            "              api_key=os.environ['OPENAI_MAGIC_TEST_SECRET'],\n"
            "              model='demo-chat', headers={'X-Demo-Fault': '500'})\n"
            "await p.send('fail, please')"
        )
        cell = k.run(code)
        assert cell.reply["content"]["status"] == "error" and cell.reply["content"]["ename"] == "ServerError"
        traceback = "\n".join(cell.reply["content"]["traceback"])
        assert "Secret('***')" in traceback  # the frames' locals were printed, the key masked
        assert SENTINEL_KEY not in traceback and SENTINEL_KEY not in cell.everything
    finally:
        k.close()
