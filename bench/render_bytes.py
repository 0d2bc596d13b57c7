"""Streamed answers in a real kernel: iopub bytes, kernel CPU and visible growth, for every answer shape.

    .venv/bin/python bench/render_bytes.py                       # all shapes, N=1000 and 2N, both paces
    .venv/bin/python bench/render_bytes.py --shapes code --paces 0.02 --n 500

In one real kernel (jupyter_client) against the embedded demo server, each shape (`many` blocks, or
ONE long `paragraph`, `code` block, `list`, `table`, and `mixed`) is streamed as N and 2N chunks at a
realistic pace (0.02 s: 50 tokens/s) and with no pacing, three ways, side by side:

- **ours**: `%%chat`, as a user runs it;
- **full**: chatlab's approach, the whole answer re-sent as Markdown on every token (`update_display`);
- **print**: llm's approach, each token printed (plain text, no Markdown rendering);
- **panel**: `await ChatPanel(...).send(prompt)`, counting the widget comm messages it sends.

For each it sums the JSON size (content + metadata) of every display/update/stream message the cell
published, the kernel's CPU time for the cell (`resource.getrusage`, all its threads) and the longest
gap between two updates the reader sees while tokens arrive. It then prints the ratios the issue
bounds: bytes(2N)/bytes(N) <= 2.2, ours <= full / 20, cpu(2N)/cpu(N) <= 2.3, longest gap <= 0.5 s.

`first_token.py` measures the time from the server sending the first token to the kernel publishing it.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import sys
from pathlib import Path

from jupyter_client import KernelManager

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openai_magic.server import DemoServer  # noqa: E402

PUBLISHED = ("display_data", "update_display_data", "stream", "comm_msg", "comm_open")
PANEL_SETUP = """
from openai_magic import ChatPanel
_panel = ChatPanel(provider={url!r}, model="demo-chat", history=False)
await _panel.models_loaded()
"""
PANEL = "await _panel.send({prompt!r})"
SHAPES = ("many", "paragraph", "code", "list", "table", "mixed")

# chatlab's approach: the whole answer as Markdown on every token, through the same core client.
FULL = """
from IPython.display import Markdown, display, update_display
from openai_magic.core import providers
_p = providers.custom({url!r})
_text, _handle = "", display(Markdown(""), display_id=True)
for _item in _p.create_completion("demo-chat", {prompt!r}, stream=True):
    if isinstance(_item, str):
        _text += _item
        _handle.update(Markdown(_text))
"""
# llm's approach: print each token as it comes.
PRINT = """
from openai_magic.core import providers
_p = providers.custom({url!r})
for _item in _p.create_completion("demo-chat", {prompt!r}, stream=True):
    if isinstance(_item, str):
        print(_item, end="", flush=True)
"""


def kernel_env(base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "OPENAI_BASE_URL"}
    env["OPENAI_MAGIC_DEMO_URL"] = base_url
    env["OPENAI_MAGIC_LOG"] = "0"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_cell(kc, code: str) -> list[dict]:
    msg_id = kc.execute(code)
    messages = []
    while True:
        msg = kc.get_iopub_msg(timeout=900)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
        messages.append(msg)


def cpu(kc) -> float:
    code = "import resource as _r; _u = _r.getrusage(_r.RUSAGE_SELF); print(_u.ru_utime + _u.ru_stime)"
    out = run_cell(kc, code)
    return float("".join(m["content"]["text"] for m in out if m["msg_type"] == "stream"))


def measure(kc, code: str, setup: str | None = None) -> dict[str, float]:
    if setup:
        run_cell(kc, setup)
    before = cpu(kc)
    messages = [m for m in run_cell(kc, code) if m["msg_type"] in PUBLISHED]
    seconds = cpu(kc) - before
    size = sum(len(json.dumps(m["content"])) + len(json.dumps(m["metadata"])) for m in messages)
    # Visible growth while tokens arrive: the gaps between the streamed updates (display ids; the
    # final one-output rendering comes after the last token and is not "while tokens arrive").
    streamed = [m for m in messages if m["content"].get("transient", {}).get("display_id")]
    times = [datetime.datetime.fromisoformat(str(m["header"]["date"])).timestamp() for m in streamed]
    gap = max((b - a for a, b in itertools.pairwise(times)), default=0.0)
    return {"bytes": size, "messages": len(messages), "cpu": seconds, "gap": gap}


def prompt_for(shape: str, n: int, pace: float) -> str:
    shaped = "" if shape == "many" else f" shape={shape}"
    return f"[demo tokens={n}{shaped}] [demo pace={pace}] go"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=SHAPES)
    parser.add_argument("--paces", nargs="+", type=float, default=[0.02, 0.0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per unpaced case (the median is kept)")
    ways = ["ours", "full", "print", "panel"]
    parser.add_argument("--ways", nargs="+", default=ways, choices=ways)
    args = parser.parse_args()
    with DemoServer(pace=0) as server:
        km = KernelManager(kernel_name="python3")
        km.start_kernel(env=kernel_env(server.base_url), cwd=str(ROOT))
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        try:
            run_cell(kc, "%load_ext openai_magic\n%chat --no-history warm up")
            rows = []
            for pace in args.paces:
                for shape in args.shapes:
                    result: dict[tuple[str, int], dict[str, float]] = {}
                    for way in args.ways:
                        for n in (args.n, 2 * args.n):
                            prompt = prompt_for(shape, n, pace)
                            code = {
                                "ours": f"%%chat --no-history\n{prompt}",
                                "full": FULL.format(url=server.base_url, prompt=prompt),
                                "print": PRINT.format(url=server.base_url, prompt=prompt),
                                "panel": PANEL.format(url=server.base_url, prompt=prompt),
                            }[way]
                            # Unpaced, how many updates fit into a 0.1 s stream is a matter of timing:
                            # the median of `--repeat` runs (paced runs are long and steady).
                            # A new panel for each run: its own widgets are not the answer's cost.
                            setup = PANEL_SETUP.format(url=server.base_url) if way == "panel" else None
                            runs = [measure(kc, code, setup) for _ in range(args.repeat if pace == 0 else 1)]
                            runs.sort(key=lambda r: r["bytes"])
                            result[(way, n)] = runs[len(runs) // 2]
                    rows.append((pace, shape, result))
                    report(pace, shape, result, args.n)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def report(pace: float, shape: str, r: dict, n: int) -> None:
    ours1, ours2 = r.get(("ours", n)), r.get(("ours", 2 * n))
    line = [f"pace {pace:<5} {shape:<9}"]
    for way in ("ours", "full", "print", "panel"):
        one, two = r.get((way, n)), r.get((way, 2 * n))
        if one and two:
            grow, spend = two["bytes"] / one["bytes"], two["cpu"] / max(one["cpu"], 1e-9)
            line.append(
                f"{way}: {one['bytes'] / 1024:8.1f} -> {two['bytes'] / 1024:8.1f} KB (x{grow:.2f}),"
                f" cpu {one['cpu']:.2f} -> {two['cpu']:.2f} s (x{spend:.2f})"
            )
    if ours1 and ours2 and ("full", n) in r:
        small, large = r[("full", n)]["bytes"] / ours1["bytes"], r[("full", 2 * n)]["bytes"] / ours2["bytes"]
        line.append(
            f"full/ours {small:.0f}x / {large:.0f}x, longest gap {max(ours1['gap'], ours2['gap']):.2f} s"
        )
    print(" | ".join(line), flush=True)


if __name__ == "__main__":
    main()
