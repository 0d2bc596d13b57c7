"""Model listings: `GET {api_base}/models` in any common shape, image-model marking, a shared cache."""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from typing import TYPE_CHECKING, Any

from . import bodies, errors, replay, retry, transport
from .secret import Secret, header_secrets, reveal

if TYPE_CHECKING:
    from .request import Target

# Ids that denote image generation models on common providers.
IMAGE_MODEL_PATTERN = re.compile(
    r"dall-e|gpt-image|flux|stable-diffusion|sdxl|\bsd3|imagen|midjourney|playground-v|ideogram|recraft"
    r"|image-gen|(?:^|[-_/.])image(?:$|[-_.])",
    re.IGNORECASE,
)

# (provider class, api_base, sha256 of the key and the URL's credentials) -> (model ids, image model ids)
cache: dict[tuple[Any, ...], tuple[list[str], list[str]]] = {}
cache_lock = threading.Lock()


def cache_key(provider: Any, base: str, *secrets: str | Secret | None) -> tuple[Any, ...]:
    """The cache key of a provider's listing at `base` with that key (and URL credentials)."""
    # Keys are hashed so the cache never holds a secret in clear.
    texts = [reveal(secret) or "" for secret in secrets]
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest() if any(texts) else ""
    owner = provider if isinstance(provider, type) else type(provider)
    return (owner, base, digest)


async def get_listing(
    provider: Any, key: Secret | None, api_base: str | Secret | None, refresh: bool = False
) -> tuple[list[str], list[str]]:
    """The (cached) listing of `provider` at `api_base`: model ids and image model ids.

    Under replay settings (core/replay.py) it is replayed from, or recorded into, the replay file.
    """
    from .request import replay_request

    settings = replay.active()
    if settings is None:
        return await _cached_listing(provider, key, api_base, refresh)
    request, found = await replay_request(provider, api_base, None, "models")
    fetch = functools.partial(_cached_listing, provider, key, api_base, refresh)
    secrets = (key, *found, *header_secrets(provider.default_headers))
    return await replay.listing(settings, request, fetch, secrets=secrets)


async def _cached_listing(
    provider: Any, key: Secret | None, api_base: str | Secret | None, refresh: bool
) -> tuple[list[str], list[str]]:
    from .request import Target

    target = await Target.resolve(provider, api_base)
    key_of_cache = cache_key(provider, target.base, key, *target.url_secrets)
    cached = None if refresh else cache.get(key_of_cache)
    if cached is not None:
        return cached
    try:
        cached = await fetch_models(provider, target, key)
    except errors.ProviderError as exc:
        errors.scrub(exc, key, *target.url_secrets)
        exc.message = f"could not list models of {provider.label} at {target.base}: {exc.message}"
        exc.args = (exc.message,)
        raise exc from None
    with cache_lock:
        cache[key_of_cache] = cached
    return cached


async def fetch_models(provider: Any, target: Target, key: Secret | None) -> tuple[list[str], list[str]]:
    """Fetch and parse one listing (no cache, no fallback: the caller decides)."""
    client = transport.get_client(target.base, None, provider.ssl, provider.max_connections)
    request = client.build_request(
        "GET",
        f"{target.base}/models",
        headers=provider.get_headers(False, key),
        timeout=transport.make_timeout(provider.models_timeout),
    )
    secrets = (key, *target.url_secrets)
    response = await retry.send(
        client,
        request,
        policy=provider.retry_policy(0),
        secrets=secrets,
        context="listing models: ",
        auth=target.auth(target.base),
        base=target.base,
        max_error_bytes=provider.max_error_bytes,
    )
    try:
        body = await bodies.read_json(
            response, label=provider.label, secrets=secrets, limit=provider.max_reply_bytes
        )
    finally:
        await response.aclose()
    return parse_models(provider, body)


def parse_models(provider: Any, body: Any) -> tuple[list[str], list[str]]:
    """`{"data": [...]}`, `{"models": [...]}` or a bare list; entries with `id`/`name` or plain ids."""
    entries = body
    if isinstance(body, dict):
        entries = body.get("data")
        if entries is None:
            entries = body.get("models")
    if not isinstance(entries, list):
        raise errors.ResponseError("model list has neither 'data' nor 'models'", body=errors.bounded(body))
    models: list[str] = []
    images: list[str] = []
    for entry in entries:
        model_id: Any
        info: dict[str, Any]
        if isinstance(entry, str):
            model_id, info = entry, {}
        elif isinstance(entry, dict):
            model_id, info = entry.get("id") or entry.get("name") or entry.get("model"), entry
        else:
            continue
        if not isinstance(model_id, str) or not model_id or model_id in models:
            continue
        models.append(model_id)
        if _is_image_entry(model_id, info):
            images.append(model_id)
    if provider.sort_models:
        models.sort()
    return models, images


def _is_image_entry(model_id: str, info: dict[str, Any]) -> bool:
    if info.get("type") == "image" or info.get("image") is True or info.get("supports_images") is True:
        return True
    architecture = info.get("architecture")
    if isinstance(architecture, dict):
        outputs = architecture.get("output_modalities")
        if isinstance(outputs, list) and "image" in outputs and "text" not in outputs:
            return True
    return bool(IMAGE_MODEL_PATTERN.search(model_id))


def is_listed_image_model(provider: Any, model: str) -> bool:
    """Whether any cached listing of this provider class marked `model` as an image model."""
    owner = provider if isinstance(provider, type) else type(provider)
    return any(key[0] is owner and model in images for key, (_, images) in list(cache.items()))


__all__ = [
    "IMAGE_MODEL_PATTERN",
    "cache",
    "cache_key",
    "fetch_models",
    "get_listing",
    "is_listed_image_model",
    "parse_models",
]
