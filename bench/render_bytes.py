"""iopub bytes of a streamed `%%chat` answer: linear in its length, far below re-sending it whole.

    .venv/bin/python bench/render_bytes.py [--n 400] [--pace 0.005]

In a real kernel (jupyter_client), against the embedded demo server, streams N and 2N content
chunks (`[demo tokens=N] [demo pace=S]`) through `%%chat` and sums the JSON size (content +
metadata) of every display_data / update_display_data / stream message the cell published. The
naive renderer re-sends the whole answer as Markdown on every chunk; its bytes are computed from
the same chunks (only the `text/markdown` payload, so the comparison favours the naive side).
Requirements (issue 4): bytes(2N) / bytes(N) <= 2.2, and ours <= naive / 20.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from jupyter_client import KernelManager

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openai_magic.core import providers  # noqa: E402
from openai_magic.server import DemoServer  # noqa: E402

PUBLISHED = ("display_data", "update_display_data", "stream")


def kernel_env(base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "OPENAI_BASE_URL"}
    env["OPENAI_MAGIC_DEMO_URL"] = base_url
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_cell(kc, code: str) -> list[dict]:
    msg_id = kc.execute(code)
    messages = []
    while True:
        msg = kc.get_iopub_msg(timeout=600)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
        messages.append(msg)


def measure(kc, prompt: str) -> tuple[int, int]:
    messages = [m for m in run_cell(kc, f"%%chat --no-history\n{prompt}") if m["msg_type"] in PUBLISHED]
    size = sum(len(json.dumps(m["content"])) + len(json.dumps(m["metadata"])) for m in messages)
    return size, len(messages)


def naive_bytes(base_url: str, prompt: str) -> tuple[int, int]:
    provider = providers.custom(base_url)
    chunks = [c for c in provider.create_completion("demo-chat", prompt, stream=True) if isinstance(c, str)]
    answer, total = "", 0
    for chunk in chunks:
        answer += chunk
        total += len(json.dumps({"text/markdown": answer}))
    return total, len(answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="content chunks of the shorter answer")
    parser.add_argument("--pace", type=float, default=0.005, help="seconds between chunks")
    args = parser.parse_args()
    with DemoServer(pace=0) as server, tempfile.TemporaryDirectory() as cwd:
        km = KernelManager(kernel_name="python3")
        km.start_kernel(env=kernel_env(server.base_url), cwd=cwd)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            run_cell(kc, "%load_ext openai_magic")
            run_cell(kc, "%chat warm-up")
            rows = []
            for n in (args.n, 2 * args.n):
                prompt = f"[demo tokens={n}] [demo pace={args.pace}] go"
                ours, count = measure(kc, prompt)
                naive, chars = naive_bytes(server.base_url, prompt)
                rows.append((n, chars, count, ours, naive))
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    print(f"%%chat streaming, demo server, pace {args.pace}s/chunk, throttle 15 updates/s")
    print(
        f"{'chunks':>7} {'answer chars':>12} {'messages':>9} {'iopub bytes':>12} "
        f"{'naive bytes':>13} {'naive/ours':>10}"
    )
    for n, chars, count, ours, naive in rows:
        print(f"{n:>7} {chars:>12} {count:>9} {ours:>12,} {naive:>13,} {naive / ours:>9.1f}x")
    ratio = rows[1][3] / rows[0][3]
    worst = min(naive / ours for *_, ours, naive in rows)
    print(
        f"bytes(2N)/bytes(N) = {ratio:.2f} (must be <= 2.2); ours is 1/{worst:.0f} of naive (must be <= 1/20)"
    )
    sys.exit(0 if ratio <= 2.2 and worst >= 20 else 1)


if __name__ == "__main__":
    main()
