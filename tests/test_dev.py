"""`python3 dev.py`: the README's commands, as a user runs them (demo URL, stopping it, the repeat runner)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import httpx
import psutil
import pytest
from envs import ROOT, free_port, kernel_env

pytestmark = [pytest.mark.kernel, pytest.mark.timing]

QUICKSTART_URL = re.compile(r"(http://127\.0\.0\.1:\d+/lab/tree/01_quickstart\.ipynb\?token=\w+)")
DEMO_URL = re.compile(r"built-in demo backend at (http://127\.0\.0\.1:\d+/v1)")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_prints_the_quickstart_url_and_sigterm_stops_everything() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "dev.py"), "demo", "--no-browser", "--port", str(port)],
        env=kernel_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        url = demo = None
        for line in process.stdout:  # ends only if the process dies: then the asserts below say so
            seen.append(line)
            demo = demo or (m.group(1) if (m := DEMO_URL.search(line)) else None)
            if m := QUICKSTART_URL.search(line):
                url = m.group(1)
                break
        assert url and demo, "".join(seen)
        # dev.py became the demo process itself: the pid the user started is `openai-magic demo`.
        assert "demo" in psutil.Process(process.pid).cmdline()[-4:]
        token = url.rsplit("=", 1)[1]
        page = httpx.get(url, timeout=30)
        assert page.status_code == 200 and "JupyterLab" in page.text
        started = httpx.post(f"http://127.0.0.1:{port}/api/kernels?token={token}", json={}, timeout=60)
        assert started.status_code == 201, started.text
        assert httpx.get(f"{demo}/models", timeout=10).status_code == 200
        family = psutil.Process(process.pid).children(recursive=True)
        assert len(family) >= 2  # JupyterLab and the kernel it started
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=90)
    assert code == 0, "".join(seen)
    _, alive = psutil.wait_procs(family, timeout=30)
    assert not alive, [p.cmdline() for p in alive]
    assert not listening(port)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{demo}/models", timeout=5)


def test_repeat_runs_the_tests_n_times_and_counts_failures(tmp_path) -> None:
    (tmp_path / "test_flip.py").write_text(
        "import os, pathlib\n"
        "def test_flip():\n"
        "    marker = pathlib.Path(os.environ['FLIP'])\n"
        "    first = not marker.exists()\n"
        "    marker.touch()\n"
        "    assert first\n"
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), "test", "--repeat", "3", "-m", "", str(tmp_path)],
        env=kernel_env(FLIP=str(tmp_path / "flipped")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "--- run 3/3" in result.stdout and "1/3 runs passed; failed: [2, 3]" in result.stdout
