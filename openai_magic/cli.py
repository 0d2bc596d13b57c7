"""`openai-magic serve | demo`: run the demo backend, or open (or execute) the quickstart notebook.

Nothing here ever prints an API key: messages name the variable, never its value.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

QUICKSTART = Path("notebooks") / "01_quickstart.ipynb"
DEMO_URL_VAR = "OPENAI_MAGIC_DEMO_URL"
CELL_TIMEOUT = 120


class CLIError(Exception):
    """A failure with a message for the user (printed without a traceback)."""


def _parser() -> argparse.ArgumentParser:
    from .server.runner import add_serve_arguments

    parser = argparse.ArgumentParser(
        prog="openai-magic", description="Chat with OpenAI-compatible models in Jupyter."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{serve,demo}")
    serve = commands.add_parser("serve", help="run the built-in OpenAI-compatible demo server")
    add_serve_arguments(serve)
    demo = commands.add_parser(
        "demo",
        help="open the quickstart notebook in JupyterLab (demo backend when no OPENAI_API_KEY is set)",
    )
    demo.add_argument(
        "--execute", action="store_true", help="run the notebook headless instead of opening it"
    )
    demo.add_argument("--output", type=Path, help="where --execute writes the executed copy")
    demo.add_argument("--notebook", type=Path, help=f"notebook to open or run (default: {QUICKSTART})")
    demo.add_argument("--port", type=int, help="JupyterLab's port")
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    return parser


def find_notebook(explicit: Path | None) -> Path:
    """The notebook to use: `--notebook`, else notebooks/01_quickstart.ipynb near cwd or the package."""
    if explicit is not None:
        if not explicit.is_file():
            raise CLIError(f"notebook not found: {explicit}")
        return explicit.resolve()
    cwd = Path.cwd().resolve()
    candidates = [base / QUICKSTART for base in (cwd, *cwd.parents)]
    candidates.append(Path(__file__).resolve().parent.parent / QUICKSTART)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise CLIError(
        f"cannot find {QUICKSTART} in {cwd} or its parents; run from the openai_magic checkout "
        "or pass --notebook PATH"
    )


def _with_package_on_path(env: dict[str, str]) -> dict[str, str]:
    """Run from a source checkout (not pip-installed)? Let the kernel import this same openai_magic."""
    root = str(Path(__file__).resolve().parent.parent)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if "site-packages" not in root and root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return env


@contextlib.contextmanager
def demo_backend(pace: float | None) -> Iterator[dict[str, str]]:
    """The environment for what `demo` launches: the user's key, or a running embedded server."""
    env = _with_package_on_path(dict(os.environ))
    if env.get("OPENAI_API_KEY"):
        print("Using OPENAI_API_KEY from the environment.", flush=True)
        yield env
        return
    if env.get(DEMO_URL_VAR):
        print(f"Using the demo backend at {DEMO_URL_VAR}={env[DEMO_URL_VAR]}", flush=True)
        yield env
        return
    from .server import DemoServer

    with DemoServer(pace=pace) as server:
        print(f"No OPENAI_API_KEY set: built-in demo backend at {server.base_url}", flush=True)
        env[DEMO_URL_VAR] = server.base_url
        yield env


def execute(notebook: Path, output: Path, env: dict[str, str]) -> str:
    """Run every cell in a fresh python3 kernel and write the executed copy; return a summary."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    started = time.monotonic()
    try:
        client.execute(env=env)  # passed on to the kernel manager: the kernel's environment
    except (CellExecutionError, CellTimeoutError) as exc:
        nbformat.write(nb, output)
        raise CLIError(f"{notebook.name}: {_failed_cell(nb, exc)} (partial output in {output})") from None
    nbformat.write(nb, output)
    cells = sum(1 for cell in nb.cells if cell.cell_type == "code")
    return f"executed {notebook.name}: {cells} code cells in {time.monotonic() - started:.1f} s -> {output}"


def _failed_cell(nb: object, exc: Exception) -> str:
    for index, cell in enumerate(nb.cells, 1):  # type: ignore[attr-defined]
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {index} failed: {out.get('ename')}: {out.get('evalue')}"
    return f"a cell failed or timed out: {type(exc).__name__}"


def _redact(text: str) -> str:
    key = os.environ.get("OPENAI_API_KEY")
    return text.replace(key, "***") if key and len(key) >= 4 else text


def run_demo(args: argparse.Namespace) -> int:
    """`openai-magic demo`: JupyterLab on the quickstart, or `--execute` it headless."""
    notebook = find_notebook(args.notebook)
    if args.execute:
        output = args.output or notebook.with_name(notebook.stem + ".executed.ipynb")
        with demo_backend(pace=0) as env:
            print(execute(notebook, output.resolve(), env), flush=True)
        return 0
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={notebook.parent}",
        # JupyterLab prints (and opens) its default URL: make that the notebook, not the Launcher.
        f"--LabApp.default_url=/lab/tree/{quote(notebook.name)}",
    ]
    if args.port is not None:
        command.append(f"--port={args.port}")
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers often run as root; JupyterLab refuses without this
    with demo_backend(pace=None) as env:
        child = subprocess.Popen(command, cwd=notebook.parent, env=env)
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return child.wait()
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop JupyterLab, then (leaving `with`) the server
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `openai-magic` command."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from .server import serve

            serve(args.host, args.port, args.api_key, args.pace)
            return 0
        return run_demo(args)
    except (CLIError, RuntimeError) as exc:
        print(f"openai-magic: error: {_redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("openai-magic: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
