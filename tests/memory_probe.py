"""One request in a fresh process: its outcome and how much it raised the peak RSS, as JSON.

    python tests/memory_probe.py ROOT_URL '{"path": "/huge", "stream": true, "attributes": {...}}'

A warm-up request to `ROOT_URL/ok/v1` first imports everything and opens the client, so the growth
reported (peak RSS after minus peak RSS before the measured request) is the request's own.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from typing import Any

from openai_magic.core import errors, providers


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def main(root: str, options: dict[str, Any]) -> dict[str, Any]:
    attributes = {"max_retries": 0, "retry_base_delay": 0.01, **options.get("attributes", {})}
    stream = options.get("stream", False)
    warm = providers.custom(f"{root}/ok/v1", **attributes)
    assert await warm.chat_async("hi", "m", stream=stream) == "ok"
    provider = providers.custom(f"{root}{options['path']}/v1", **attributes)
    before = peak_mb()
    report: dict[str, Any] = {"text_chars": 0, "deltas": 0}
    try:
        async for item in provider.create_async_generator("m", "hi", stream=stream):
            if isinstance(item, str):
                report["text_chars"] += len(item)
                report["deltas"] += 1
    except errors.ProviderError as exc:
        report.update(
            error=type(exc).__name__,
            message=str(exc),
            body_chars=len(json.dumps(exc.body, default=repr)),
            partial_chars=len(exc.partial_text),
        )
    report["growth_mb"] = peak_mb() - before
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))))
