"""The `openai-magic` command and `python -m openai_magic.server`, run as real subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import nbformat
import psutil
import pytest
from conftest import SENTINEL_KEY

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parent.parent
# Exactly what the `openai-magic` console script runs (see test_console_script_points_at_cli_main).
CLI = [sys.executable, "-c", "import sys; from openai_magic.cli import main; sys.exit(main())"]


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "OPENAI_MAGIC_DEMO_URL"}
    return {**base, "PYTHONPATH": str(ROOT), **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], **extra: str) -> tuple[subprocess.Popen[str], str]:
    """Start a server command and return it with its first output line (the base URL)."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline()


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str]:
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    return process.returncode, out + err


def test_console_script_points_at_cli_main() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["openai-magic"] == "openai_magic.cli:main"


def test_serve_answers_http_and_enforces_the_key_without_printing_it() -> None:
    port = free_port()
    process, first = start([*CLI, "serve", "--port", str(port), "--api-key", SENTINEL_KEY, "--pace", "0"])
    try:
        base = f"http://127.0.0.1:{port}/v1"
        assert base in first
        assert httpx.get(f"{base}/models").status_code == 401
        auth = {"Authorization": f"Bearer {SENTINEL_KEY}"}
        assert httpx.get(f"{base}/models", headers=auth).json()["data"][0]["id"] == "demo-chat"
        body = {"model": "demo-chat", "messages": [{"role": "user", "content": "hi [demo echo]"}]}
        reply = httpx.post(f"{base}/chat/completions", json=body, headers=auth).json()
        assert reply["choices"][0]["message"]["content"] == "hi [demo echo]"
    finally:
        code, output = stop(process)
    assert code == 0
    assert SENTINEL_KEY not in first + output


def test_python_m_server_streams() -> None:
    port = free_port()
    process, first = start([sys.executable, "-m", "openai_magic.server", "--port", str(port), "--pace", "0"])
    try:
        assert f"http://127.0.0.1:{port}/v1" in first
        body = {"model": "demo-chat", "messages": [{"role": "user", "content": "x"}], "stream": True}
        text = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body).text
        assert text.rstrip().endswith("data: [DONE]")
    finally:
        code, _ = stop(process, signal.SIGINT)
    assert code == 0


def test_serve_on_a_busy_port_fails_clearly(demo_server) -> None:
    result = subprocess.run(
        [*CLI, "serve", "--port", str(demo_server.port)], cwd=ROOT, env=env(), capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "could not bind" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_rejects_a_negative_pace() -> None:
    result = subprocess.run(
        [*CLI, "serve", "--pace", "-1"], cwd=ROOT, env=env(), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "pace" in result.stderr


def write_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# tiny"), *(nbformat.v4.new_code_cell(s) for s in sources)]
    nbformat.write(nb, path)
    return path


def outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for cell in nb.cells for o in cell.get("outputs", []))


PROBE = (
    "import os, httpx\n"
    "url = os.environ.get('OPENAI_MAGIC_DEMO_URL')\n"
    "print('demo url:', url)\n"
    "if url:\n"
    "    print('models:', [m['id'] for m in httpx.get(url + '/models').json()['data']])"
)


def test_demo_execute_runs_the_notebook_against_an_embedded_server(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "tiny.ipynb", "print(6 * 7)", PROBE)
    output = tmp_path / "out" / "done.ipynb"
    output.parent.mkdir()
    result = subprocess.run(
        [*CLI, "demo", "--execute", "--notebook", str(notebook), "--output", str(output)],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "executed tiny.ipynb: 2 code cells" in result.stdout
    text = outputs(output)
    assert "42" in text
    assert "demo url: http://127.0.0.1:" in text
    assert "'demo-chat'" in text


def test_demo_execute_finds_the_quickstart_from_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    write_notebook(tmp_path / "notebooks" / "01_quickstart.ipynb", "print('quick' + 'start')")
    (tmp_path / "deeper").mkdir()
    result = subprocess.run(
        [*CLI, "demo", "--execute"],
        cwd=tmp_path / "deeper",
        env=env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "quickstart" in outputs(tmp_path / "notebooks" / "01_quickstart.executed.ipynb")


def test_demo_kernel_imports_this_checkout_without_pip_install(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "imp.ipynb", "import openai_magic\nprint(openai_magic.__file__)")
    clean = {k: v for k, v in env().items() if k != "PYTHONPATH"}
    result = subprocess.run(  # cwd=ROOT lets `-c` import openai_magic; the kernel runs in tmp_path
        [*CLI, "demo", "--execute", "--notebook", str(notebook)],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert str(ROOT / "openai_magic" / "__init__.py") in outputs(tmp_path / "imp.executed.ipynb")


def test_demo_execute_default_output_and_cell_failure(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "bad.ipynb", "print('before')", "1 / 0")
    result = subprocess.run(
        [*CLI, "demo", "--execute", "--notebook", str(notebook)],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 1
    assert "cell 3 failed: ZeroDivisionError" in result.stderr
    assert "before" in outputs(tmp_path / "bad.executed.ipynb")


def test_demo_with_a_key_uses_it_and_never_prints_it(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "keyed.ipynb", "import os\nprint('has key:', bool(os.environ['OPENAI_API_KEY']))"
    )
    result = subprocess.run(
        [*CLI, "demo", "--execute", "--notebook", str(notebook)],
        cwd=tmp_path,
        env=env(OPENAI_API_KEY=SENTINEL_KEY),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "Using OPENAI_API_KEY" in result.stdout
    assert SENTINEL_KEY not in result.stdout + result.stderr
    assert "has key: True" in outputs(tmp_path / "keyed.executed.ipynb")


def test_demo_opens_jupyterlab_with_the_demo_url_and_cleans_up(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "lab.ipynb", "print(1)")
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "demo", "--no-browser", "--port", str(port), "--notebook", str(notebook)],
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        demo_url = first.rsplit(" ", 1)[-1].strip()
        assert demo_url.startswith("http://127.0.0.1:") and demo_url.endswith("/v1")
        assert httpx.get(demo_url + "/models").json()["data"][0]["id"] == "demo-chat"
        for _ in range(600):  # JupyterLab answers /api without a token once it is up
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.2)
        lab = psutil.Process(process.pid).children()[0]
        assert lab.environ()["OPENAI_MAGIC_DEMO_URL"] == demo_url
        assert Path(lab.cwd()) == tmp_path
    finally:
        code, _ = stop(process)
    assert code == 0
    assert not lab.is_running() or lab.status() == psutil.STATUS_ZOMBIE
    with pytest.raises(httpx.ConnectError):
        httpx.get(demo_url + "/models")


def test_demo_missing_notebook_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "demo", "--notebook", str(tmp_path / "nope.ipynb")],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "notebook not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["--help"], ["serve", "--help"], ["demo", "--help"]])
def test_help_describes_the_commands(command: list[str]) -> None:
    result = subprocess.run([*CLI, *command], cwd=ROOT, env=env(), capture_output=True, text=True)
    assert result.returncode == 0
    assert "--" in result.stdout and "usage: openai-magic" in result.stdout
