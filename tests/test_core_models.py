"""get_models: listing formats, image-model marking, caching, fallback; get_headers."""

from __future__ import annotations

import asyncio
import json

import pytest
from core_support import demo_provider

from openai_magic.core import bridge, errors, providers
from openai_magic.core.models import parse_models as _parse_models
from openai_magic.core.template import OpenaiTemplate
from openai_magic.server import DemoServer

DEMO_MODELS = ["demo-chat", "demo-image", "demo-reasoner", "demo-think", "demo-tools"]


@pytest.mark.parametrize("quirk", [None, "models-list", "models-dict"])
async def test_listing_formats(demo_server, quirk):
    headers = {"X-Demo-Quirk": quirk} if quirk else {}
    P = demo_provider(demo_server.base_url, default_headers=headers, image_models=[])
    assert await P.get_models_async() == DEMO_MODELS
    if quirk != "models-list":  # a bare list of ids has no type: the id pattern still marks it
        assert P.image_models == ["demo-image"]
    assert P.is_image_model("demo-image") and not P.is_image_model("demo-chat")


def test_sync_get_models_and_instance_call(demo_server):
    P = demo_provider(demo_server.base_url, sort_models=False)
    assert sorted(P.get_models()) == DEMO_MODELS
    instance = OpenaiTemplate(api_base=demo_server.base_url)
    assert sorted(instance.get_models()) == DEMO_MODELS
    assert "demo-image" in instance.image_models
    assert OpenaiTemplate.image_models == []  # the class list is untouched


def test_models_are_cached_per_provider_and_base():
    server = DemoServer(pace=0).start()
    P = demo_provider(server.base_url)
    try:
        first = P.get_models()
    finally:
        server.stop()
    assert P.get_models() == first  # server gone: served from the cache
    with pytest.raises(errors.APIConnectionError, match="could not list models"):
        P.get_models(api_key="another-key")  # a different key is a different cache entry
    with pytest.raises(errors.APIConnectionError):
        bridge.run(P.get_models_async(refresh=True))  # refresh bypasses the cache


async def test_fallback_models_when_listing_fails():
    Offline = providers.custom("http://127.0.0.1:9/v1", fallback_models=["a", "b"])
    assert await Offline.get_models_async() == ["a", "b"]
    Bare = providers.custom("http://127.0.0.1:9/v1")
    with pytest.raises(errors.APIConnectionError, match=r"could not list models of 127\.0\.0\.1:9"):
        await Bare.get_models_async()


async def test_listing_errors_are_typed(keyed_server):
    Keyed = providers.custom(keyed_server.base_url, api_key="wrong-key-123")
    with pytest.raises(errors.AuthenticationError) as info:
        await Keyed.get_models_async()
    assert "wrong-key-123" not in str(info.value)


def test_parse_models_shapes_and_image_flags():
    P = providers.custom("http://x/v1", sort_models=True)
    body = {
        "data": [
            {"id": "b-chat"},
            {"name": "a-painter", "type": "image"},
            {"id": "flagged", "image": True},
            {"id": "vision-gen", "supports_images": True},
            {"id": "dall-e-3"},
            {"id": "gpt-image-1"},
            {"id": "flux-schnell"},
            {"id": "or-model", "architecture": {"output_modalities": ["image"]}},
            "plain-id",
            {"id": "b-chat"},
            {"nothing": 1},
            42,
        ]
    }
    models, images = _parse_models(P, body)
    assert models == sorted(
        [
            "b-chat",
            "a-painter",
            "flagged",
            "vision-gen",
            "dall-e-3",
            "gpt-image-1",
            "flux-schnell",
            "or-model",
            "plain-id",
        ]
    )
    assert set(images) == {
        "a-painter",
        "flagged",
        "vision-gen",
        "dall-e-3",
        "gpt-image-1",
        "flux-schnell",
        "or-model",
    }
    assert _parse_models(P, ["x", "y"])[0] == ["x", "y"]
    assert _parse_models(P, {"models": [{"name": "z"}]})[0] == ["z"]
    with pytest.raises(errors.ResponseError):
        _parse_models(P, {"object": "list"})


def test_get_headers():
    assert OpenaiTemplate.get_headers(True) == {
        "Accept": "text/event-stream",
        "Content-Type": "application/json",
    }
    headers = OpenaiTemplate.get_headers(False, "k-123", {"X-Extra": "1", "Accept": "text/plain"})
    assert headers == {
        "Accept": "text/plain",
        "Content-Type": "application/json",
        "Authorization": "Bearer k-123",
        "X-Extra": "1",
    }
    assert "HTTP-Referer" in providers.OpenRouter.get_headers(True)


async def test_base_class_listing_does_not_leak_into_presets(demo_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", demo_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "unused-key")
    assert await OpenaiTemplate.get_models_async() == DEMO_MODELS
    assert OpenaiTemplate.image_models == [] and providers.Groq.image_models == []
    assert OpenaiTemplate.is_image_model("demo-image")  # known from the cached listing


async def test_listed_image_model_without_a_telling_name(demo_server):
    P = demo_provider(demo_server.base_url, image_models=[])
    assert not P.is_image_model("a-painter")
    from openai_magic.core import models

    models.cache[models.cache_key(P, "http://elsewhere/v1", None)] = (["a-painter"], ["a-painter"])
    assert P.is_image_model("a-painter")


class HeldListing:
    """A loopback server whose `GET /models` answers only when the test releases it."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.asked.set()
        await self.release.wait()
        body = json.dumps({"data": [{"id": "held-model"}]}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()


async def test_get_models_async_leaves_the_event_loop_free():
    # The server runs on this very loop: if the listing blocked it, the request could never be
    # answered (the test would hang instead of passing).
    held = HeldListing()
    server = await asyncio.start_server(held.handle, "127.0.0.1", 0)
    try:
        P = providers.custom(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1")
        listing = asyncio.ensure_future(P.get_models_async())
        await held.asked.wait()
        assert not listing.done()
        held.release.set()
        assert await listing == ["held-model"]
    finally:
        server.close()


async def test_sync_get_models_inside_a_running_loop(demo_server):
    # As in a notebook cell, where the kernel's loop is running in this thread.
    P = demo_provider(demo_server.base_url)
    assert P.get_models() == DEMO_MODELS


def test_cache_key_holds_a_hash_of_the_key_never_the_key():
    from openai_magic.core import models
    from openai_magic.core.secret import Secret

    P = providers.custom("http://x/v1")
    first = models.cache_key(P, "http://x/v1", "sk-secret-one")
    assert first == models.cache_key(P(), "http://x/v1", Secret("sk-secret-one"))  # class or instance
    assert first != models.cache_key(P, "http://x/v1", "sk-secret-two")
    assert first != models.cache_key(P, "http://y/v1", "sk-secret-one")
    assert first != models.cache_key(P, "http://x/v1", "sk-secret-one", "url-password")
    assert "sk-secret-one" not in repr(first)
