"""First token: from the server sending it to the kernel publishing it, in a real kernel.

    .venv/bin/python bench/first_token.py [--runs 20] [--wait 0.3]

A loopback server answers every chat request like a model with a time to first token: it waits
`--wait` seconds (the client ticks meanwhile, as it does during any real wait), sends the first
content chunk and notes the time right after the socket took it, waits again, then sends the rest.
The kernel's iopub header says when the first display holding that text was published; the
difference is the arrival-to-publish time (both clocks are this machine's). The same is measured for
chatlab's approach (a display update per token) and llm's (print per token). Goal (issue 12): <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

from jupyter_client import KernelManager

ROOT = Path(__file__).resolve().parents[1]
FIRST = "Firsttoken"
sent_at: list[float] = []


def chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    body = {
        "id": "x",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wait: float) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    length = int(
        next(
            (
                line.split(b":")[1]
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            b"0",
        )
    )
    await reader.readexactly(length)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(wait)
    writer.write(chunk(FIRST))
    await writer.drain()
    sent_at.append(time.time())
    await asyncio.sleep(wait)
    writer.write(chunk(" and the rest.") + chunk(None, "stop") + b"data: [DONE]\n\n")
    await writer.drain()
    writer.close()


def serve(wait: float) -> tuple[str, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def start() -> None:
        server = await asyncio.start_server(lambda r, w: handle(r, w, wait), "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()

    threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True
    ).start()
    ready.wait()
    return f"http://127.0.0.1:{port[0]}/v1", loop


WAYS = {
    "ours": "%chat --no-history -p {url} -m m go",
    "full": (
        "from IPython.display import Markdown, display\nfrom openai_magic.core import providers\n"
        "_t, _h = '', display(Markdown(''), display_id=True)\n"
        "for _i in providers.custom({url!r}).create_completion('m', 'go', stream=True):\n"
        "    if isinstance(_i, str):\n        _t += _i\n        _h.update(Markdown(_t))"
    ),
    "print": (
        "from openai_magic.core import providers\n"
        "for _i in providers.custom({url!r}).create_completion('m', 'go', stream=True):\n"
        "    if isinstance(_i, str):\n        print(_i, end='', flush=True)"
    ),
}


def published_at(kc, code: str) -> float | None:
    msg_id = kc.execute(code)
    found = None
    while True:
        msg = kc.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return found
        text = json.dumps(msg["content"].get("data") or msg["content"].get("text") or "")
        if found is None and FIRST in text:
            found = datetime.datetime.fromisoformat(str(msg["header"]["date"])).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--wait", type=float, default=0.3)
    args = parser.parse_args()
    url, _ = serve(args.wait)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "OPENAI_BASE_URL"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["OPENAI_MAGIC_LOG"] = "0"
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(ROOT))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    try:
        published_at(kc, "%load_ext openai_magic")
        for way, template in WAYS.items():
            published_at(kc, template.format(url=url))  # warm up: imports, connection pool
            delays = []
            for _ in range(args.runs):
                sent_at.clear()
                when = published_at(kc, template.format(url=url))
                if when is not None and sent_at:
                    delays.append((when - sent_at[0]) * 1000)
            print(
                f"{way:<6} first token published {statistics.median(delays):6.2f} ms after it was sent "
                f"(median of {len(delays)}, max {max(delays):.2f} ms)",
                flush=True,
            )
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    sys.exit(main())
