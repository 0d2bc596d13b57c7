"""`%load_ext openai_magic` in fresh processes: median wall time (target < 100 ms), heavy imports checked.

    .venv/bin/python bench/load_time.py [--runs 15] [--ext openai_magic]

Each run starts a new Python process, creates an IPython shell (not timed), then times
`%load_ext` alone and reports which heavy modules (httpx, markdown_it, ipywidgets, the core
template) it pulled in; there must be none.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("httpx", "markdown_it", "ipywidgets", "openai_magic.core.template")

PROBE = """
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
before = set(sys.modules)
start = time.perf_counter()
shell.run_line_magic("load_ext", {ext!r})
elapsed = time.perf_counter() - start
heavy = [m for m in {heavy!r} if m in sys.modules and m not in before]
print(json.dumps({{"seconds": elapsed, "heavy": heavy}}))
"""


def run_once(ext: str) -> dict:
    code = PROBE.format(ext=ext, heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--ext", default="openai_magic")
    args = parser.parse_args()
    results = [run_once(args.ext) for _ in range(args.runs)]
    times = sorted(r["seconds"] * 1000 for r in results)
    heavy = sorted({m for r in results for m in r["heavy"]})
    print(f"%load_ext {args.ext}: {args.runs} fresh processes")
    print(f"  median {statistics.median(times):.1f} ms  (min {times[0]:.1f}, max {times[-1]:.1f})")
    print(f"  heavy modules imported by load_ext: {', '.join(heavy) or 'none'}")
    ok = statistics.median(times) < 100 and not heavy
    print("  OK: under 100 ms, lazy imports" if ok else "  FAIL: over 100 ms or heavy imports")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
