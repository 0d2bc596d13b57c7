"""Routes, the API-key check and OpenAI-format errors of the demo server (server/app.py), over HTTP."""

from __future__ import annotations

import httpx
import openai
import pytest
from conftest import SENTINEL_KEY
from server_support import (
    USER,
    http_client,
    sdk_client,
)

from openai_magic.server import DemoServer

sdk = pytest.fixture(scope="module")(sdk_client)
http = pytest.fixture(scope="module")(http_client)


def test_models_lists_every_demo_model(sdk: openai.OpenAI) -> None:
    models = {m.id: m for m in sdk.models.list()}
    assert set(models) == {"demo-chat", "demo-reasoner", "demo-think", "demo-tools", "demo-image"}
    assert models["demo-image"].model_extra["type"] == "image"
    assert sdk.models.retrieve("demo-think").id == "demo-think"


def test_wrong_or_missing_key_is_authentication_error(keyed_server: DemoServer) -> None:
    for key in ("sk-wrong", ""):
        client = openai.OpenAI(base_url=keyed_server.base_url, api_key=key or "unused", max_retries=0)
        if not key:
            client = client.with_options(default_headers={"Authorization": ""})
        with pytest.raises(openai.AuthenticationError) as caught:
            client.chat.completions.create(model="demo-chat", messages=USER)
        assert caught.value.code == "invalid_api_key"
        assert SENTINEL_KEY not in str(caught.value.body)
    good = openai.OpenAI(base_url=keyed_server.base_url, api_key=SENTINEL_KEY, max_retries=0)
    assert good.chat.completions.create(model="demo-chat", messages=USER).choices[0].message.content


def test_keyed_server_requires_key_on_every_api_route(keyed_server: DemoServer) -> None:
    with httpx.Client(base_url=keyed_server.base_url) as client:
        for path in ("/models", "/models/demo-chat", "/demo/faults?value=x"):
            response = client.get(path)
            assert response.status_code == 401, path
        assert client.get("/models", headers={"Authorization": f"Bearer {SENTINEL_KEY}"}).status_code == 200


def test_unknown_model_is_not_found(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="gpt-nope", messages=USER)
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        sdk.images.generate(model="dall-nope", prompt="x")


def test_unknown_route_is_a_json_404(http: httpx.Client) -> None:
    response = http.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"
