"""Fault injection with X-Demo-Fault (server/faults.py) on chat, image and model listing requests."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import (
    USER,
    chat_body,
    chunks_of,
    content_deltas,
    http_client,
    sdk_client,
    sse_payloads,
    stream_raw,
    unique,
)

from openai_magic.server import DemoServer

sdk = pytest.fixture(scope="module")(sdk_client)
http = pytest.fixture(scope="module")(http_client)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["429", "503", "truncate", "error-event", "drop", "x"]),
    params=st.lists(
        st.tuples(
            st.sampled_from(["after", "times", "retry_after", "code", "seconds"]),
            st.sampled_from(["nan", "inf", "-1", "abc", "", "2", "1e99"]),
        ),
        max_size=3,
    ),
)
def test_no_fault_header_gives_an_unplanned_500(http: httpx.Client, kind: str, params: list) -> None:
    value = kind + "".join(f";{name}={v}" for name, v in params) + ";seconds=0"
    try:
        response = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": value})
    except httpx.RemoteProtocolError:
        assert kind == "drop"
        return
    assert response.status_code in {200, 400, 429, 503} or kind == "error-event"
    assert "Traceback" not in response.text


def test_fault_429_is_rate_limit_error_with_retry_after(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(
            model="demo-chat", messages=USER, extra_headers={"X-Demo-Fault": "429;retry_after=7"}
        )
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_fault_5xx_is_internal_server_error(sdk: openai.OpenAI, status: int) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(
            model="demo-chat", messages=USER, extra_headers={"X-Demo-Fault": str(status)}
        )
    assert caught.value.status_code == status
    assert "Traceback" not in caught.value.response.text


def test_fault_503_retry_after_only_when_given(http: httpx.Client) -> None:
    assert (
        "retry-after"
        not in http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": "503"}).headers
    )
    response = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": "503;retry_after=2"})
    assert response.headers["retry-after"] == "2"


def test_fault_times_then_serves_and_counts(demo_server: DemoServer, http: httpx.Client) -> None:
    value = unique("429;times=2;retry_after=0")
    retrying = openai.OpenAI(base_url=demo_server.base_url, api_key="x", max_retries=3)
    reply = retrying.chat.completions.create(
        model="demo-chat", messages=USER, extra_headers={"X-Demo-Fault": value}
    )
    assert reply.choices[0].message.content
    assert http.get("/demo/faults", params={"value": value}).json() == {"count": 3}
    assert http.get("/demo/faults", params={"value": unique("500")}).json() == {"count": 0}


def test_fault_applies_to_images(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        sdk.images.generate(prompt="x", size="16x16", extra_headers={"X-Demo-Fault": "429"})


def test_fault_drop_cuts_the_stream_without_done(http: httpx.Client) -> None:
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):  # noqa: SIM117
        with http.stream(
            "POST", "/chat/completions", json=chat_body(stream=True), headers={"X-Demo-Fault": "drop;after=4"}
        ) as response:
            for part in response.iter_bytes():
                received += part
    payloads = sse_payloads(received)
    assert "[DONE]" not in payloads
    assert len(content_deltas([json.loads(p) for p in payloads])) == 4


def test_fault_drop_non_stream_cuts_the_body(http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": "drop"})


def test_fault_malformed_sends_a_non_json_data_line(http: httpx.Client) -> None:
    payloads = sse_payloads(stream_raw(http, chat_body(), {"X-Demo-Fault": "malformed;after=2"}))
    good = [json.loads(p) for p in payloads[:-1]]
    assert len(content_deltas(good)) == 2
    with pytest.raises(json.JSONDecodeError):
        json.loads(payloads[-1])


def test_fault_stall_blocks_then_continues(http: httpx.Client) -> None:
    received = b""
    with pytest.raises(httpx.ReadTimeout):  # noqa: SIM117
        with http.stream(
            "POST",
            "/chat/completions",
            json=chat_body(stream=True),
            headers={"X-Demo-Fault": "stall;after=2;seconds=60"},
            timeout=3,
        ) as response:
            for part in response.iter_bytes():
                received += part
    assert len(content_deltas(chunks_of(received))) == 2
    payloads = sse_payloads(stream_raw(http, chat_body(), {"X-Demo-Fault": "stall;seconds=0.05"}))
    assert payloads[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("code", "kind", "status"),
    [
        ("", "server_error", 500),
        (";code=429", "rate_limit_error", 429),
        (";code=400", "invalid_request_error", 400),
    ],
)
def test_fault_error_event_ends_the_stream_with_an_error(
    http: httpx.Client, code: str, kind: str, status: int
) -> None:
    payloads = sse_payloads(stream_raw(http, chat_body(), {"X-Demo-Fault": f"error-event;after=1{code}"}))
    assert "[DONE]" not in payloads
    error = json.loads(payloads[-1])["error"]
    assert error["type"] == kind
    assert error["code"] == status
    assert error["message"]


def test_fault_error_event_rejects_other_codes(http: httpx.Client) -> None:
    headers = {"X-Demo-Fault": "error-event;code=401"}
    response = http.post("/chat/completions", json=chat_body(), headers=headers)
    assert response.status_code == 400
    assert "code=401" in response.json()["error"]["message"]


def test_fault_truncate_ends_cleanly_without_finish(http: httpx.Client) -> None:
    chunks = chunks_of(stream_raw(http, chat_body(), {"X-Demo-Fault": "truncate"}))
    assert len(content_deltas(chunks)) == 3
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)


def test_stream_faults_on_non_stream_requests(http: httpx.Client) -> None:
    malformed = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": "malformed"})
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.text)
    error = http.post("/chat/completions", json=chat_body(), headers={"X-Demo-Fault": "error-event;code=502"})
    assert error.status_code == 502
    headers = {"X-Demo-Fault": "error-event;code=400"}
    rejected = http.post("/chat/completions", json=chat_body(), headers=headers)
    assert rejected.status_code == 400
    assert rejected.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("path", ["/models", "/models/demo-chat"])
def test_every_fault_applies_to_the_model_listing(http: httpx.Client, path: str) -> None:
    def get(fault: str, **options: Any) -> httpx.Response:
        return http.get(path, headers={"X-Demo-Fault": fault}, **options)

    with pytest.raises(httpx.RemoteProtocolError):
        get("drop")
    with pytest.raises(httpx.ReadTimeout):
        get("stall;seconds=60", timeout=1)
    assert get("stall;seconds=0.05").json() == http.get(path).json()
    for cut in ("malformed", "truncate"):
        response = get(cut)
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.text)
    assert get("error-event;code=502").status_code == 502
    assert get("503").status_code == 503
