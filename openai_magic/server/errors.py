"""OpenAI-format error bodies and the exception that carries them out of request handling."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "server_error",
}


class APIError(Exception):
    """A request failure that becomes `{"error": {...}}` with an HTTP status (never a traceback)."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The OpenAI error object for this failure."""
        return error_body(self.status, self.message, self.code, self.param, self.kind)

    def response(self) -> JSONResponse:
        """A JSON response carrying this error."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(
    status: int, message: str, code: str | None = None, param: str | None = None, kind: str | None = None
) -> dict:
    """`{"error": {"message", "type", "param", "code"}}` as OpenAI sends it (`type` from the status)."""
    kind = kind or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    """A 400 `invalid_request_error` about one request field."""
    return APIError(400, message, code=code, param=param)
