"""The first request in a fresh process: how long it takes, and what building its client costs.

    python bench/cold_start.py [--runs 10] [--compare-with /path/to/other/checkout]

A DemoServer runs in its own process. Each run starts a new Python process that imports the core
(not timed), then times its first `chat()` against the server's `http://` loopback URL, and,
separately, building a client for that URL: `transport.get_client` (a TLS context only for
https, built once per process) against a plain `httpx.AsyncClient()` (which loads the CA bundle
for every client, as openai_magic did before issue 11). Medians over `--runs` processes.
`--compare-with` also times the first `chat()` of another checkout (e.g. `git archive main`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import asyncio, json, sys, time
import httpx
from openai_magic.core import providers, transport
base = sys.argv[1]
provider = providers.custom(base, default_model="demo-chat")
start = time.perf_counter()
assert provider.chat("[demo echo] hi") == "[demo echo] hi"
first = time.perf_counter() - start

async def clients():
    start = time.perf_counter()
    transport.get_client(base.replace("127.0.0.1", "localhost"))  # a new pool for the same kind of URL
    ours = time.perf_counter() - start
    start = time.perf_counter()
    httpx.AsyncClient()
    plain = time.perf_counter() - start
    return ours, plain

ours, plain = asyncio.run(clients()) if len(sys.argv) < 3 else (0.0, 0.0)
print(json.dumps({"first": first, "ours": ours, "plain": plain}))
"""


def run(base_url: str, code_root: Path, clients: bool = True) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    argv = [sys.executable, "-c", PROBE, base_url] + ([] if clients else ["first-only"])
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=True, cwd="/").stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--compare-with", type=Path)
    args = parser.parse_args()
    code = (
        "import sys; from openai_magic.server import DemoServer;"
        "s = DemoServer(pace=0).start(); print(s.base_url, flush=True); sys.stdin.read()"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        ours = [run(base_url, ROOT) for _ in range(args.runs)]

        def show(label: str, runs: list[dict[str, float]], field: str) -> None:
            print(f"{label:<45}{statistics.median(r[field] for r in runs) * 1000:6.1f}")

        print(f"median of {args.runs} fresh processes, milliseconds")
        show("first chat() over http://", ours, "first")
        if args.compare_with:
            other = [run(base_url, args.compare_with.resolve(), clients=False) for _ in range(args.runs)]
            show(f"first chat() ({args.compare_with.name})", other, "first")
        show("building a client: transport.get_client", ours, "ours")
        show("building a client: httpx.AsyncClient()", ours, "plain")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
