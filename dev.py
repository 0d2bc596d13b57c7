#!/usr/bin/env python3
"""Bootstrap for the README's two commands; needs only Python 3.11+ and pip.

    python3 dev.py demo [--execute]   JupyterLab on the quickstart (embedded backend when no key is set)
    python3 dev.py test [PYTEST ARGS] the whole test suite

Each creates `.venv` beside this file, installs the package into it (again only when pyproject.toml
changed), then runs the job. Kept to the standard library on purpose: it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
CHROMIUM = "/usr/bin/chromium"


def ensure_venv(extra: str) -> None:
    """Create .venv and install `.[extra]` into it unless the same install is already there."""
    # dev.py runs under whatever python3 the user has, before anything checks requires-python.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"openai_magic needs Python 3.11+, this is {sys.version.split()[0]}")
    stamp_value = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()
    stamp = VENV / f".installed-{extra}"
    if stamp.exists() and stamp.read_text() == stamp_value:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print(f"installing openai-magic[{extra}] into .venv (first run takes a minute)", flush=True)
    subprocess.run([*pip, "-e", f".[{extra}]"], check=True, cwd=ROOT)
    stamp.write_text(stamp_value)


def ensure_chromium() -> None:
    """The browser tests drive Debian's Chromium; install it with apt-get when we may."""
    if Path(CHROMIUM).exists() or os.environ.get("OPENAI_MAGIC_CHROMIUM"):
        return
    apt = shutil.which("apt-get")
    if apt and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("installing chromium with apt-get for the browser tests", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([apt, "update", "-qq"], check=True, env=env)
        subprocess.run([apt, "install", "-y", "-qq", "chromium"], check=True, env=env)
        return
    print(
        f"note: {CHROMIUM} not found; the browser tests will fail. Install Debian's `chromium` "
        "package or set OPENAI_MAGIC_CHROMIUM to a Chromium binary.",
        flush=True,
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test"}:
        print(__doc__)
        return 2
    os.chdir(ROOT)
    job, rest = argv[0], argv[1:]
    if job == "demo":
        ensure_venv("demo")
        cmd = [str(BIN / "openai-magic"), "demo", *rest]
    else:
        ensure_venv("test")
        ensure_chromium()
        cmd = [str(BIN / "python"), "-m", "pytest", *rest]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
