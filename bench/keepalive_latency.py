"""Latency of small requests on one kept-alive connection to the demo server, before and after item 17.

    python bench/keepalive_latency.py [--requests 200]

Two servers, each in its own process, serve the same demo app with uvicorn:

- after: `DemoServer`, whose listening socket is created with IPPROTO_TCP, so asyncio sets
  TCP_NODELAY on every accepted connection;
- before: the same app on a socket created as DemoServer did before issue 11 (protocol 0, which
  asyncio does not recognise as TCP, so Nagle's algorithm stays on).

Three clients make `--requests` sequential non-streamed `[demo echo]` chats on one connection:
httpx (sync), curl (all URLs in one invocation, so it reuses its connection), and
openai_magic's `chat()`. The median and 90th percentile are reported; the first request (which
opens the connection) is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BODY = {"model": "demo-chat", "messages": [{"role": "user", "content": "[demo echo] hi"}]}


def serve(mode: str) -> None:
    """Serve the demo app ("after": DemoServer; "before": on a protocol-0 socket); print the base URL."""
    if mode == "after":
        from openai_magic.server import DemoServer

        server = DemoServer(pace=0).start()
        print(server.base_url, flush=True)
        sys.stdin.read()
        return
    import uvicorn

    from openai_magic.server import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # protocol 0: no TCP_NODELAY from asyncio
    sock.bind(("127.0.0.1", 0))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", flush=True)
    config = uvicorn.Config(create_app(pace=0), log_level="warning", lifespan="off", access_log=False)
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


def start(mode: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def with_httpx(base_url: str, n: int) -> list[float]:
    times = []
    with httpx.Client() as client:
        for _ in range(n + 1):
            start = time.perf_counter()
            client.post(f"{base_url}/chat/completions", json=BODY).raise_for_status()
            times.append(time.perf_counter() - start)
    return times[1:]


def with_curl(base_url: str, n: int) -> list[float]:
    data = json.dumps(BODY)
    command = ["curl", "-s", "--http1.1", "-H", "content-type: application/json"]
    for _ in range(n + 1):
        command += ["-d", data, "-o", "/dev/null", "-w", "%{time_total}\\n", f"{base_url}/chat/completions"]
        command.append("--next")
    out = subprocess.run(command[:-1], capture_output=True, text=True, check=True).stdout
    return [float(line) for line in out.split()][1:]


def with_openai_magic(base_url: str, n: int) -> list[float]:
    from openai_magic.core import providers

    provider = providers.custom(base_url, default_model="demo-chat")
    times = []
    for _ in range(n + 1):
        start = time.perf_counter()
        assert provider.chat("[demo echo] hi") == "[demo echo] hi"
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--serve", choices=["before", "after"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    clients = {"httpx": with_httpx, "openai_magic chat()": with_openai_magic}
    if shutil.which("curl"):
        clients["curl"] = with_curl
    print(f"{args.requests} sequential small requests on one kept-alive connection; milliseconds")
    print(f"{'server':<8} {'client':<22} {'median':>8} {'p90':>8}")
    for mode in ("before", "after"):
        process, base_url = start(mode)
        try:
            for name, run in clients.items():
                times = sorted(t * 1000 for t in run(base_url, args.requests))
                p90 = times[int(len(times) * 0.9)]
                print(f"{mode:<8} {name:<22} {statistics.median(times):>8.1f} {p90:>8.1f}")
        finally:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
