"""A real Jupyter server for the browser tests: JupyterLab or Jupyter Notebook 7, on loopback, app exposed.

`expose_app_in_browser` puts the front end's application object on `window.jupyterapp`, so the tests
can wait on the application's own readiness promises instead of guessing from the DOM.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from envs import free_port, wait_http

# The front ends: the module that starts each, its app class (for settings) and how a notebook is opened.
FRONT_ENDS = {
    "lab": ("jupyterlab", "LabApp", "/lab/tree/{path}?token={token}&reset"),
    "notebook": ("notebook", "JupyterNotebookApp", "/notebooks/{path}?token={token}"),
}

SETTINGS = {
    # No news toast and no update check: nothing should cover the notebook or touch the network.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # Render every cell (no virtual scrolling, so off-screen outputs stay in the DOM) and start the
    # notebook's kernel without asking (no "Select Kernel" dialog).
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
}


@dataclass
class Server:
    """A running Jupyter server and how to open a notebook in its front end."""

    url: str
    token: str
    root: Path
    log: Path
    front_end: str

    def open_url(self, notebook: str) -> str:
        """The address that opens `notebook` in this front end, authenticated by token."""
        template = FRONT_ENDS[self.front_end][2]
        return self.url + template.format(path=quote(notebook), token=self.token)


@contextlib.contextmanager
def jupyter(root: Path, env: dict[str, str], workdir: Path, front_end: str = "lab") -> Iterator[Server]:
    """Start JupyterLab (or Notebook 7) on a free loopback port with a random token; stop it afterwards."""
    module, app, _ = FRONT_ENDS[front_end]
    token = secrets.token_hex(16)
    port = free_port()
    state = workdir / f"{front_end}-state"
    settings = state / "user-settings"
    for rel, value in SETTINGS.items():
        target = settings / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    log = workdir / f"{front_end}.log"
    cmd = [
        sys.executable,
        "-m",
        module,
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
        f"--{app}.user_settings_dir={settings}",
        f"--{app}.workspaces_dir={state / 'workspaces'}",
        f"--{app}.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI often run as root
    server_env = {**env, "JUPYTER_RUNTIME_DIR": str(state / "runtime"), "IPYTHONDIR": str(state / "ipython")}
    with log.open("wb") as log_file:
        proc = subprocess.Popen(cmd, env=server_env, stdout=log_file, stderr=subprocess.STDOUT, cwd=root)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/api/status?token={token}", timeout=120, proc=proc)
            yield Server(url=url, token=token, root=root, log=log, front_end=front_end)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
