"""Misuse is a clear TypeError/ValueError raised at the call, before any request; gpt4free's names work."""

from __future__ import annotations

import math

import pytest
from core_support import HostileServer, Request, collect, ok_reply, text_of

from openai_magic.core import errors, providers
from openai_magic.core.template import OpenaiTemplate


@pytest.fixture
async def server():
    async with HostileServer(ok_reply) as hostile:
        yield hostile


@pytest.fixture
def P(server):
    return providers.custom(server.base_url, max_retries=0, default_model="m")


@pytest.mark.parametrize(
    ("arguments", "error", "text"),
    [
        ({"messages": ["hi"]}, TypeError, r"messages\[0\] must be a dict like \{'role': 'user'"),
        ({"messages": {"role": "user"}}, TypeError, "messages must be a prompt string or a list"),
        ({"messages": [{"content": "hi"}]}, ValueError, r"messages\[0\] needs a 'role'"),
        ({"messages": [{"role": "user", "content": 5}]}, TypeError, r"\['content'\] must be a str or a list"),
        ({"model": 123}, TypeError, "model must be a str"),
        ({"temperature": math.nan}, ValueError, "temperature must be a finite number, not nan"),
        ({"top_p": math.inf}, ValueError, "top_p must be a finite number"),
        ({"temperature": "0.7"}, TypeError, "temperature must be a number, not str"),
        ({"presence_penalty": True}, TypeError, "presence_penalty must be a number"),
        ({"max_tokens": 10.5}, TypeError, "max_tokens must be an int"),
        ({"max_tokens": 0}, ValueError, "max_tokens must be at least 1"),
        ({"stop": 3}, TypeError, "stop must be a str or a list of str"),
        ({"max_retries": -1}, ValueError, "max_retries must be an int of at least 0"),
        ({"max_retry_wait": math.nan}, ValueError, "max_retry_wait must be a number of seconds"),
        ({"api_key": b"sk-bytes"}, TypeError, "an API key must be a str or a Secret, not bytes"),
    ],
)
async def test_misuse_raises_at_the_call_before_any_request(server, P, arguments, error, text):
    call = {"model": "m", "messages": "hi", **arguments}
    with pytest.raises(error, match=text):
        P.create_async_generator(**call)  # not even iterated: raised by the call itself
    with pytest.raises(error, match=text):
        await P.chat_async(call.pop("messages"), **call)
    assert server.requests == []


async def test_nan_in_extra_data_is_refused_naming_the_field(server, P):
    with pytest.raises(ValueError, match=r"body\['metadata'\]\['weight'\] = nan or infinity"):
        await collect(P.create_async_generator("m", "hi", extra_data={"metadata": {"weight": math.nan}}))
    with pytest.raises(TypeError, match="cannot be sent as JSON: Object of type object"):
        await collect(P.create_async_generator("m", "hi", extra_data={"x": object()}))
    assert server.requests == []


async def test_numpy_like_scalars_are_sent_as_plain_numbers(server, P):
    class Float32:  # what numpy scalars offer: `.item()` gives the plain Python value
        __module__ = "numpy"

        def item(self) -> float:
            return 0.25

    assert await P.chat_async("hi", "m", extra_data={"temperature": Float32()}) == "ok"
    assert server.requests[-1].json()["temperature"] == 0.25


async def test_base_url_and_extra_body_are_aliases_as_in_gpt4free(server):
    Elsewhere = providers.custom("http://127.0.0.1:9/v1", max_retries=0)  # nobody listens there
    items = await collect(
        Elsewhere.create_async_generator("m", "hi", base_url=server.base_url, extra_body={"seed": 7})
    )
    assert text_of(items) == "ok"
    assert server.requests[-1].json()["seed"] == 7
    assert await Elsewhere.chat_async("hi", "m", base_url=server.base_url) == "ok"


async def test_alias_and_its_name_together_is_a_type_error(P, server):
    with pytest.raises(TypeError, match="either base_url= or api_base="):
        P.create_async_generator("m", "hi", base_url=server.base_url, api_base=server.base_url)
    with pytest.raises(TypeError, match="either extra_body= or extra_data="):
        P.create_async_generator("m", "hi", extra_body={}, extra_data={})


@pytest.mark.parametrize(
    ("keyword", "suggestion"),
    [("temprature", "'temperature'"), ("max_token", "'max_tokens'"), ("extra_bdy", "'extra_body'")],
)
async def test_an_unknown_keyword_is_a_type_error_with_close_matches(P, server, keyword, suggestion):
    with pytest.raises(
        TypeError, match=f"unexpected keyword argument '{keyword}'; did you mean {suggestion}"
    ):
        P.create_async_generator("m", "hi", **{keyword: 1})
    with pytest.raises(TypeError, match=f"'{keyword}'"):
        P.chat("hi", "m", **{keyword: 1})
    assert server.requests == []


async def test_keywords_of_extra_parameters_images_and_tools_are_accepted(P, server):
    Narrow = providers.custom(server.base_url, max_retries=0, extra_parameters=("seed",))
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    assert await Narrow.chat_async("hi", "m", seed=1, tools=tools, tool_choice="auto") == "ok"
    assert server.requests[-1].json()["tools"] == tools
    with pytest.raises(TypeError, match="'reasoning_effort'"):
        Narrow.create_async_generator("m", "hi", reasoning_effort="low")
    assert (
        await Narrow.chat_async("hi", "m", reasoning_effort="low", extra_parameters=["reasoning_effort"])
        == "ok"
    )


def test_instances_refuse_unknown_attributes():
    with pytest.raises(TypeError, match="has no attribute 'api_bse'"):
        OpenaiTemplate(api_bse="x")


async def test_misuse_never_becomes_a_provider_error(P):
    # A TypeError is the caller's bug to fix, not a failed request to show as a provider's answer.
    with pytest.raises(TypeError) as info:
        P.create_async_generator("m", ["hi"])
    assert not isinstance(info.value, errors.ProviderError)


async def test_server_saw_valid_json_only(server, P):
    await P.chat_async("hi", "m", temperature=0.5)
    request: Request = server.requests[-1]
    assert request.json()["temperature"] == 0.5 and b"NaN" not in request.body
