"""Streaming throughput: our `create_async_generator` vs the openai SDK vs raw httpx + json.loads.

    python bench/stream_throughput.py [--n 20000] [--repeat 3] [--server demo|static]

`--server demo` (default) streams `[demo tokens=N]` from the embedded DemoServer(pace=0), run in a
subprocess so the server does not share the client's GIL. `--server static` serves N pre-rendered
chat.completion.chunk events from a minimal asyncio server, which measures the clients alone (the
demo server may be the bottleneck that makes all three look alike). Each client streams the same
answer, interleaved, `--repeat` times; the best run of each is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openai_magic.core import providers, transport

PROMPT = "[demo tokens={n}]"


def start_demo_server() -> tuple[subprocess.Popen[str], str]:
    """DemoServer(pace=0) in a child process; returns (process, base_url)."""
    code = (
        "import sys, time; from openai_magic.server import DemoServer;"
        "s = DemoServer(pace=0).start(); print(s.base_url, flush=True); sys.stdin.read()"
    )
    root = str(Path(__file__).resolve().parent.parent)
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def static_stream(n: int) -> bytes:
    """N OpenAI-format content chunks, a finish chunk, a usage chunk and [DONE], as one body."""
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "demo-chat"}
    events = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    events += [
        {**head, "choices": [{"index": 0, "delta": {"content": f"word{i} "}, "finish_reason": None}]}
        for i in range(n)
    ]
    events.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({**head, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": n}})
    lines = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events]
    return b"".join(lines) + b"data: [DONE]\n\n"


async def start_static_server(body: bytes) -> tuple[asyncio.AbstractServer, str]:
    """A minimal HTTP/1.1 server answering every request with `body` as an event stream."""
    header = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(header)
                for i in range(0, len(body), 16384):  # in network-sized pieces, like a real stream
                    writer.write(body[i : i + 16384])
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # client gone, or the benchmark is over

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1"


async def ours(base_url: str, n: int) -> int:
    provider = providers.custom(base_url, default_model="demo-chat")
    count = 0
    async for item in provider.create_async_generator("demo-chat", PROMPT.format(n=n), stream=True):
        if type(item) is str:
            count += 1
    return count


async def openai_sdk(base_url: str, n: int, client: object) -> int:
    stream = await client.chat.completions.create(  # type: ignore[attr-defined]
        model="demo-chat", messages=[{"role": "user", "content": PROMPT.format(n=n)}], stream=True
    )
    count = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            count += 1
    return count


async def raw_httpx(base_url: str, n: int, client: httpx.AsyncClient) -> int:
    body = {
        "model": "demo-chat",
        "messages": [{"role": "user", "content": PROMPT.format(n=n)}],
        "stream": True,
    }
    count = 0
    async with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = json.loads(line[6:])
                choices = chunk["choices"]
                if choices and choices[0]["delta"].get("content"):
                    count += 1
    return count


async def timed(run: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    start = time.perf_counter()
    count = await run()
    return time.perf_counter() - start, count


async def bench(base_url: str, n: int, repeat: int) -> dict[str, tuple[float, int]]:
    import openai

    sdk_client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    raw_client = httpx.AsyncClient(timeout=120)
    runners: dict[str, Callable[[], Awaitable[int]]] = {
        "openai_magic": lambda: ours(base_url, n),
        "openai SDK": lambda: openai_sdk(base_url, n, sdk_client),
        "httpx + json.loads": lambda: raw_httpx(base_url, n, raw_client),
    }
    best: dict[str, tuple[float, int]] = {}
    for run in runners.values():  # warm-up: connections, imports
        await run()
    for _ in range(repeat):
        for name, run in runners.items():
            seconds, count = await timed(run)
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, count)
    await sdk_client.close()
    await raw_client.aclose()
    await transport.aclose()
    return best


def report(best: dict[str, tuple[float, int]], label: str) -> None:
    rates = {name: count / seconds for name, (seconds, count) in best.items()}
    print(f"\n{label}")
    print(f"{'client':<20} {'chunks':>8} {'seconds':>9} {'chunks/s':>11}")
    for name, (seconds, count) in best.items():
        print(f"{name:<20} {count:>8} {seconds:>9.3f} {rates[name]:>11,.0f}")
    ours_rate = rates["openai_magic"]
    print(f"openai_magic / openai SDK speed: {ours_rate / rates['openai SDK']:.2f}x (must be >= 1.0)")
    print(f"raw httpx / openai_magic time:   {rates['httpx + json.loads'] / ours_rate:.2f}x (must be <= 1.3)")


async def main_async(args: argparse.Namespace) -> None:
    if args.server in ("demo", "both"):
        process, base_url = start_demo_server()
        try:
            best = await bench(base_url, args.n, args.repeat)
        finally:
            process.kill()
            process.wait()
        report(best, f"demo server (DemoServer(pace=0), subprocess), N={args.n}, best of {args.repeat}")
    if args.server in ("static", "both"):
        server, base_url = await start_static_server(static_stream(args.n))
        try:
            best = await bench(base_url, args.n, args.repeat)
        finally:
            server.close()
        report(best, f"static pre-rendered stream (clients only), N={args.n}, best of {args.repeat}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="content chunks per stream (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per client; the best is reported")
    parser.add_argument("--server", choices=["demo", "static", "both"], default="both")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
