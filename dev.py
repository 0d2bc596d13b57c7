#!/usr/bin/env python3
"""Bootstrap for the README's two commands; needs only Python 3.11+ and pip.

    python3 dev.py demo [--execute]        JupyterLab on the quickstart (embedded backend when no key is set)
    python3 dev.py test [PYTEST ARGS]      the whole test suite
    python3 dev.py test --repeat N [ARGS]  run the same tests N times in a row, count the failing runs
    python3 dev.py screenshots             refresh docs/chat.png and docs/panel.png from the browser test
    python3 dev.py system-packages         install the system packages the tests need (what .ci/run does)

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

# The one list of system packages the suite needs: (file that proves it is installed, Debian package, why).
SYSTEM_PACKAGES = (
    ("/usr/bin/chromium", "chromium", "the browser tests drive Debian's Chromium"),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "fonts-dejavu-core", "legible text in screenshots"),
)

# The tests whose outcome depends on timing and scheduling (the `timing` marker): what `--repeat` is for.
TIMING_SENSITIVE = "timing"


def ensure_venv(extra: str) -> None:
    """Create .venv and install `.[extra]` into it unless the same install is already there."""
    # dev.py runs under whatever python3 the user has, before anything checks requires-python.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"openai_magic needs Python 3.11+, this is {sys.version.split()[0]}")
    if _stamp_matches(extra):
        return
    if extra == "demo" and _stamp_matches("test"):
        return  # the test extra includes the demo one
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print(f"installing openai-magic[{extra}] into .venv (first run takes a minute)", flush=True)
    subprocess.run([*pip, "-e", f".[{extra}]"], check=True, cwd=ROOT)
    (VENV / f".installed-{extra}").write_text(_stamp_value(extra))


def _stamp_value(extra: str) -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()


def _stamp_matches(extra: str) -> bool:
    """Whether `.[extra]` was installed from this very pyproject.toml."""
    stamp = VENV / f".installed-{extra}"
    return stamp.exists() and stamp.read_text() == _stamp_value(extra)


def missing_system_packages() -> list[tuple[str, str]]:
    """(package, why) for each system package whose file is not there."""
    return [(package, why) for path, package, why in SYSTEM_PACKAGES if not Path(path).exists()]


def ensure_system_packages() -> None:
    """Install the missing system packages with apt-get when we may (root), and nothing else."""
    missing = missing_system_packages()
    if not missing or os.environ.get("OPENAI_MAGIC_CHROMIUM"):
        return
    apt = shutil.which("apt-get")
    if not (apt and hasattr(os, "geteuid") and os.geteuid() == 0):
        names = " ".join(package for package, _ in missing)
        print(f"note: {names} not installed; browser tests will fail (apt-get install {names})", flush=True)
        return
    names = [package for package, _ in missing]
    why = "; ".join(f"{package}: {reason}" for package, reason in missing)
    print(f"installing {' '.join(names)} with apt-get ({why})", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"stdout": subprocess.DEVNULL, "env": env, "check": True}
    subprocess.run([apt, "update", "-qq"], **quiet)
    # Only what is missing, without recommended extras; `--no-upgrade` leaves installed packages alone
    # (a dependency is upgraded only when the new package requires a newer version of it).
    subprocess.run([apt, "install", "-y", "-qq", "--no-install-recommends", "--no-upgrade", *names], **quiet)


def repeat(times: int, pytest: list[str]) -> int:
    """Run pytest `times` times in a row; report every failing run and exit non-zero if there was one."""
    failures: list[int] = []
    for run in range(1, times + 1):
        print(f"--- run {run}/{times}: pytest {' '.join(pytest)}", flush=True)
        if subprocess.call([str(BIN / "python"), "-m", "pytest", *pytest]) != 0:
            failures.append(run)
    print(f"--- {times - len(failures)}/{times} runs passed" + (f"; failed: {failures}" if failures else ""))
    return 1 if failures else 0


def test(args: list[str]) -> int:
    """`test [--repeat N] [PYTEST ARGS]`; with --repeat and no -m, the timing-sensitive tests."""
    ensure_venv("test")
    ensure_system_packages()
    if "--repeat" in args:
        at = args.index("--repeat")
        times, rest = int(args[at + 1]), args[:at] + args[at + 2 :]
        if "-m" not in rest:
            rest = ["-m", TIMING_SENSITIVE, *rest]
        return repeat(times, ["-q", "-p", "no:cacheprovider", *rest])
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *args])


def demo(args: list[str]) -> int:
    """Become `openai-magic demo`, so stopping this process stops JupyterLab, kernels and backend."""
    ensure_venv("demo")
    command = [str(BIN / "openai-magic"), "demo", *args]
    if os.name == "posix":
        sys.stdout.flush()
        os.execv(command[0], command)  # never returns: the signals now reach the demo itself
    return subprocess.call(command)


def main(argv: list[str]) -> int:
    jobs = {"demo", "test", "screenshots", "system-packages"}
    if not argv or argv[0] not in jobs:
        print(__doc__)
        return 2
    os.chdir(ROOT)
    job, rest = argv[0], argv[1:]
    if job == "demo":
        return demo(rest)
    if job == "system-packages":
        ensure_system_packages()
        return 0
    if job == "screenshots":
        os.environ["OPENAI_MAGIC_UPDATE_DOCS"] = "1"  # the browser test copies its pictures to docs/
        return test(["-m", "browser", "-p", "no:cacheprovider", *rest])
    return test(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
