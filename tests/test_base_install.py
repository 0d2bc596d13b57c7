"""`pip install openai-magic` (no extras) into an empty venv, then `%chat hello` with nothing configured.

The default path of a fresh install is the embedded demo backend; it must work without any extra.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest
from envs import ROOT, kernel_env

pytestmark = [pytest.mark.install, pytest.mark.timeout(600)]


def test_a_plain_install_answers_chat_hello_from_the_demo_backend(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    source = tmp_path / "src"
    # A clean copy of the package (no .venv, no build outputs), as pip would get it from a sdist.
    files = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "ls-files",
            "-co",
            "--exclude-standard",
            "pyproject.toml",
            "README.md",
            "openai_magic",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in files:
        target = source / name
        if (ROOT / name).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((ROOT / name).read_bytes())
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in kernel_env().items() if k not in {"PYTHONPATH", "OPENAI_MAGIC_DEMO_URL"}}
    env["OPENAI_MAGIC_LOG"] = "0"
    code = (
        "ip = get_ipython(); ip.run_line_magic('load_ext', 'openai_magic'); "
        "ip.run_line_magic('chat', '-o answer hello')\n"
        "import openai_magic, sys; print('ANSWER', bool(answer), openai_magic.__file__)"
    )
    result = subprocess.run(
        [str(python), "-m", "IPython", "--quick", "--no-banner", "--colors=nocolor", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "ModuleNotFoundError" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert "embedded demo backend" in result.stdout
    assert f"ANSWER True {env_dir}" in result.stdout, result.stdout + result.stderr
    freeze = subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True
    ).stdout.lower()
    assert "\njupyterlab==" not in freeze and "\nstarlette==" in freeze  # the base install, no extras
    assert sys.executable != str(python)
