"""Memory of one long stream: peak RSS growth against the answer's size, per client, fresh processes.

    python bench/stream_memory.py [--n 1000000] [--piece ab] [--compare-with /path/to/other/checkout]

A static server (its own process) streams N `chat.completion.chunk` events whose content is
`--piece` (2 characters by default: 1,000,000 chunks make a 2 MB answer). Each client runs in a
fresh process, warms up on a short stream, then reports how much its peak RSS grew while it read
the long one:

- openai_magic: `create_async_generator(..., stream=True)`, items discarded (it keeps the partial
  text for `ProviderError.partial_text` itself);
- one str per chunk: httpx + json.loads, keeping every content piece in a list (what openai_magic
  did before issue 11: about 60 bytes per chunk);
- gpt4free style: httpx + json.loads, yielding each piece and keeping nothing (gpt4free's
  OpenaiTemplate does the same with curl_cffi; it cannot report partial text on an error).

`--compare-with` also runs openai_magic from another checkout (e.g. `git archive main` unpacked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ("openai_magic", "one str per chunk", "gpt4free style")


def body(n: int, piece: str) -> bytes:
    event = json.dumps({"model": "m", "choices": [{"index": 0, "delta": {"content": piece}}]})
    finish = json.dumps({"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return f"data: {event}\n\n".encode() * n + f"data: {finish}\n\ndata: [DONE]\n\n".encode()


async def serve(n: int, piece: str) -> None:
    """Answer every request with the N-chunk stream (`/warm` gets 100 chunks); print the port."""
    long_body, short_body = body(n, piece), body(100, piece)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line[15:])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            data = short_body if b"/warm/" in head.split(b"\r\n")[0] else long_body
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n")
            writer.write(f"content-length: {len(data)}\r\nconnection: close\r\n\r\n".encode())
            for start in range(0, len(data), 65536):
                writer.write(data[start : start + 65536])
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def consume(client: str, root: str, path: str) -> tuple[int, int]:
    """Read one stream with `client`; (chunks, answer characters)."""
    if client == "openai_magic":
        from openai_magic.core import providers

        provider = providers.custom(f"{root}{path}/v1", max_retries=0)
        chunks = chars = 0
        async for item in provider.create_async_generator("m", "hi", stream=True):
            if type(item) is str:
                chunks += 1
                chars += len(item)
        return chunks, chars
    import httpx

    kept: list[str] = []
    chunks = chars = 0
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with (
        httpx.AsyncClient(timeout=120) as http,
        http.stream("POST", f"{root}{path}/v1/chat/completions", json=request) as response,
    ):
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:])["choices"]
            content = choices[0]["delta"].get("content") if choices else None
            if content:
                chunks += 1
                chars += len(content)
                if client == "one str per chunk":
                    kept.append(content)
    return chunks, chars


def measure(client: str, root: str) -> dict[str, float]:
    asyncio.run(consume(client, root, "/warm"))  # imports, clients, allocator pools
    before = peak_mb()
    start = time.perf_counter()
    chunks, chars = asyncio.run(consume(client, root, "/long"))
    return {
        "chunks": chunks,
        "chars": chars,
        "growth": peak_mb() - before,
        "seconds": time.perf_counter() - start,
    }


def run_client(client: str, root: str, code_root: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    out = subprocess.run(
        [sys.executable, __file__, "--client", client, root],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="chunks in the long stream")
    parser.add_argument("--piece", default="ab", help="the content of each chunk")
    parser.add_argument("--compare-with", type=Path, help="another checkout to run openai_magic from")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("root", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.n, args.piece))
        return
    if args.client:
        print(json.dumps(measure(args.client, args.root)))
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--n", str(args.n), "--piece", args.piece],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        root = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        runs = [(client, ROOT) for client in CLIENTS]
        if args.compare_with:
            runs.insert(1, ("openai_magic", args.compare_with.resolve()))
        print(f"{args.n:,} chunks of {args.piece!r}; peak RSS growth while reading the stream")
        print(f"{'client':<34} {'answer MB':>10} {'growth MB':>10} {'growth - answer':>16} {'seconds':>8}")
        for client, code_root in runs:
            result = run_client(client, root, code_root)
            assert result["chunks"] == args.n, result
            label = client if code_root == ROOT else f"{client} ({code_root.name})"
            answer = result["chars"] / 1024 / 1024
            print(
                f"{label:<34} {answer:>10.1f} {result['growth']:>10.1f} "
                f"{result['growth'] - answer:>16.1f} {result['seconds']:>8.1f}"
            )
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
