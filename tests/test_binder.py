"""The Binder configuration is consistent: it installs the package and `start` runs the demo backend."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

from envs import ROOT, kernel_env

BINDER = ROOT / "binder"


def _requirement_lines() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_binder_files_present_and_executable() -> None:
    """requirements.txt, postBuild and start exist; the scripts are executable bash with strict mode."""
    assert (BINDER / "requirements.txt").is_file()
    for name in ("postBuild", "start"):
        script = BINDER / name
        assert script.is_file(), name
        assert os.access(script, os.X_OK), f"binder/{name} is not executable"
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n"), name
        assert "set -euo pipefail" in text, name
        subprocess.run(["bash", "-n", str(script)], check=True)


def test_start_execs_its_arguments() -> None:
    """The last command of binder/start is `exec "$@"`, so Binder's notebook server replaces it."""
    commands = [
        line.strip()
        for line in (BINDER / "start").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert commands[-1] == 'exec "$@"'
    assert "export OPENAI_MAGIC_DEMO_URL=" in (BINDER / "start").read_text()


def test_requirements_install_the_package_with_the_demo_backend() -> None:
    """pip resolves binder/requirements.txt (from the repo root, as repo2docker runs it) to this package."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--quiet",
            "--disable-pip-version-check",
            "--report",
            "-",
            "-r",
            str(BINDER / "requirements.txt"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    installs = json.loads(report.stdout)["install"]
    ours = [item for item in installs if item["metadata"]["name"] == project["name"]]
    assert len(ours) == 1, [item["metadata"]["name"] for item in installs]
    assert ours[0]["metadata"]["version"] == project["version"]
    assert Path(ours[0]["download_info"]["url"].removeprefix("file://")).resolve() == ROOT
    extras = set(ours[0].get("requested_extras") or [])
    assert extras, "the package must be installed with an extra that brings the demo backend"
    # Every requested extra pulls in the server extra (starlette + uvicorn), directly or via another extra.
    optional = project["optional-dependencies"]

    def closure(extra: str) -> set[str]:
        found = {extra}
        for dep in optional.get(extra, []):
            match = re.fullmatch(r"openai-magic\[([\w,\s-]+)\]", dep.replace(" ", ""))
            if match:
                for inner in match.group(1).split(","):
                    found |= closure(inner)
        return found

    covered = set().union(*(closure(extra) for extra in extras))
    deps = " ".join(dep for extra in covered for dep in optional.get(extra, []))
    for needed in ("starlette", "uvicorn", "jupyterlab", "ipykernel"):
        assert needed in deps or needed in " ".join(project["dependencies"]), needed


def test_postbuild_checks_the_install() -> None:
    """postBuild imports the package and its server, so a broken image fails at build time."""
    env = kernel_env()
    result = subprocess.run(
        ["bash", str(BINDER / "postBuild")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "openai_magic" in result.stdout


PROBE = """
import json, os, urllib.request
url = os.environ["OPENAI_MAGIC_DEMO_URL"]
with urllib.request.urlopen(url + "/models", timeout=10) as response:
    ids = [m["id"] for m in json.load(response)["data"]]
print("URL", url)
print("MODELS", " ".join(ids))
"""


def test_start_runs_the_demo_backend_then_the_command() -> None:
    """binder/start with a trivial command: the command sees a live backend at $OPENAI_MAGIC_DEMO_URL."""
    proc = subprocess.Popen(
        [str(BINDER / "start"), sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=kernel_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the backend stays in this process group, so we can stop it below
    )
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    assert proc.returncode == 0, err
    assert re.search(r"^URL http://127\.0\.0\.1:\d+/v1$", out, re.M), out
    models = re.search(r"^MODELS (.*)$", out, re.M)
    assert models, out
    assert "demo-chat" in models.group(1).split()
    assert "did not start" not in err
