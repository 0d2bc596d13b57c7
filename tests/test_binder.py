"""binder/ against the real Binder builder: repo2docker's plan for a clean copy, that plan replayed in a venv
with the Python it picks, the image launched through its real entrypoint; and the files' own checks."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from binder_support import ENTRYPOINT_SCRIPT, BuildPlan, ImageEnv, build_image_env, clean_copy, plan_build
from envs import ROOT, kernel_env
from packaging.specifiers import SpecifierSet

pytestmark = pytest.mark.binder

BINDER = ROOT / "binder"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REQUIRES_PYTHON = SpecifierSet(PROJECT["requires-python"])
POST_BUILD = r"^(\./)?binder/postBuild$"  # the Dockerfile's command that runs postBuild
BADGE = re.compile(
    r"\(https://mybinder\.org/v2/gh/[^/\s]+/[^/\s]+/[^?\s]+\?urlpath=lab/tree/([^)\s]+\.ipynb)\)"
)


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> BuildPlan:
    """What repo2docker would build for the repository as a push publishes it."""
    return plan_build(clean_copy(tmp_path_factory.mktemp("binder") / "openai_magic"))


@pytest.fixture(scope="module")
def image(plan: BuildPlan, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageEnv]:
    """The plan's assemble steps replayed in a venv with the image's Python (removed afterwards: ~300 MB)."""
    prefix = tmp_path_factory.mktemp("image") / "env"
    built = build_image_env(plan, prefix)
    yield built
    shutil.rmtree(prefix, ignore_errors=True)


def badge_notebook() -> str:
    """The notebook the README's Binder badge opens (its `urlpath=lab/tree/...`)."""
    found = BADGE.findall((ROOT / "README.md").read_text())
    assert len(found) == 1, "expected one mybinder.org badge link with urlpath=lab/tree/<notebook>"
    return found[0]


def test_builder_picks_a_python_that_satisfies_requires_python(plan: BuildPlan) -> None:
    """The Python of the image's base environment is one pyproject's requires-python accepts."""
    assert plan.python in REQUIRES_PYTHON, (
        f"Binder's image would run Python {plan.python}, but requires-python is {REQUIRES_PYTHON}: "
        f"`pip install -r binder/requirements.txt` would refuse it. Pin a Python in binder/runtime.txt.\n"
        f"{plan.log}"
    )
    assert plan.logged_python == f"{plan.python.major}.{plan.python.minor}", plan.log


def test_binder_python_is_pinned_not_the_builders_default(plan: BuildPlan) -> None:
    """The Python is ours (binder/runtime.txt), not a default the builder warns "will change"."""
    assert "Python version unspecified" not in plan.log, plan.log


def _requirements_installs(plan: BuildPlan) -> list[int]:
    found = plan.indices("RUN", r"\bpip install\b.*\s-r\s+\"?binder/requirements\.txt\"?$")
    assert found, f"the Dockerfile never installs binder/requirements.txt\n{plan}"
    return found


def test_builder_installs_requirements_after_copying_the_repository(plan: BuildPlan) -> None:
    """binder/requirements.txt installs `.`: it runs once the whole repository is in the image, from it."""
    installs = _requirements_installs(plan)
    assert min(installs) > plan.repository_copy, (
        f"requirements installed before the repository is copied\n{plan}"
    )
    workdirs = [i for i in plan.indices("WORKDIR", r".") if i < min(installs)]
    assert workdirs, plan
    assert plan.instructions[workdirs[-1]].args == "${REPO_DIR}", plan


def test_builder_runs_postbuild_after_the_install(plan: BuildPlan) -> None:
    """postBuild checks the install, so it runs after it."""
    post_build = plan.index("RUN", POST_BUILD)
    assert post_build > max(_requirements_installs(plan)), plan


def test_builder_starts_the_image_through_binder_start(plan: BuildPlan) -> None:
    """The image's entrypoint runs binder/start (then the notebook server) on every launch."""
    assert plan.env("R2D_ENTRYPOINT") == "${REPO_DIR}/binder/start", plan
    entrypoint = plan.instructions[plan.index("ENTRYPOINT", r".")]
    assert json.loads(entrypoint.args) == ["/usr/local/bin/repo2docker-entrypoint"], plan
    assert plan.copy_source("/usr/local/bin/repo2docker-entrypoint") == f"/{ENTRYPOINT_SCRIPT.name}", plan


def test_badge_opens_a_notebook_the_repository_publishes(plan: BuildPlan) -> None:
    """The badge's urlpath names a notebook that is in the published repository."""
    assert (plan.repo / badge_notebook()).is_file(), badge_notebook()


@pytest.mark.timeout(900)
def test_image_installs_and_postbuild_passes_in_binders_python(image: ImageEnv) -> None:
    """The Dockerfile's own assemble commands pass in a venv of the image's Python, without this checkout."""
    assert image.failure() is None, image.failure()
    commands = [command for command, _ in image.steps]
    assert any("binder/requirements.txt" in command for command in commands), commands
    post_build = [result for command, result in image.steps if re.search(POST_BUILD, command)]
    assert len(post_build) == 1, commands
    assert f"openai_magic {PROJECT['version']}" in post_build[0].stdout
    # Installed into the env (a notebook's kernel runs in notebooks/, where the source is not importable).
    where = image.run(
        'cd / && "$KERNEL_PYTHON_PREFIX/bin/python" -c "import openai_magic as m; print(m.__file__)"'
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(image.prefix), where.stdout


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
    project = PROJECT
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
    assert extras, "the package must be installed with the extra that brings the notebook stack"
    # The demo backend (starlette + uvicorn) comes with the package itself; the extra brings JupyterLab.
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


def assert_backend_seen(out: str, err: str = "") -> None:
    """PROBE's output: the command saw $OPENAI_MAGIC_DEMO_URL on loopback, serving the demo models."""
    assert re.search(r"^URL http://127\.0\.0\.1:\d+/v1$", out, re.M), out + err
    models = re.search(r"^MODELS (.*)$", out, re.M)
    assert models, out + err
    assert "demo-chat" in models.group(1).split()
    assert "did not start" not in out + err


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
    assert_backend_seen(out, err)


@pytest.mark.timeout(900)
def test_image_launch_starts_the_demo_backend_then_the_command(image: ImageEnv, tmp_path: Path) -> None:
    """Through the real repo2docker-entrypoint, binder/start brings the backend up, then runs the command."""
    returncode, out = image.launch(tmp_path, str(image.prefix / "bin" / "python"), "-c", PROBE)
    assert returncode == 0, out
    assert_backend_seen(out)
    # The entrypoint tees the server's output to $REPO_DIR/.jupyter-server-log.txt: it really ran.
    assert "MODELS " in (image.plan.repo / ".jupyter-server-log.txt").read_text()
    code = "import os; print('NOTEBOOK_REPLAY', os.environ.get('OPENAI_MAGIC_NOTEBOOK_REPLAY'))"
    returncode, out = image.launch(tmp_path, str(image.prefix / "bin" / "python"), "-c", code)
    assert returncode == 0 and "NOTEBOOK_REPLAY auto" in out, out  # notebooks that ship answers replay them


@pytest.mark.timeout(900)
def test_image_launch_runs_the_badge_notebook(image: ImageEnv, tmp_path: Path) -> None:
    """The notebook the badge opens runs top to bottom in the launched image, on binder/start's backend."""
    notebook = badge_notebook()
    jupyter = str(image.prefix / "bin" / "jupyter")
    out_dir = tmp_path / "executed"
    command = [jupyter, "nbconvert", "--to", "notebook", "--execute", "--output-dir", str(out_dir), notebook]
    returncode, out = image.launch(tmp_path, *command, "--ExecutePreprocessor.timeout=300")
    assert returncode == 0, out
    assert "did not start" not in out
    nb = nbformat.read(out_dir / Path(notebook).name, as_version=4)
    outputs = [output for cell in nb.cells for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"], out
    providers = {
        o.metadata["openai_magic"]["provider"] for o in outputs if "openai_magic" in o.get("metadata", {})
    }
    assert providers == {"Demo"}, providers
