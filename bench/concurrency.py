"""Many concurrent streams: wall time for 200 and 1,000 at once, and how it scales.

    python bench/concurrency.py [--counts 200,1000] [--tokens 20] [--pace 0.02] [--repeat 3]

The embedded DemoServer runs in its own process; every stream asks for `[demo tokens=N]` with
`[demo pace=S]` seconds between chunks (0.02 s, the demo's default, so a stream lasts as long as a
short real answer; `--pace 0` measures the per-request overhead alone), and all of them start
together (asyncio.gather). Reported per client: the best wall time of
`--repeat` runs for each count, and time(largest) / time(smallest), which near-linear scaling
keeps at about the ratio of the counts (issue 11 asks for time(1000) / time(200) <= 7).

- openai_magic: its shared pool, 1,000 connections per server in shards of 25;
- httpx, one pool of 1,000: one `httpx.AsyncClient` with the openai SDK's limits (1,000
  connections, 100 kept alive), where httpcore's pool bookkeeping grows with the square of the
  number of connections;
- httpx defaults: `httpx.AsyncClient()` (100 connections, 20 kept alive), openai_magic's pool
  before issue 11: requests beyond 100 queue.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openai_magic.core import providers, transport

Runner = Callable[[int], Awaitable[int]]


def start_demo_server() -> tuple[subprocess.Popen[str], str]:
    code = (
        "import sys; from openai_magic.server import DemoServer;"
        "s = DemoServer(pace=0).start(); print(s.base_url, flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def ours(base_url: str, prompt: str) -> Runner:
    provider = providers.custom(base_url, default_model="demo-chat")

    async def one() -> int:
        items = [item async for item in provider.create_async_generator("demo-chat", prompt, stream=True)]
        return sum(1 for item in items if type(item) is str)

    async def run(count: int) -> int:
        return sum(await asyncio.gather(*(one() for _ in range(count))))

    return run


def raw_httpx(base_url: str, prompt: str, client: httpx.AsyncClient) -> Runner:
    body = {"model": "demo-chat", "messages": [{"role": "user", "content": prompt}], "stream": True}

    async def one() -> int:
        count = 0
        async with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                count += line.startswith("data: {") and '"content"' in line
        return count

    async def run(count: int) -> int:
        return sum(await asyncio.gather(*(one() for _ in range(count))))

    return run


async def bench(
    base_url: str, counts: list[int], tokens: int, pace: float, repeat: int
) -> dict[str, dict[int, float]]:
    prompt = f"[demo tokens={tokens}] [demo pace={pace}] go"
    wide = httpx.AsyncClient(
        timeout=600, limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100)
    )
    default = httpx.AsyncClient(timeout=600)
    runners: dict[str, Runner] = {
        "openai_magic": ours(base_url, prompt),
        "httpx, one pool of 1,000": raw_httpx(base_url, prompt, wide),
        "httpx defaults": raw_httpx(base_url, prompt, default),
    }
    best: dict[str, dict[int, float]] = {name: {} for name in runners}
    for run in runners.values():
        await run(20)  # warm-up
    for _ in range(repeat):
        for count in counts:
            for name, run in runners.items():
                start = time.perf_counter()
                received = await run(count)
                seconds = time.perf_counter() - start
                assert received >= count * tokens, (name, received)
                best[name][count] = min(seconds, best[name].get(count, seconds))
    await wide.aclose()
    await default.aclose()
    await transport.aclose()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", default="200,1000", help="numbers of concurrent streams")
    parser.add_argument("--tokens", type=int, default=20, help="content chunks per stream")
    parser.add_argument("--pace", type=float, default=0.02, help="seconds between a stream's chunks")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))
    process, base_url = start_demo_server()
    try:
        best = asyncio.run(bench(base_url, counts, args.tokens, args.pace, args.repeat))
    finally:
        process.kill()
        process.wait()
    header = "".join(f"{f'{c} streams':>14}" for c in counts)
    print(f"{args.tokens} chunks per stream, {args.pace} s apart, best of {args.repeat}; seconds")
    print(f"{'client':<32}{header}{f'{counts[-1]}/{counts[0]}':>12}")
    for name, times in best.items():
        cells = "".join(f"{times[c]:>14.2f}" for c in counts)
        print(f"{name:<32}{cells}{times[counts[-1]] / times[counts[0]]:>12.1f}")


if __name__ == "__main__":
    main()
