"""Every way a credential comes in (environment, api_key=, Secret, headers=, a URL's user:password@)
and every public entry point: no error text, repr, cache, log or frame local shows it."""

from __future__ import annotations

import base64

import pytest
from conftest import SENTINEL_KEY
from core_support import HostileServer, Request, collect, http_reply, of_type, ok_reply
from secrets_support import echo_server_thread, leaks, no_key_in_logs

from openai_magic.core import errors, providers, transport
from openai_magic.core import models as listing
from openai_magic.core.responses import ProviderInfo
from openai_magic.core.secret import Secret
from openai_magic.core.template import OpenaiTemplate

MODES = [
    ("401", errors.AuthenticationError),
    ("404", errors.ModelNotFoundError),
    ("422", errors.BadRequestError),
    ("429", errors.RateLimitError),
    ("500", errors.ServerError),
    ("text-200", errors.ResponseError),
    ("bad-json", errors.ResponseError),
    ("stream-error", errors.AuthenticationError),
    ("malformed", errors.ResponseError),
    ("stall", errors.RequestTimeoutError),
]


all_logs = pytest.fixture(autouse=True)(no_key_in_logs)


@pytest.fixture(scope="module")
def echo():
    with echo_server_thread() as server:
        yield server


def call(entry: str, provider, stream: bool, **kwargs):
    """Call one public entry point the way a user would; return its error."""
    options = {"stream": stream, "timeout": (5, 0.3), "max_retries": 0, **kwargs}
    with pytest.raises(errors.ProviderError) as info:
        if entry == "chat":
            provider.chat("hi", "m", **options)
        elif entry == "create_completion":
            list(provider.create_completion("m", "hi", **options))
        elif entry == "get_models":
            provider.get_models()
    return info.value


@pytest.mark.parametrize(("mode", "error_type"), MODES)
@pytest.mark.parametrize("entry", ["chat", "create_completion"])
def test_key_from_the_environment_never_shows(echo, monkeypatch, mode, error_type, entry):
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", echo.base(mode))
    error = call(entry, OpenaiTemplate, stream=mode in ("stream-error", "malformed"))
    assert isinstance(error, error_type)
    assert leaks(error, SENTINEL_KEY, SENTINEL_KEY[:12]) == []


@pytest.mark.parametrize("key", [SENTINEL_KEY, Secret(SENTINEL_KEY)], ids=["str", "Secret"])
@pytest.mark.parametrize(("mode", "error_type"), MODES[:5])
async def test_key_argument_never_shows_with_chat_async(echo, key, mode, error_type):
    P = providers.custom(echo.base(mode))
    with pytest.raises(error_type) as info:
        await P.chat_async("hi", "m", api_key=key, max_retries=0, timeout=(5, 0.3))
    assert leaks(info.value, SENTINEL_KEY) == []


@pytest.mark.parametrize("mode", ["401", "models-text"])
def test_model_listing_never_shows_the_key(echo, monkeypatch, mode):
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", echo.base(mode))
    error = call("get_models", OpenaiTemplate, stream=False)
    assert leaks(error, SENTINEL_KEY) == []


# --- item 3: a key passed only in headers= -------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{"api-key": SENTINEL_KEY}, {"x-api-key": SENTINEL_KEY}, {"Authorization": f"Bearer {SENTINEL_KEY}"}],
    ids=["azure-api-key", "x-api-key", "hand-built-authorization"],
)
@pytest.mark.parametrize(
    ("mode", "error_type"), [("500", errors.ServerError), ("401", errors.AuthenticationError)]
)
async def test_a_key_in_headers_is_redacted_like_the_api_key(echo, headers, mode, error_type):
    P = providers.custom(echo.base(mode), max_retries=0)
    with pytest.raises(error_type) as info:
        await collect(P.create_async_generator("m", "hi", headers=headers))
    assert "***" in str(info.value)  # the server quoted it: redacted, not absent
    assert leaks(info.value, SENTINEL_KEY) == []


@pytest.mark.parametrize(
    "bad", [f"{SENTINEL_KEY}\r\nX-Injected: 1", f"{SENTINEL_KEY}\x00", f"\n{SENTINEL_KEY}"]
)
async def test_an_illegal_header_value_is_refused_without_quoting_it(bad):
    async with HostileServer(ok_reply) as server:
        P = providers.custom(server.base_url, max_retries=0)
        with pytest.raises(errors.BadRequestError, match="header 'X-Token' holds a line break") as info:
            await collect(P.create_async_generator("m", "hi", headers={"X-Token": bad}))
        assert server.requests == []
    assert leaks(info.value, SENTINEL_KEY) == []


# --- item 2: credentials in a base URL -----------------------------------------------------------


def basic_echo(request: Request) -> bytes:
    """A 500 quoting the decoded Basic credentials (a proxy that logs them back)."""
    if request.path.endswith("/models"):
        return http_reply(200, {"data": [{"id": "m"}]})
    credentials = base64.b64decode(request.headers["authorization"].split(" ")[1]).decode()
    if "ok" in request.body.decode():
        return ok_reply(request)
    return http_reply(500, {"error": {"message": f"gateway got {credentials}"}})


async def test_credentials_in_a_base_url_are_sent_but_never_shown():
    async with HostileServer(basic_echo) as server:
        url = server.base_url.replace("http://", f"http://user:{SENTINEL_KEY}@")
        P = providers.get(url)
        items = await collect(P.create_async_generator("m", "ok", max_retries=0))
        sent = server.requests[-1].headers["authorization"]
        assert base64.b64decode(sent.split(" ")[1]).decode() == f"user:{SENTINEL_KEY}"  # still sent
        with pytest.raises(errors.ServerError) as info:
            await collect(P.create_async_generator("m", "hi", max_retries=0))
        assert "gateway got ***" in str(info.value)
        models = await P.get_models_async()
    assert models == ["m"]
    [shown] = of_type(items, ProviderInfo)
    assert SENTINEL_KEY not in repr(shown)
    assert leaks(info.value, SENTINEL_KEY, f"user:{SENTINEL_KEY}") == []
    for text in (
        repr(P),
        repr(P()),
        P.label,
        repr(listing.cache),
        repr(transport._clients),
        repr(providers._custom_by_url),
    ):
        assert SENTINEL_KEY not in text, text


async def test_listing_error_names_the_url_without_credentials():
    P = providers.custom(f"http://user:{SENTINEL_KEY}@127.0.0.1:9/v1", retry_base_delay=0.01)
    with pytest.raises(
        errors.APIConnectionError,
        match=r"could not list models of 127\.0\.0\.1:9 at http://127\.0\.0\.1:9/v1",
    ) as info:
        await P.get_models_async()
    assert leaks(info.value, SENTINEL_KEY) == []


def test_secret_shows_a_mask_everywhere():
    key = Secret(SENTINEL_KEY)
    for shown in (
        repr(key),
        str(key),
        f"{key}",
        f"{key:>40}",
        "%s" % key,  # noqa: UP031 - the old formatting form too
        repr([key]),
        repr({"k": key}),
    ):
        assert SENTINEL_KEY not in shown
    assert key.reveal() == SENTINEL_KEY and bool(key) and not Secret("")
    assert Secret.wrap(None) is None and Secret.wrap(key) is key and Secret.wrap("x").reveal() == "x"
    assert key == Secret(SENTINEL_KEY) and key != Secret("other") and key != SENTINEL_KEY
    with pytest.raises(TypeError, match="cannot be pickled"):
        import pickle

        pickle.dumps(key)
    with pytest.raises(TypeError, match="not bytes"):
        Secret.wrap(b"sk-bytes")  # type: ignore[arg-type]


def test_providers_accept_a_secret_key(keyed_server):
    Keyed = providers.custom(keyed_server.base_url, api_key=Secret(SENTINEL_KEY))
    assert Keyed.chat("[demo echo] hi", "demo-chat") == "[demo echo] hi"
    assert OpenaiTemplate(api_base=keyed_server.base_url, api_key=Secret(SENTINEL_KEY)).get_models()
    assert Keyed.get_api_key() == Secret(SENTINEL_KEY)
    assert SENTINEL_KEY not in repr(vars(Keyed))


async def test_a_key_in_default_headers_and_an_instance_with_a_credentialed_url(echo):
    Azure = providers.custom(echo.base("500"), max_retries=0, default_headers={"api-key": SENTINEL_KEY})
    with pytest.raises(errors.ServerError) as info:
        await collect(Azure.create_async_generator("m", "hi"))
    assert leaks(info.value, SENTINEL_KEY) == []
    instance = OpenaiTemplate(api_base=echo.base("401").replace("http://", f"http://user:{SENTINEL_KEY}@"))
    with pytest.raises(errors.AuthenticationError) as info:
        await collect(instance.create_async_generator("m", "hi", max_retries=0))
    assert "Incorrect API key: ***" in str(info.value)  # the Basic credentials reached the server
    assert leaks(info.value, SENTINEL_KEY) == [] and SENTINEL_KEY not in repr(instance)


async def test_errors_that_are_not_provider_errors_keep_no_key_in_frames():
    async with HostileServer(ok_reply) as server:
        P = providers.custom(server.base_url, max_retries=0)
        bad = {"headers": {"api-key": SENTINEL_KEY}, "extra_data": {"weight": float("nan")}}
        with pytest.raises(ValueError, match="nan or infinity") as info:
            await collect(P.create_async_generator("m", "hi", **bad))
        credentialed = server.base_url.replace("http://", f"http://user:{SENTINEL_KEY}@")
        with pytest.raises(TypeError) as misuse:
            OpenaiTemplate.get_models(api_base=credentialed, api_key=b"bytes")
    assert leaks(info.value, SENTINEL_KEY) == [] and leaks(misuse.value, SENTINEL_KEY) == []


async def test_each_url_sends_its_own_credentials():
    def respond(request: Request) -> bytes:
        if "images" in request.path:
            return http_reply(200, {"data": [{"url": "https://img.example/x.png"}]})
        return ok_reply(request)

    async with HostileServer(respond) as server:
        base = server.base_url.replace("http://", "http://base-user:base-pass@")
        endpoint = f"{server.root.replace('http://', 'http://chat-user:chat-pass@')}/custom/chat"
        P = providers.custom(base, api_endpoint=endpoint, image_models=["img"], max_retries=0)
        assert await P.chat_async("hi", "m") == "ok"
        await collect(P.create_async_generator("img", "a cat"))
    sent = [
        (r.path, base64.b64decode(r.headers["authorization"].split(" ")[1]).decode()) for r in server.requests
    ]
    assert sent == [
        ("/custom/chat", "chat-user:chat-pass"),
        ("/v1/images/generations", "base-user:base-pass"),
    ]
