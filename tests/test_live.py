"""The same core checks against every target: always the embedded server, plus a real server when
`OPENAI_MAGIC_TEST_BASE_URL` (model `OPENAI_MAGIC_TEST_MODEL`, key `OPENAI_MAGIC_TEST_API_KEY`) is set.

Nothing is skipped by default: without the variables only the embedded target exists.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from core_support import collect, text_of

from openai_magic.core import errors, providers
from openai_magic.core.responses import FinishReason, ProviderInfo, Reasoning, ResponseItem

_LIVE_URL = os.environ.get("OPENAI_MAGIC_TEST_BASE_URL")
TARGETS = ["embedded"] + (["live"] if _LIVE_URL else [])

pytestmark = pytest.mark.live


@pytest.fixture(scope="module", params=TARGETS)
def target(request) -> tuple[Any, str]:
    if request.param == "embedded":
        demo_server = request.getfixturevalue("demo_server")
        return providers.custom(demo_server.base_url, label="embedded"), "demo-chat"
    key = os.environ.get("OPENAI_MAGIC_TEST_API_KEY")
    provider = providers.custom(_LIVE_URL, api_key=key, label="live", retry_base_delay=1.0)
    return provider, os.environ.get("OPENAI_MAGIC_TEST_MODEL", "")


PROMPT = "Reply with one short sentence that contains the word pong."


def check_items(items: list[Any]) -> None:
    assert isinstance(items[0], ProviderInfo)
    assert all(isinstance(item, str | ResponseItem) for item in items)
    assert text_of(items).strip() or any(isinstance(item, Reasoning) for item in items)
    assert len([item for item in items if isinstance(item, FinishReason)]) == 1


async def test_models_listing(target):
    provider, model = target
    models = await provider.get_models_async()
    assert models and all(isinstance(m, str) and m for m in models)
    if model:
        assert model in models or any(m.endswith(model) for m in models)


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
@pytest.mark.parametrize("form", ["iter", "await"])
async def test_chat(target, stream, form):
    provider, model = target
    items = await collect(provider.create_async_generator(model, PROMPT, stream=stream, max_tokens=200), form)
    check_items(items)


def test_sync_helpers(target):
    provider, model = target
    items = list(provider.create_completion(model, PROMPT, stream=True, max_tokens=200))
    check_items(items)
    assert isinstance(provider.chat(PROMPT, model=model, max_tokens=200), str)


async def test_history_and_system_message(target):
    provider, model = target
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Remember the number 7."},
        {"role": "assistant", "content": "OK."},
        {"role": "user", "content": "Which number? Answer with the digit."},
    ]
    check_items(await collect(provider.create_async_generator(model, messages, stream=True, max_tokens=200)))


async def test_unknown_model_is_a_typed_error(target):
    provider, _ = target
    with pytest.raises(errors.ProviderError):
        await collect(provider.create_async_generator("no-such-model-openai-magic", PROMPT, max_retries=0))
