"""The real Binder builder (repo2docker) on a clean copy of this repository: its plan, and the image's steps.

repo2docker needs Docker to build, not to plan: `--no-build --debug` prints the Dockerfile Binder would
build. `plan_build` reads that Dockerfile and the builder's log; `ImageEnv` replays the Dockerfile's
assemble steps (pip install, postBuild) in a venv made with the Python the builder picked.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.version import InvalidVersion, Version

with warnings.catch_warnings():
    # repo2docker still imports python-json-logger's old module name; not ours to fix.
    warnings.filterwarnings("ignore", "pythonjsonlogger.jsonlogger has been moved", DeprecationWarning)
    import repo2docker.buildpacks
    from repo2docker.buildpacks.base import BuildPack

ROOT = Path(__file__).resolve().parent.parent
BUILDPACKS = Path(repo2docker.buildpacks.__file__).parent
# The real script the image's ENTRYPOINT runs: it execs $R2D_ENTRYPOINT (binder/start) with the command.
ENTRYPOINT_SCRIPT = BUILDPACKS / "repo2docker-entrypoint"
# The image's base conda environment already holds these at the versions its lock file pins; the
# Dockerfile's `pip install -r binder/requirements.txt` builds on them, so the venv starts from them too.
BASE_PACKAGES = ("pip", "ipykernel", "ipywidgets", "jupyter_server", "jupyterlab", "notebook")
STEP_TIMEOUT = 600


def clean_copy(dest: Path) -> Path:
    """The repository as a push publishes it: the files git knows (tracked, or new and not ignored).

    No .git, .venv or caches, so the builder sees what Binder would clone, not this work tree's extras.
    """
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to tell which files a push would publish")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree will not be published
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)  # keeps the executable bit repo2docker relies on
    return dest


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined: `RUN`, `pip install ...`."""

    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile in order (comments and blank lines dropped)."""
    instructions: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        pending = ""
        instructions.append(Instruction(keyword.upper(), args.strip()))
    return instructions


@dataclass(frozen=True, repr=False)
class BuildPlan:
    """What repo2docker would build for `repo`: its Dockerfile (parsed) and its log."""

    repo: Path
    dockerfile: str
    log: str
    instructions: list[Instruction] = field(default_factory=list)

    def indices(self, keyword: str, pattern: str) -> list[int]:
        """Positions of the `keyword` instructions whose arguments match the regex `pattern`."""
        return [
            i
            for i, ins in enumerate(self.instructions)
            if ins.keyword == keyword and re.search(pattern, ins.args)
        ]

    def index(self, keyword: str, pattern: str) -> int:
        """Position of the one `keyword` instruction matching `pattern` (an assertion error otherwise)."""
        found = self.indices(keyword, pattern)
        assert len(found) == 1, f"expected one {keyword} matching {pattern!r}, found {len(found)}:\n{self}"
        return found[0]

    def env(self, name: str) -> str:
        """The value the Dockerfile's last `ENV name=...` gives (quotes removed)."""
        i = self.indices("ENV", rf"^{re.escape(name)}=")[-1]
        return self.instructions[i].args.partition("=")[2].strip('"')

    def copy_source(self, destination: str) -> str:
        """The build-context path the Dockerfile COPYs to `destination`."""
        i = self.index("COPY", rf"\s{re.escape(destination)}$")
        return self.instructions[i].args.split()[-2]

    @property
    def repository_copy(self) -> int:
        """Position of the COPY that puts the whole repository into the image."""
        return self.index("COPY", r"(^|\s)src/ \$\{REPO_DIR\}/$")

    @property
    def assemble_commands(self) -> list[str]:
        """The RUN commands after the repository is copied in: pip install, postBuild, chmods."""
        after = self.instructions[self.repository_copy + 1 :]
        return [ins.args for ins in after if ins.keyword == "RUN"]

    @property
    def base_lock(self) -> Path:
        """The frozen conda environment (in repo2docker's package) the image is built from."""
        source = self.copy_source("/tmp/env/environment.lock")
        locks = [
            lock
            for lock in sorted((BUILDPACKS / "conda").glob("environment*.lock"))
            if BuildPack.generate_build_context_filename(str(lock))[0] == source
        ]
        assert len(locks) == 1, f"no lock file of repo2docker matches {source}"
        return locks[0]

    @property
    def locked(self) -> dict[str, str]:
        """Package name -> version in the image's base environment (a conda @EXPLICIT lock)."""
        versions: dict[str, str] = {}
        for line in self.base_lock.read_text().splitlines():
            if line.startswith("https://"):
                filename = line.split("#")[0].rsplit("/", 1)[-1]
                name, version, _build = re.sub(r"\.(conda|tar\.bz2)$", "", filename).rsplit("-", 2)
                versions[name] = version
        return versions

    @property
    def python(self) -> Version:
        """The Python the image runs: the version its base environment's lock installs."""
        return Version(self.locked["python"])

    @property
    def logged_python(self) -> str:
        """The Python (x.y) the builder says it picked, from its own log line."""
        found = re.findall(r"Building conda environment for python=(\S+)", self.log)
        assert len(found) == 1, self.log
        return found[0]

    def __repr__(self) -> str:
        return f"BuildPlan({str(self.repo)!r})"

    def __str__(self) -> str:
        return f"--- builder log ---\n{self.log}\n--- Dockerfile ---\n{self.dockerfile}"


def plan_build(repo: Path) -> BuildPlan:
    """Run `repo2docker --no-build --debug --no-run repo`: the Dockerfile (stdout) and log (stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "repo2docker", "--no-build", "--debug", "--no-run", str(repo)],
        cwd=repo.parent,  # repo2docker also looks for its own config in the working directory
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    assert result.returncode == 0, f"repo2docker failed:\n{result.stderr}\n{result.stdout}"
    return BuildPlan(repo, result.stdout, result.stderr, parse_dockerfile(result.stdout))


def _minor_of(python: Path) -> str | None:
    """'3.12' when `python` runs and can make a venv with pip; None for a pyenv shim of another version."""
    try:
        result = subprocess.run(
            [str(python), "-c", "import ensurepip, sys, venv; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _patch_key(path: Path) -> Version:
    """Newest patch release first when sorting pyenv's versions/<x.y.z>/ folders."""
    try:
        return Version(path.parent.parent.name)
    except InvalidVersion:
        return Version("0")


def find_python(minor: str) -> Path | None:
    """An interpreter of version `minor` (e.g. '3.12') on this machine: on PATH, from pyenv, or system."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [Path(found)] if (found := shutil.which(f"python{minor}")) else []
    candidates += sorted(pyenv.glob(f"versions/{minor}.*/bin/python{minor}"), key=_patch_key, reverse=True)
    candidates += [Path(prefix) / f"python{minor}" for prefix in ("/usr/local/bin", "/usr/bin")]
    return next((c for c in candidates if c.exists() and _minor_of(c) == minor), None)


@dataclass
class ImageEnv:
    """A venv standing in for the image's environment, with the image's variables around it."""

    plan: BuildPlan
    prefix: Path
    steps: list[tuple[str, subprocess.CompletedProcess[str]]] = field(default_factory=list, repr=False)

    @property
    def env(self) -> dict[str, str]:
        """The image's variables: REPO_DIR is HOME, the env's bin/ on PATH; nothing of this checkout."""
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
        outside = [p for p in env.get("PATH", "").split(os.pathsep) if p and not Path(p).is_relative_to(ROOT)]
        repo = str(self.plan.repo)
        env.update(
            HOME=repo,
            REPO_DIR=repo,
            NB_PYTHON_PREFIX=str(self.prefix),
            KERNEL_PYTHON_PREFIX=str(self.prefix),
            PYTHONUNBUFFERED="1",
            # ${HOME}/.local/bin and ${REPO_DIR}/.local/bin (one folder here), then the env, as in the image
            PATH=os.pathsep.join([f"{repo}/.local/bin", str(self.prefix / "bin"), *outside]),
        )
        return env

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        """Run one Dockerfile RUN command as Docker does (`/bin/sh -c`), in the image's working directory."""
        result = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=self.plan.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
        )
        self.steps.append((command, result))
        return result

    def launch(self, tmp: Path, *command: str) -> tuple[int, str]:
        """Start the image as a container does: repo2docker-entrypoint -> $R2D_ENTRYPOINT -> `command`.

        Returns the exit status and the output (the entrypoint merges stdout and stderr).
        """
        assert self.failure() is None, self.failure()
        repo = str(self.plan.repo)
        entrypoint = self.plan.env("R2D_ENTRYPOINT").replace("${REPO_DIR}", repo)
        proc = subprocess.Popen(
            [str(self.prefix / "bin" / "python"), str(ENTRYPOINT_SCRIPT), *command],
            cwd=repo,
            env={**self.env, "R2D_ENTRYPOINT": entrypoint, "TMPDIR": str(tmp)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # binder/start's background backend joins this group: stopped below
        )
        try:
            out, _ = proc.communicate(timeout=STEP_TIMEOUT)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        return proc.returncode, out

    def failure(self) -> str | None:
        """The first step that failed, with its output, or None when every step succeeded."""
        for command, result in self.steps:
            if result.returncode != 0:
                return f"`{command}` exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return None


def build_image_env(plan: BuildPlan, prefix: Path) -> ImageEnv:
    """A venv with the builder's Python, seeded like the base env, then the Dockerfile's assemble steps.

    Stops at the first failing step (see `ImageEnv.failure`). Skips when that Python is not installed.
    """
    minor = f"{plan.python.major}.{plan.python.minor}"
    python = find_python(minor)
    if python is None:
        pytest.skip(
            f"Python {minor}, the version Binder's image runs, is not on this machine "
            f"(looked for python{minor} on PATH, in pyenv's versions/, /usr/local/bin and /usr/bin)"
        )
    image = ImageEnv(plan, prefix)
    seed = " ".join(shlex.quote(f"{name}=={plan.locked[name]}") for name in BASE_PACKAGES)
    for command in [
        f"{shlex.quote(str(python))} -m venv {shlex.quote(str(prefix))}",
        f'"$KERNEL_PYTHON_PREFIX/bin/python" -m pip install --no-cache-dir -q {seed}',
        *plan.assemble_commands,
    ]:
        if image.run(command).returncode != 0:
            break
    return image
