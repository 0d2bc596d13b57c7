"""Headless Debian Chromium driven by Playwright, and waits on the Jupyter front end's own events.

Every wait here is on something the application reports (its `restored` promise, the notebook's
session and kernel status, the promise Run All returns), never on a sleep.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from envs import ROOT
from lab_server import Server

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

# The notebook panel showing `path`, in JupyterLab and in Notebook 7 (both expose `window.jupyterapp`).
_FIND = """const find = (path) => Array.from(window.jupyterapp.shell.widgets('main'))
    .find((w) => w.context && w.context.path === path);"""


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (never a downloaded browser); one per process at a time."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser: Any, artifacts: Path = ARTIFACTS) -> Iterator[Any]:
    """A fresh page (own context: no shared storage) that saves a screenshot when the block fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 1100}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        yield page
    except BaseException:
        artifacts.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(artifacts / "failure.png"))
        raise
    finally:
        context.close()


def open_notebook(page: Any, server: Server, path: str, timeout: float = 180_000) -> None:
    """Open `path` and wait until the app is restored and the notebook's kernel is connected and idle."""
    page.goto(server.open_url(path))
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=timeout)
    page.evaluate("async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }")
    page.wait_for_function(f"(path) => {{ {_FIND} return find(path) !== undefined; }}", arg=path)
    page.evaluate(f"async (path) => {{ {_FIND} await find(path).context.ready; }}", path)
    # Idle and connected, or a kernel dialog to accept (autoStartDefaultKernel makes that rare).
    ready = f"""(path) => {{ {_FIND}
        if (document.querySelector('.jp-Dialog')) return 'dialog';
        const kernel = find(path).sessionContext.session?.kernel;
        return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle' && 'ready';
    }}"""
    if page.wait_for_function(ready, arg=path, timeout=timeout).json_value() == "dialog":
        page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").first.click()
        page.wait_for_function(ready.replace("return 'dialog'", "return false"), arg=path, timeout=timeout)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible")


def run_all_cells(page: Any, path: str, code_cells: int, timeout: float = 240_000) -> None:
    """Run All through the command registry and wait for the promise it returns; every cell succeeded."""
    page.evaluate(
        f"""(path) => {{ {_FIND}
            const panel = find(path);
            window.jupyterapp.shell.activateById(panel.id);
            window.__runAll = undefined;
            window.jupyterapp.commands.execute('notebook:run-all-cells')
                .then((ok) => {{ window.__runAll = ok === false ? 'failed' : 'done'; }},
                      (err) => {{ window.__runAll = 'error: ' + err; }});
        }}""",
        path,
    )
    page.wait_for_function("() => window.__runAll !== undefined", timeout=timeout)
    outcome = page.evaluate("() => window.__runAll")
    notebook = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    stderr = "application/vnd.jupyter.stderr"
    errors = page.locator(f"{notebook} .jp-OutputArea-output[data-mime-type='{stderr}']").all_inner_texts()
    failed = [text for text in errors if "Traceback" in text or "Error" in text]
    executed = page.evaluate(
        f"""(path) => {{ {_FIND}
            return find(path).content.widgets.filter(
                (c) => c.model.type === 'code' && c.model.executionCount !== null).length;
        }}""",
        path,
    )
    assert outcome == "done" and executed >= code_cells and not failed, (outcome, executed, failed[:1])


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


def save_element(locator: Any, name: str) -> Path:
    """Screenshot one element into test-artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    locator.screenshot(path=str(path))
    return path


def save_screenshot(page: Any, name: str, docs_name: str | None = None) -> Path:
    """Screenshot the page into test-artifacts/; with `python3 dev.py screenshots`, also into docs/.

    Tests never write tracked files on their own: the README's pictures change only when asked.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    if docs_name and os.environ.get("OPENAI_MAGIC_UPDATE_DOCS") == "1":
        shutil.copyfile(path, DOCS / docs_name)
    return path
