"""Provider presets, the registry, custom base URLs, environment variables read at call time."""

from __future__ import annotations

import pytest
from conftest import SENTINEL_KEY
from core_support import collect, text_of

import openai_magic
from openai_magic.core import errors, providers
from openai_magic.core.template import OpenaiTemplate

EXPECTED = [
    "OpenAI",
    "OpenRouter",
    "Groq",
    "Together",
    "DeepInfra",
    "Mistral",
    "DeepSeek",
    "xAI",
    "Fireworks",
    "Perplexity",
    "Cerebras",
    "Gemini",
    "Ollama",
    "LMStudio",
    "vLLM",
    "LlamaCpp",
    "Demo",
]
LOCAL = {"Ollama", "LMStudio", "vLLM", "LlamaCpp", "Demo"}


def test_public_surface():
    assert openai_magic.providers is providers
    assert openai_magic.OpenaiTemplate is OpenaiTemplate
    assert openai_magic.errors is errors


def test_names_and_presets():
    assert providers.names() == EXPECTED
    for name in EXPECTED:
        cls = providers.PROVIDERS[name]
        assert issubclass(cls, OpenaiTemplate)
        assert cls.label
        assert cls.needs_auth is (name not in LOCAL)
        if name != "Demo":
            assert cls.api_base.startswith("http")
            assert cls.api_key_env and cls.api_key_env.endswith("_API_KEY")
    assert providers.Gemini.api_base == "https://generativelanguage.googleapis.com/v1beta/openai"
    assert providers.Ollama.api_base == "http://localhost:11434/v1"
    assert providers.LMStudio.api_base == "http://localhost:1234/v1"
    assert providers.vLLM.api_base == "http://localhost:8000/v1"
    assert providers.LlamaCpp.api_base == "http://localhost:8080/v1"
    assert providers.Groq.api_key_env == "GROQ_API_KEY"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("groq", "Groq"),
        ("GROQ", "Groq"),
        ("lmstudio", "LMStudio"),
        ("LM Studio", "LMStudio"),
        ("lm-studio", "LMStudio"),
        ("llama.cpp", "LlamaCpp"),
        ("llamacpp", "LlamaCpp"),
        ("vllm", "vLLM"),
        ("xai", "xAI"),
        ("demo", "Demo"),
        ("google gemini", "Gemini"),
    ],
)
def test_lookup_is_case_insensitive_with_aliases(name, expected):
    assert providers.get(name) is providers.PROVIDERS[expected]


def test_unknown_name():
    with pytest.raises(KeyError, match="unknown provider"):
        providers.get("nope")


def test_url_gives_custom_provider(demo_server):
    P = providers.get(demo_server.base_url + "/")
    assert providers.get(demo_server.base_url) is P  # one class per URL: its model list stays cached
    assert P.api_base == demo_server.base_url and not P.needs_auth and P.api_key_env is None
    assert P.chat("[demo echo] via url", model="demo-chat") == "[demo echo] via url"


def test_custom_provider(keyed_server):
    P = providers.custom(keyed_server.base_url, api_key=SENTINEL_KEY, label="Mine", default_model="demo-chat")
    assert P.label == "Mine"
    assert P.chat("[demo echo] custom") == "[demo echo] custom"
    assert SENTINEL_KEY not in repr(P(api_key=SENTINEL_KEY))
    assert providers.custom("http://10.0.0.5:9000/v1").label == "10.0.0.5:9000"


def test_register():
    class Mine(OpenaiTemplate):
        api_base = "http://127.0.0.1:1/v1"

    try:
        providers.register(Mine)
        assert providers.get("mine") is Mine
    finally:
        providers.PROVIDERS.pop("Mine")


def test_local_presets_need_no_key():
    for name in LOCAL - {"Demo"}:
        providers.PROVIDERS[name].check_auth()  # no MissingAuthError
    for name in set(EXPECTED) - LOCAL:
        with pytest.raises(errors.MissingAuthError, match=providers.PROVIDERS[name].api_key_env):
            providers.PROVIDERS[name].check_auth()


def test_base_url_environment_override(monkeypatch):
    assert providers.Ollama.get_api_base() == "http://localhost:11434/v1"
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://gpu-box:11434/v1/")
    assert providers.Ollama.get_api_base() == "http://gpu-box:11434/v1"
    assert providers.Ollama.get_api_base("http://explicit/v1") == "http://explicit/v1"


async def test_base_class_reads_openai_env_at_call_time(keyed_server, monkeypatch):
    assert OpenaiTemplate.get_api_base() == "https://api.openai.com/v1"
    with pytest.raises(errors.MissingAuthError, match="OPENAI_API_KEY"):
        await collect(OpenaiTemplate.create_async_generator("demo-chat", "hi"))
    monkeypatch.setenv("OPENAI_BASE_URL", keyed_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)
    items = await collect(OpenaiTemplate.create_async_generator("demo-chat", "[demo echo] env", stream=True))
    assert text_of(items) == "[demo echo] env"


async def test_instance_api_base_beats_the_environment(demo_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    provider = OpenaiTemplate(api_base=demo_server.base_url)
    assert provider.get_api_base() == demo_server.base_url
    assert OpenaiTemplate.get_api_base() == "http://127.0.0.1:9/v1"  # the class still reads it
    items = await collect(provider.create_async_generator("demo-chat", "[demo echo] own base"))
    assert text_of(items) == "[demo echo] own base"


def test_subclass_with_own_base_never_gets_the_openai_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)

    class ThirdParty(OpenaiTemplate):
        api_base = "http://127.0.0.1:1/v1"

    assert ThirdParty.get_api_key() is None
    assert ThirdParty.get_api_base() == "http://127.0.0.1:1/v1"
    assert OpenaiTemplate.get_api_key().reveal() == SENTINEL_KEY


def test_demo_uses_env_url(demo_server, monkeypatch):
    monkeypatch.setenv("OPENAI_MAGIC_DEMO_URL", demo_server.base_url)
    assert providers.Demo.ensure_started() == demo_server.base_url
    assert providers.Demo.chat("[demo echo] env demo") == "[demo echo] env demo"


def test_demo_starts_its_own_server_once(monkeypatch):
    monkeypatch.delenv("OPENAI_MAGIC_DEMO_URL", raising=False)
    first = providers.Demo.ensure_started()
    assert first.startswith("http://127.0.0.1:") and first.endswith("/v1")
    assert providers.Demo.ensure_started() == first
    assert providers.Demo.get_api_base() == first
    assert providers.Demo.default_model == "demo-chat" and providers.Demo.needs_auth is False
    assert providers.Demo.chat("[demo echo] started") == "[demo echo] started"
    assert providers.Demo.is_image_model("demo-image")


async def test_demo_starts_off_the_event_loop(monkeypatch):
    monkeypatch.delenv("OPENAI_MAGIC_DEMO_URL", raising=False)
    items = await collect(providers.Demo.create_async_generator("", "[demo echo] async demo"))
    assert text_of(items) == "[demo echo] async demo"
