"""`X-Demo-Quirk`: odd-but-real server behaviours, to prove clients parse robustly."""

from __future__ import annotations

from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from .errors import bad_request

QUIRKS = {
    "error-null",
    "delta-null",
    "usage-null",
    "empty-choices",
    "content-parts",
    "reasoning-nonstream",
    "tool-no-index",
    "text-plain",
    "html",
    "detail-422",
    "error-code-only",
    "huge-line",
    "usage-after-finish",
    "crlf",
    "cr",
    "comments",
    "models-list",
    "models-dict",
}

_HTML = """<!DOCTYPE html>
<html><head><title>Welcome</title></head>
<body><h1>It works!</h1><p>This page came from a misconfigured proxy, not from an API.</p></body></html>
"""


def parse_quirks(value: str | None) -> frozenset[str]:
    """The comma-separated quirk names; an unknown one is a 400."""
    if not value:
        return frozenset()
    names = frozenset(q.strip().lower() for q in value.split(",") if q.strip())
    unknown = names - QUIRKS
    if unknown:
        raise bad_request(
            f"Unknown X-Demo-Quirk {', '.join(sorted(unknown))}; known: {', '.join(sorted(QUIRKS))}."
        )
    return names


def replacement(quirks: frozenset[str]) -> Response | None:
    """The whole-response quirks, which answer instead of the API."""
    if "text-plain" in quirks:
        return PlainTextResponse("OK: this is plain text, not JSON and not Server-Sent Events.\n")
    if "html" in quirks:
        return HTMLResponse(_HTML)
    if "detail-422" in quirks:
        detail = [
            {
                "loc": ["body", "messages", 0, "content"],
                "msg": "field required",
                "type": "value_error.missing",
            }
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    if "error-code-only" in quirks:
        return JSONResponse({"error": {"code": "invalid_thing"}}, status_code=400)
    return None
