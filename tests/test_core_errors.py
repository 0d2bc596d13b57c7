"""Typed errors, injected faults, retries with Retry-After, robust parsing of odd replies, auth."""

from __future__ import annotations

import contextlib
import uuid

import httpx
import pytest
from conftest import SENTINEL_KEY
from core_support import collect, demo_provider, of_type, text_of

from openai_magic.core import errors, providers
from openai_magic.core.responses import FinishReason, Reasoning, Usage


@pytest.fixture(scope="module")
def P(demo_server):
    return demo_provider(demo_server.base_url)


@pytest.fixture(params=[False, True], ids=["nonstream", "stream"])
def stream(request):
    return request.param


def unique(fault: str) -> str:
    """A fault header value nobody else uses, so its request count is ours alone."""
    return f"{fault};id={uuid.uuid4().hex}"


def fault_count(server, value: str) -> int:
    response = httpx.get(f"{server.base_url}/demo/faults", params={"value": value})
    response.raise_for_status()
    return response.json()["count"]


async def run(P, prompt="hello", *, fault=None, quirk=None, model="demo-chat", **kwargs):
    headers = {}
    if fault:
        headers["X-Demo-Fault"] = fault
    if quirk:
        headers["X-Demo-Quirk"] = quirk
    return await collect(P.create_async_generator(model, prompt, headers=headers, **kwargs))


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (502, errors.ServerError),
        (503, errors.ServerError),
        (504, errors.ServerError),
    ],
)
async def test_status_faults_become_typed_errors(P, stream, status, error_type):
    with pytest.raises(error_type) as info:
        await run(P, fault=str(status), stream=stream, max_retries=0)
    assert info.value.status_code == status
    assert "injected by X-Demo-Fault" in str(info.value)
    assert isinstance(info.value, errors.ProviderError)
    if status == 429:
        assert info.value.retry_after == 1


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        ("drop;after=3", errors.APIConnectionError),
        ("malformed;after=3", errors.ResponseError),
        ("error-event;after=3", errors.ServerError),
        ("error-event;after=3;code=429", errors.RateLimitError),
        ("error-event;after=3;code=400", errors.BadRequestError),
        ("truncate;after=3", errors.ResponseError),
    ],
)
async def test_mid_stream_faults_keep_partial_text(P, fault, error_type):
    with pytest.raises(error_type) as info:
        await run(P, fault=fault, stream=True)
    # Three content chunks ("## ", "Hello\n\n", a word) arrived before the fault.
    partial = info.value.partial_text
    assert partial.startswith("## Hello\n\n") and partial.count(" ") == 2


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        ("drop", errors.APIConnectionError),
        ("malformed", errors.ResponseError),
        ("error-event", errors.ServerError),
        ("error-event;code=400", errors.BadRequestError),
        ("truncate", errors.ResponseError),
    ],
)
async def test_stream_faults_in_nonstream_mode(P, fault, error_type):
    with pytest.raises(error_type):
        await run(P, fault=fault, stream=False, max_retries=0)


async def test_stall_raises_request_timeout_with_partial_text(P):
    with pytest.raises(errors.RequestTimeoutError) as info:
        await run(P, fault="stall;after=3;seconds=5", stream=True, timeout=(5, 0.5))
    assert info.value.partial_text.startswith("## ")
    with pytest.raises(errors.RequestTimeoutError):
        await run(P, fault="stall;seconds=5", timeout=0.5)


async def test_truncated_stream_is_never_silent(P):
    with pytest.raises(errors.ResponseError, match="ended early") as info:
        await run(P, fault="truncate;after=5", stream=True)
    assert info.value.partial_text


async def test_retries_until_success(demo_server, P, stream):
    fault = unique("500;times=2")
    items = await run(P, fault=fault, stream=stream)
    assert text_of(items).startswith("## Hello")
    assert fault_count(demo_server, fault) == 3


async def test_retries_are_bounded(demo_server, P):
    fault = unique("502;times=5")
    with pytest.raises(errors.ServerError):
        await run(P, fault=fault, max_retries=1)
    assert fault_count(demo_server, fault) == 2
    fault = unique("503")
    with pytest.raises(errors.ServerError):
        await run(P, fault=fault)
    assert fault_count(demo_server, fault) == 1 + P.max_retries


async def test_class_attribute_max_retries(demo_server):
    NoRetry = demo_provider(demo_server.base_url, max_retries=0)
    fault = unique("504;times=1")
    with pytest.raises(errors.ServerError):
        await run(NoRetry, fault=fault)
    assert fault_count(demo_server, fault) == 1


async def test_retry_after_is_honoured(demo_server, P, stream):
    fault = unique("429;retry_after=1;times=1")
    items = await run(P, fault=fault, stream=stream)
    assert text_of(items)
    assert fault_count(demo_server, fault) == 2
    fault = unique("503;retry_after=1;times=1")
    assert text_of(await run(P, fault=fault, stream=stream))
    assert fault_count(demo_server, fault) == 2


async def test_huge_retry_after_is_raised_not_slept(demo_server, P):
    fault = unique("429;retry_after=3600;times=1")
    with pytest.raises(errors.RateLimitError) as info:
        await run(P, fault=fault)
    assert info.value.retry_after == 3600
    assert fault_count(demo_server, fault) == 1


async def test_out_of_credit_429_is_raised_not_retried(demo_server, P, stream):
    fault = unique("quota;times=1")  # the second request would succeed: a retry would hide the bill
    with pytest.raises(errors.RateLimitError) as info:
        await run(P, fault=fault, stream=stream, max_retries=2)
    assert info.value.insufficient_quota
    assert "quota" in str(info.value)
    assert fault_count(demo_server, fault) == 1
    plain = unique("429;retry_after=0;times=1")
    assert text_of(await run(P, fault=plain, stream=stream))  # an ordinary 429 is still retried
    assert fault_count(demo_server, plain) == 2


async def test_stream_not_retried_after_first_item(demo_server, P):
    fault = unique("drop;after=2;times=1")
    received = []
    with pytest.raises(errors.APIConnectionError):
        async for item in P.create_async_generator(
            "demo-chat", "hello", stream=True, headers={"X-Demo-Fault": fault}
        ):
            received.append(item)
    assert received
    assert fault_count(demo_server, fault) == 1


async def test_connect_error_is_typed():
    Closed = providers.custom("http://127.0.0.1:9/v1", retry_base_delay=0.01)
    with pytest.raises(errors.APIConnectionError):
        await run(Closed)


async def test_unknown_model_suggests_close_matches(P, stream):
    with pytest.raises(errors.ModelNotFoundError) as info:
        await run(P, model="demo-chta", stream=stream)
    assert info.value.status_code == 404
    assert "demo-chat" in info.value.suggestions
    assert "demo-reasoner" in info.value.available  # the listing, for a hint when nothing is close
    assert "demo-chta" in str(info.value)


@pytest.mark.parametrize(
    "quirk",
    [
        "error-null",
        "delta-null",
        "usage-null",
        "empty-choices",
        "content-parts",
        "usage-after-finish",
        "crlf",
        "cr",
        "comments",
        "error-null,delta-null,usage-null,empty-choices,comments,crlf",
    ],
)
async def test_odd_but_valid_replies(P, stream, quirk):
    normal = await run(P, stream=stream)
    odd = await run(P, quirk=quirk, stream=stream)
    assert text_of(odd) == text_of(normal)
    assert of_type(odd, FinishReason) == [FinishReason("stop")]
    assert len(of_type(odd, Usage)) == 1


async def test_reasoning_content_in_nonstream_reply(P):
    items = await run(P, quirk="reasoning-nonstream", model="demo-reasoner")
    assert "The user asks about" in "".join(r.text for r in of_type(items, Reasoning))
    assert "The user asks about" not in text_of(items)


async def test_huge_line(P, stream):
    items = await run(P, quirk="huge-line", stream=stream)
    assert len(text_of(items)) > 2_500_000


@pytest.mark.parametrize("quirk", ["text-plain", "html"])
async def test_non_json_200_is_a_response_error(P, stream, quirk):
    with pytest.raises(errors.ResponseError) as info:
        await run(P, quirk=quirk, stream=stream)
    assert ("text/plain" if quirk == "text-plain" else "text/html") in str(info.value)


async def test_error_bodies_without_openai_shape(P, stream):
    with pytest.raises(errors.BadRequestError, match="field required") as info:
        await run(P, quirk="detail-422", stream=stream)
    assert info.value.status_code == 422
    with pytest.raises(errors.BadRequestError, match="invalid_thing") as info:
        await run(P, quirk="error-code-only", stream=stream)
    assert info.value.status_code == 400


async def test_missing_key_raises_before_any_request():
    Locked = providers.custom(
        "http://127.0.0.1:9/v1", needs_auth=True, api_key_env="OPENAI_MAGIC_NO_SUCH_KEY"
    )
    with pytest.raises(errors.MissingAuthError, match="OPENAI_MAGIC_NO_SUCH_KEY"):
        await run(Locked)
    with pytest.raises(errors.MissingAuthError):
        await Locked.create_async_generator("m", "hi")  # the `await` form raises too
    with pytest.raises(errors.MissingAuthError):
        providers.OpenAI.chat("hi")


async def test_key_from_environment_at_call_time(keyed_server, monkeypatch):
    Keyed = providers.custom(keyed_server.base_url, api_key_env="OPENAI_MAGIC_TEST_KEY_ENV", needs_auth=True)
    with pytest.raises(errors.MissingAuthError):
        await run(Keyed)
    monkeypatch.setenv("OPENAI_MAGIC_TEST_KEY_ENV", SENTINEL_KEY)
    assert text_of(await run(Keyed, "[demo echo] in"))


async def test_wrong_key_is_authentication_error_and_never_shown(keyed_server, stream):
    wrong = SENTINEL_KEY + "-wrong"
    Keyed = providers.custom(keyed_server.base_url, api_key=wrong)
    with pytest.raises(errors.AuthenticationError) as info:
        await run(Keyed, stream=stream)
    assert info.value.status_code == 401
    for shown in (str(info.value), repr(info.value), str(info.value.args)):
        assert wrong not in shown and SENTINEL_KEY not in shown
    assert SENTINEL_KEY not in repr(Keyed(api_key=SENTINEL_KEY))


async def test_right_key_works(keyed_server):
    Keyed = providers.custom(keyed_server.base_url, api_key=SENTINEL_KEY)
    assert text_of(await run(Keyed, "[demo echo] ok")) == "[demo echo] ok"
    assert await Keyed.get_models_async() == [
        "demo-chat",
        "demo-image",
        "demo-reasoner",
        "demo-think",
        "demo-tools",
    ]


def test_error_message_shapes():
    assert errors.error_message({"error": {"message": "m"}}) == "m"
    assert errors.error_message({"error": {"code": "c"}}) == "error code c"
    assert errors.error_message({"error": "plain"}) == "plain"
    assert errors.error_message({"detail": "d"}) == "d"
    assert errors.error_message({"detail": [{"loc": ["body", "x"], "msg": "bad"}]}) == "body.x: bad"
    assert errors.error_message("<html> <b>x</b> </html>") == "<html> <b>x</b> </html>"
    assert errors.error_message(None, "fallback") == "fallback"
    assert errors.parse_retry_after(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert errors.parse_retry_after(httpx.Headers({"retry-after": "7"})) == 7
    assert errors.parse_retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert errors.parse_retry_after(httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    error = errors.from_status(401, {"error": {"message": "bad key sk-abcdef123"}}, secrets=("sk-abcdef123",))
    assert isinstance(error, errors.AuthenticationError) and "sk-abcdef123" not in str(error)
    assert isinstance(errors.from_stream_error({"type": "rate_limit_exceeded"}), errors.RateLimitError)
    assert isinstance(errors.from_stream_error({"code": "404"}), errors.ModelNotFoundError)
    assert isinstance(errors.from_stream_error("boom"), errors.ServerError)


def test_odd_shapes_never_crash():
    from openai_magic.core import parse

    for body in ({"choices": "nope"}, {"choices": [None]}, {"choices": [{"message": None}]}, [1, 2], "text"):
        with contextlib.suppress(errors.ResponseError):  # a typed error is fine, a crash is not
            parse.message_items(body)
    _, items = parse.message_items(
        {"choices": [{"message": {"content": [{"type": "text", "text": "a"}, "b"]}}]}
    )
    assert items == ["ab"]


def test_out_of_credit_reported_inside_a_reply_is_marked_too():
    """Gateways also send OpenAI's billing error as an error object in a 200 reply or stream."""
    billing = {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": None}
    error = errors.from_stream_error(billing, partial_text="so far")
    assert isinstance(error, errors.RateLimitError) and error.insufficient_quota
    assert error.partial_text == "so far"
    assert not errors.from_stream_error({"message": "slow down", "code": 429}).insufficient_quota


async def test_timeouts_are_caught_as_connection_errors_as_in_the_openai_sdk(P):
    import openai

    assert issubclass(openai.APITimeoutError, openai.APIConnectionError)  # the SDK's shape
    with pytest.raises(errors.APIConnectionError) as info:
        await run(P, fault="stall;seconds=5", timeout=0.3, max_retries=0)
    assert isinstance(info.value, errors.RequestTimeoutError)
