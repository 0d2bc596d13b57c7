"""Helpers for the end-to-end tests: notebooks in real kernels, JupyterLab and headless Chromium."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("OPENAI_MAGIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
NOTEBOOK_NAMES = [
    "01_quickstart.ipynb",
    "02_control_panel.ipynb",
    "03_images_and_media.ipynb",
    "04_providers.ipynb",
]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kernel_env(**extra: str) -> dict[str, str]:
    """The test environment (conftest already removed real keys and base URLs), this checkout importable."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # Kernels run in temporary copies of notebooks/: make this checkout importable even when it is not
    # installed into the environment.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def copy_notebooks(dest: Path) -> Path:
    """Copy notebooks/ (notebooks and the files they use) into `dest` and return it."""
    shutil.copytree(NOTEBOOKS, dest, ignore=shutil.ignore_patterns("*.executed.ipynb", ".ipynb_checkpoints"))
    return dest


@dataclass
class Executed:
    """An executed notebook plus the execute_reply payloads (e.g. set_next_input) of each cell."""

    nb: nbformat.NotebookNode
    payloads: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def cell(self, marker: str, exact: bool = False) -> nbformat.NotebookNode:
        """The one code cell whose source contains (or, with `exact`, is) `marker`."""
        found = [
            c
            for c in self.nb.cells
            if c.cell_type == "code" and (c.source.strip() == marker if exact else marker in c.source)
        ]
        assert len(found) == 1, f"expected one code cell containing {marker!r}, found {len(found)}"
        return found[0]

    def index(self, marker: str) -> int:
        """The index of the one code cell whose source contains `marker`."""
        return self.nb.cells.index(self.cell(marker))


def execute_notebook(
    path: Path, env: dict[str, str], *, timeout: int = 120, store_widget_state: bool = False
) -> Executed:
    """Run a notebook top to bottom in a fresh python3 kernel with `env`; fail on any cell error."""
    nb = nbformat.read(path, as_version=4)
    result = Executed(nb)

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        result.payloads[cell_index] = list(execute_reply.get("content", {}).get("payload", []))

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=store_widget_state,
        on_cell_executed=on_cell_executed,
    )
    client.execute(env=env)
    return result


def output_text(cell: nbformat.NotebookNode, mime: str | None = None) -> str:
    """All text a cell displayed: stream text and the given MIME type (all text-like ones by default)."""
    parts: list[str] = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            if mime in (None, "text/plain"):
                parts.append(out.text)
        elif out.output_type in {"display_data", "execute_result", "update_display_data"}:
            for key, value in out.get("data", {}).items():
                if (mime is None and (key.startswith("text/") or key.endswith("json"))) or key == mime:
                    parts.append(value if isinstance(value, str) else json.dumps(value))
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback))
    return "\n".join(parts)


def mime_types(cell: nbformat.NotebookNode) -> set[str]:
    """Every MIME type among a cell's rich outputs."""
    return {key for out in cell.get("outputs", []) for key in out.get("data", {})}


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers with any HTTP status (or fail when `proc` exits or time runs out)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last = exc
            time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer in {timeout} s: {last}")


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    root: Path
    log: Path

    def open_url(self, notebook: str) -> str:
        """The address that opens `notebook` in JupyterLab, authenticated by token."""
        return f"{self.url}/lab/tree/{notebook}?token={self.token}&reset"


LAB_SETTINGS = {
    # No news toast and no update check: nothing should cover the notebook or touch the network.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # Render every cell: no virtual scrolling, so off-screen outputs stay in the DOM.
    # and start the notebook's kernel without asking (no "Select Kernel" dialog).
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
}


@contextlib.contextmanager
def jupyterlab(root: Path, env: dict[str, str], workdir: Path) -> Iterator[Lab]:
    """Start JupyterLab on a free loopback port with a random token; stop it afterwards."""
    token = secrets.token_hex(16)
    port = free_port()
    settings = workdir / "lab-user-settings"
    for rel, value in LAB_SETTINGS.items():
        target = settings / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    log = workdir / "jupyterlab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.token={token}",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={workdir / 'lab-workspaces'}",
        "--ServerApp.port_retries=0",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI often run as root
    lab_env = {**env, "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"), "IPYTHONDIR": str(workdir / "ipython")}
    with log.open("wb") as log_file:
        proc = subprocess.Popen(cmd, env=lab_env, stdout=log_file, stderr=subprocess.STDOUT, cwd=root)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/api/status?token={token}", timeout=90, proc=proc)
            yield Lab(url=url, token=token, root=root, log=log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def chromium_page(artifacts: Path) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1100}, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(60_000)
            try:
                yield page
            except BaseException:
                artifacts.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(artifacts / "failure.png"))
                raise
        finally:
            browser.close()


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    """Open a notebook in JupyterLab and wait until its kernel is idle."""
    page.goto(lab.open_url(name))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible")
    wait_kernel_idle(page)


def accept_kernel_dialog(page: Any) -> None:
    """Press "Select" on a "Select Kernel" dialog if one is open (a slow start can still show it)."""
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept", has_text="Select")
    if accept.count():
        accept.first.click()


def wait_kernel_idle(page: Any, timeout: float = 120_000) -> None:
    """Wait until the current notebook's kernel is connected and idle (accepting a kernel dialog)."""
    page.wait_for_function(
        """() => document.querySelector('.jp-Dialog') ||
            document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]')""",
        timeout=timeout,
    )
    accept_kernel_dialog(page)
    page.wait_for_function(
        """() => {
            const el = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) [data-status]')
                || document.querySelector('[data-status]');
            return el && el.getAttribute('data-status') === 'idle';
        }""",
        timeout=timeout,
    )


def run_menu_command(page: Any, menu: str, item: str) -> None:
    """Click a main menu entry, e.g. ("Run", "Run All Cells"), once the command is enabled."""
    entry = page.locator(".lm-Menu-item:not(.lm-mod-hidden):not(.lm-mod-disabled)", has_text=item).first
    for _ in range(40):
        page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
        if entry.is_visible():
            entry.click()
            return
        page.keyboard.press("Escape")  # not enabled yet (the notebook is still getting focus)
        page.wait_for_timeout(250)
    raise AssertionError(f"menu entry {menu} > {item} never became enabled")


def run_all_cells(page: Any) -> None:
    """Focus the open notebook and run all its cells; wait until the first code cell has started."""
    accept_kernel_dialog(page)
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.click(position={"x": 5, "y": 5})
    run_menu_command(page, "Run", "Run All Cells")
    page.wait_for_function(
        """() => [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')]
            .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))""",
        timeout=30_000,
    )


def wait_all_cells_ran(page: Any, code_cells: int, timeout: float = 150_000) -> None:
    """Wait until no cell is queued or running, then check `code_cells` cells ran (none failed)."""
    notebook = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    prompts = f"[...document.querySelectorAll('{notebook} .jp-CodeCell .jp-InputArea-prompt')]"
    page.wait_for_function(
        f"""() => {{
            const texts = {prompts}.map(p => p.textContent.trim());
            return texts.some(t => /^\\[\\d+\\]:$/.test(t)) && !texts.some(t => t.includes('*'));
        }}""",
        timeout=timeout,
    )
    done = page.evaluate(f"() => {prompts}.filter(p => /^\\[\\d+\\]:$/.test(p.textContent.trim())).length")
    stderr = "application/vnd.jupyter.stderr"
    errors = page.locator(f"{notebook} .jp-OutputArea-output[data-mime-type='{stderr}']").all_inner_texts()
    failed = [text for text in errors if "Traceback" in text or "Error" in text]
    assert done >= code_cells and not failed, f"{done}/{code_cells} cells ran; errors: {failed[:1]}"


@contextlib.contextmanager
def screenshot_on_failure(page: Any, name: str) -> Iterator[None]:
    """Save test-artifacts/<name>-failure.png when the block fails, then re-raise."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"), full_page=True)
        raise


def save_screenshot(page: Any, artifacts: Path, name: str, docs_name: str | None = None) -> Path:
    """Screenshot the page into test-artifacts/ and, when asked, copy it to docs/."""
    artifacts.mkdir(parents=True, exist_ok=True)
    path = artifacts / name
    page.screenshot(path=str(path))
    if docs_name:
        shutil.copyfile(path, DOCS / docs_name)
    return path
