"""The Starlette application: routes, API-key check, faults, quirks and OpenAI-format errors."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import demo_model, images
from .errors import APIError, error_body
from .faults import STATUS_KINDS, STREAM_KINDS, Fault, FaultBook, InjectedDrop
from .quirks import parse_quirks, replacement
from .sse import ChunkWriter, completion
from .validate import CHAT_MODELS, IMAGE_MODELS, chat_request, image_request, parse_json

DEFAULT_PACE = 0.02
BATCH = 64
_CREATED = 1_700_000_000


class _HideInjectedDrops(logging.Filter):
    """Keep uvicorn from logging tracebacks for connections cut on purpose (fault `drop`, shutdown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        return not isinstance(exc, InjectedDrop | asyncio.CancelledError)


_uvicorn_error = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _HideInjectedDrops) for f in _uvicorn_error.filters):
    _uvicorn_error.addFilter(_HideInjectedDrops())


class DroppedResponse:
    """Starts a JSON response, sends a few bytes, then cuts the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {
                "type": "http.response.body",
                "body": b'{"id": "chatcmpl-dropped", "choices": [',
                "more_body": True,
            }
        )
        raise InjectedDrop("connection dropped by X-Demo-Fault")


def _check_key(request: Request) -> None:
    expected = request.app.state.api_key
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not token or scheme.lower() != "bearer":
        raise APIError(
            401,
            "You didn't provide an API key. Send it in an Authorization header using Bearer auth "
            "(Authorization: Bearer YOUR_KEY).",
            code="invalid_api_key",
        )
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")


def _prelude(request: Request) -> tuple[Fault | None, frozenset[str]]:
    """Auth, then quirks and faults from the headers; status faults raise here."""
    _check_key(request)
    quirks = parse_quirks(request.headers.get("x-demo-quirk"))
    fault = request.app.state.faults.check(request.headers.get("x-demo-fault"))
    if fault is not None and fault.kind in STATUS_KINDS:
        raise fault.status_error()
    return fault, quirks


async def _stall(stopping: threading.Event, seconds: float, request: Request | None = None) -> None:
    """Sleep, but give up when the server stops or the client goes away, so stalls never pin it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(0.1, left))
        if stopping.is_set():
            raise InjectedDrop("server stopping")
        if request is not None and await request.is_disconnected():
            return


async def _whole_body_fault(request: Request, fault: Fault | None, body: Any) -> Any:
    """Apply a stream fault to a non-streamed response; None means answer normally."""
    if fault is None or fault.kind not in STREAM_KINDS:
        return None
    if fault.kind == "stall":
        await _stall(request.app.state.stopping, fault.seconds, request)
        return None
    if fault.kind == "drop":
        return DroppedResponse()
    if fault.kind == "error-event":
        status, event = fault.error_event()
        return JSONResponse(event, status_code=status)
    text = json.dumps(body)
    cut = text[: max(1, len(text) // 2)]
    if fault.kind == "malformed":
        cut += "<<not json>>"
    return Response(cut, media_type="application/json")


def _model_list() -> list[dict[str, Any]]:
    data = [
        {"id": m, "object": "model", "created": _CREATED, "owned_by": "openai-magic"} for m in CHAT_MODELS
    ]
    data += [
        {"id": m, "object": "model", "created": _CREATED, "owned_by": "openai-magic", "type": "image"}
        for m in IMAGE_MODELS
    ]
    return data


async def root(request: Request) -> Response:
    """Health check and a pointer to the API (no key needed)."""
    return JSONResponse({"status": "ok", "name": "openai-magic demo server", "api": "/v1"})


async def models(request: Request) -> Response:
    """`GET /v1/models`, or the odd shapes of quirks `models-list` / `models-dict`; faults as on a
    non-streamed chat request."""
    fault, quirks = _prelude(request)
    if (odd := replacement(quirks)) is not None:
        return odd
    body: Any = {"object": "list", "data": _model_list()}
    if "models-list" in quirks:
        body = _model_list()
    elif "models-dict" in quirks:
        body = {"models": [{"name": m["id"]} for m in _model_list()]}
    return await _whole_body_fault(request, fault, body) or JSONResponse(body)


async def model(request: Request) -> Response:
    """`GET /v1/models/{id}` (faults as on `GET /v1/models`)."""
    fault, _ = _prelude(request)
    wanted = request.path_params["model_id"]
    for item in _model_list():
        if item["id"] == wanted:
            return await _whole_body_fault(request, fault, item) or JSONResponse(item)
    raise APIError(404, f"The model `{wanted}` does not exist.", code="model_not_found", param="model")


async def fault_count(request: Request) -> Response:
    """`GET /v1/demo/faults?value=...`: how many requests carried that `X-Demo-Fault` value."""
    _check_key(request)
    value = request.query_params.get("value")
    if value is None:
        raise APIError(400, "Query parameter 'value' is required.", param="value")
    return JSONResponse({"count": request.app.state.faults.count(value)})


def _huge_line_content() -> list[str]:
    payload = images.filler_base64(3_000_000)
    return [f"Here is a large base64 payload, sent as one line:\n\n{payload}\n"]


async def _stream_fault(fault: Fault, writer: ChunkWriter, stopping: threading.Event) -> AsyncIterator[bytes]:
    """What a stream fault sends at its point; only `stall` lets the stream continue afterwards."""
    if fault.kind == "stall":
        await _stall(stopping, fault.seconds)
    elif fault.kind == "drop":
        raise InjectedDrop("connection dropped by X-Demo-Fault")
    elif fault.kind == "malformed":
        yield writer.raw('{"id": "chatcmpl-broken", "choices": [{"delta": {"content": "unterminated')
    elif fault.kind == "error-event":
        yield writer.raw(json.dumps(fault.error_event()[1]))
    # truncate: nothing more, the response just ends


async def _events(
    writer: ChunkWriter, fault: Fault | None, pace: float, include_usage: bool, stopping: threading.Event
) -> AsyncIterator[bytes]:
    """The SSE body: batched when unpaced, one chunk per `pace` seconds otherwise; faults injected."""
    yield writer.opening()
    after = fault.after if fault is not None and fault.kind in STREAM_KINDS else -1
    sent = 0
    batch: list[bytes] = []
    body = writer.body()
    while True:
        if fault is not None and sent == after:
            if batch:
                yield b"".join(batch)
                batch.clear()
            async for data in _stream_fault(fault, writer, stopping):
                yield data
            if fault.kind != "stall":
                return
        event = next(body, None)
        if event is None:
            if sent < after:
                after = sent
                continue
            break
        sent += 1
        if pace > 0:
            yield event
            await asyncio.sleep(pace)
        else:
            batch.append(event)
            if len(batch) >= BATCH:
                yield b"".join(batch)
                batch.clear()
                await asyncio.sleep(0)  # let other requests run during long unpaced streams
        if stopping.is_set():
            raise InjectedDrop("server stopping")
    batch.append(writer.closing(include_usage))
    yield b"".join(batch)


async def chat_completions(request: Request) -> Response:
    """`POST /v1/chat/completions`, streamed or not."""
    fault, quirks = _prelude(request)
    if (odd := replacement(quirks)) is not None:
        return odd
    chat = chat_request(parse_json(await request.body()))
    reply = demo_model.reply(chat)
    if "huge-line" in quirks and not reply.tool_calls:
        reply.content = _huge_line_content()
    field = "reasoning" if request.headers.get("x-demo-reasoning-field", "").lower() == "reasoning" else None
    field = field or "reasoning_content"
    if not chat.stream:
        body = completion(reply, quirks, field)
        return await _whole_body_fault(request, fault, body) or JSONResponse(body)
    pace = reply.pace if reply.pace is not None else request.app.state.pace
    writer = ChunkWriter(reply, quirks, field)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _events(writer, fault, pace, chat.include_usage, request.app.state.stopping),
        media_type="text/event-stream",
        headers=headers,
    )


async def image_generations(request: Request) -> Response:
    """`POST /v1/images/generations`: deterministic PNGs of the requested size."""
    fault, quirks = _prelude(request)
    if (odd := replacement(quirks)) is not None:
        return odd
    wanted = image_request(parse_json(await request.body()))
    encoded = await run_in_threadpool(
        images.generate_b64, wanted.prompt, wanted.width, wanted.height, wanted.n
    )
    key = "url" if wanted.response_format == "url" else "b64_json"
    prefix = "data:image/png;base64," if key == "url" else ""
    body = {
        "created": int(time.time()),
        "data": [{key: prefix + b64, "revised_prompt": wanted.prompt} for b64 in encoded],
        "size": f"{wanted.width}x{wanted.height}",
        "output_format": "png",
    }
    return await _whole_body_fault(request, fault, body) or JSONResponse(body)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message, code = f"Unknown request URL: {request.method} {request.url.path}.", "unknown_url"
    else:
        message, code = f"{exc.detail} ({request.method} {request.url.path}).", None
    return JSONResponse(
        error_body(exc.status_code, message, code), status_code=exc.status_code, headers=exc.headers
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Catch-all: a generic OpenAI-format 500, never a traceback."""
    return JSONResponse(
        error_body(500, "The demo server had an internal error.", "internal_error"), status_code=500
    )


def create_app(api_key: str | None = None, pace: float | None = None) -> Starlette:
    """Build the demo API; `pace` is seconds between streamed chunks (None = the demo default)."""
    routes = [
        Route("/", root),
        Route("/v1/models", models),
        Route("/v1/models/{model_id:path}", model),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/images/generations", image_generations, methods=["POST"]),
        Route("/v1/demo/faults", fault_count),
    ]
    handlers = {APIError: _api_error, HTTPException: _http_error, Exception: _internal_error}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.api_key = api_key or None
    app.state.pace = DEFAULT_PACE if pace is None else float(pace)
    app.state.faults = FaultBook()
    app.state.stopping = threading.Event()  # set by DemoServer.stop(): ends stalls and long streams
    return app
