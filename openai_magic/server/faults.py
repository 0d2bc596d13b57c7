"""`X-Demo-Fault` parsing and per-value counters, so clients' retry and error paths can be tested."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from .errors import APIError, bad_request

STATUS_KINDS = {"429", "500", "502", "503", "504", "quota"}
STREAM_KINDS = {"drop", "malformed", "stall", "error-event", "truncate"}
_STATUS_CODES = {
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
# Statuses fault `error-event` may report mid-stream (a 400 too, as servers do for a bad request
# that is only noticed after streaming began).
_EVENT_CODES = {400: "invalid_request_error", **_STATUS_CODES}


class InjectedDrop(Exception):
    """Raised inside a response to make the server cut the connection (fault `drop`)."""


@dataclass(frozen=True)
class Fault:
    """One parsed `X-Demo-Fault` header value."""

    kind: str
    params: dict[str, str] = field(default_factory=dict)

    def number(self, name: str, default: float) -> float:
        """A numeric parameter, 400 when it is not a non-negative number."""
        raw = self.params.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1
        if not 0 <= value <= 1e9:  # also rejects nan and inf
            raise bad_request(f"X-Demo-Fault parameter {name}={raw!r} must be a number from 0 to 1e9.")
        return value

    @property
    def after(self) -> int:
        return int(self.number("after", 0 if self.kind == "stall" else 3))

    @property
    def seconds(self) -> float:
        return self.number("seconds", 30)

    @property
    def code(self) -> int:
        code = int(self.number("code", 500))
        if code not in _EVENT_CODES:
            raise bad_request(f"X-Demo-Fault code={code} must be one of {sorted(_EVENT_CODES)}.")
        return code

    def status_error(self) -> APIError:
        """The HTTP error of a status fault (`429`, `quota`, `5xx`)."""
        if self.kind == "quota":  # OpenAI's "out of credit": a 429 that no retry can fix
            message = "You exceeded your current quota, please check your plan and billing details."
            return APIError(429, message, code="insufficient_quota", kind="insufficient_quota")
        status = int(self.kind)
        headers = {}
        if status == 429 or (status == 503 and "retry_after" in self.params):
            headers["Retry-After"] = str(int(self.number("retry_after", 1)))
        if status == 429:
            message = "Rate limit reached (injected by X-Demo-Fault). Please retry."
        else:
            message = f"The demo server returned {status} (injected by X-Demo-Fault)."
        return APIError(status, message, code=_STATUS_CODES[status], headers=headers)

    def error_event(self) -> tuple[int, dict]:
        """Status and `data:` payload of fault `error-event` (`code` is the status, like OpenRouter)."""
        code = self.code
        if code == 429:
            message = "Rate limit reached mid-stream (injected by X-Demo-Fault)."
            return code, {
                "error": {"message": message, "type": "rate_limit_error", "param": None, "code": 429}
            }
        if code == 400:
            message = "The request was rejected mid-stream (injected by X-Demo-Fault)."
            kind = "invalid_request_error"
        else:
            message = f"The demo server failed mid-stream with {code} (injected by X-Demo-Fault)."
            kind = "server_error"
        return code, {"error": {"message": message, "type": kind, "param": None, "code": code}}


def parse_fault(value: str) -> Fault:
    """Parse `KIND[;param=value]*`; an unknown kind or parameter is a 400."""
    kind, *rest = (part.strip() for part in value.split(";"))
    if kind not in STATUS_KINDS | STREAM_KINDS:
        raise bad_request(f"Unknown X-Demo-Fault kind {kind!r}.")
    params = {}
    for item in rest:
        if not item:
            continue
        name, sep, val = item.partition("=")
        if not sep or not name.strip():
            raise bad_request(f"X-Demo-Fault parameter {item!r} must look like name=value.")
        params[name.strip()] = val.strip()
    fault = Fault(kind, params)
    for name in ("after", "seconds", "times", "retry_after"):
        fault.number(name, 0)
    if kind == "error-event":
        _ = fault.code
    return fault


class FaultBook:
    """Counts requests per exact header value and decides whether this one gets the fault."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def check(self, value: str | None) -> Fault | None:
        """Count this request; return its fault unless `times` is used up."""
        if not value:
            return None
        fault = parse_fault(value)
        with self._lock:
            self._counts[value] += 1
            seen = self._counts[value]
        times = fault.params.get("times")
        if times is not None and seen > int(fault.number("times", 0)):
            return None
        return fault

    def count(self, value: str) -> int:
        """How many requests carried this exact header value."""
        with self._lock:
            return self._counts[value]
