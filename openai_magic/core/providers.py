"""Provider presets (a few lines each), a case-insensitive registry, and custom base URLs.

`get("groq")`, `get("LM Studio")`, `get("http://host:9000/v1")`; `custom(base_url)` at run time.
Each preset reads its key from `api_key_env` and honours `<NAME>_BASE_URL` when set.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from typing import Any
from urllib.parse import urlparse

from . import secret
from .secret import Secret
from .template import OpenaiTemplate, hybridmethod
from .urls import strip_credentials


class OpenAI(OpenaiTemplate):
    label = "OpenAI"
    url = "https://platform.openai.com"
    api_base = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    needs_auth = True
    default_model = "gpt-4o-mini"
    default_image_model = "dall-e-3"
    fallback_models = ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o4-mini"]  # noqa: RUF012
    image_models = ["dall-e-2", "dall-e-3", "gpt-image-1"]  # noqa: RUF012


class OpenRouter(OpenaiTemplate):
    label = "OpenRouter"
    url = "https://openrouter.ai"
    api_base = "https://openrouter.ai/api/v1"
    api_key_env = "OPENROUTER_API_KEY"
    base_url_env = "OPENROUTER_BASE_URL"
    needs_auth = True
    default_model = "openai/gpt-4o-mini"
    default_headers = {"HTTP-Referer": "https://github.com/openai-magic", "X-Title": "openai_magic"}  # noqa: RUF012


class Groq(OpenaiTemplate):
    label = "Groq"
    url = "https://console.groq.com"
    api_base = "https://api.groq.com/openai/v1"
    api_key_env = "GROQ_API_KEY"
    base_url_env = "GROQ_BASE_URL"
    needs_auth = True
    default_model = "llama-3.3-70b-versatile"


class Together(OpenaiTemplate):
    label = "Together AI"
    url = "https://api.together.ai"
    api_base = "https://api.together.xyz/v1"
    api_key_env = "TOGETHER_API_KEY"
    base_url_env = "TOGETHER_BASE_URL"
    needs_auth = True
    default_model = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


class DeepInfra(OpenaiTemplate):
    label = "DeepInfra"
    url = "https://deepinfra.com"
    api_base = "https://api.deepinfra.com/v1/openai"
    api_key_env = "DEEPINFRA_API_KEY"
    base_url_env = "DEEPINFRA_BASE_URL"
    needs_auth = True
    default_model = "meta-llama/Llama-3.3-70B-Instruct"


class Mistral(OpenaiTemplate):
    label = "Mistral"
    url = "https://console.mistral.ai"
    api_base = "https://api.mistral.ai/v1"
    api_key_env = "MISTRAL_API_KEY"
    base_url_env = "MISTRAL_BASE_URL"
    needs_auth = True
    default_model = "mistral-small-latest"


class DeepSeek(OpenaiTemplate):
    label = "DeepSeek"
    url = "https://platform.deepseek.com"
    api_base = "https://api.deepseek.com/v1"
    api_key_env = "DEEPSEEK_API_KEY"
    base_url_env = "DEEPSEEK_BASE_URL"
    needs_auth = True
    default_model = "deepseek-chat"
    fallback_models = ["deepseek-chat", "deepseek-reasoner"]  # noqa: RUF012


class xAI(OpenaiTemplate):
    label = "xAI"
    url = "https://console.x.ai"
    api_base = "https://api.x.ai/v1"
    api_key_env = "XAI_API_KEY"
    base_url_env = "XAI_BASE_URL"
    needs_auth = True
    default_model = "grok-3-mini"


class Fireworks(OpenaiTemplate):
    label = "Fireworks"
    url = "https://fireworks.ai"
    api_base = "https://api.fireworks.ai/inference/v1"
    api_key_env = "FIREWORKS_API_KEY"
    base_url_env = "FIREWORKS_BASE_URL"
    needs_auth = True
    default_model = "accounts/fireworks/models/llama-v3p3-70b-instruct"


class Perplexity(OpenaiTemplate):
    label = "Perplexity"
    url = "https://www.perplexity.ai"
    api_base = "https://api.perplexity.ai"
    api_key_env = "PERPLEXITY_API_KEY"
    base_url_env = "PERPLEXITY_BASE_URL"
    needs_auth = True
    default_model = "sonar"
    fallback_models = ["sonar", "sonar-pro", "sonar-reasoning", "sonar-reasoning-pro"]  # noqa: RUF012


class Cerebras(OpenaiTemplate):
    label = "Cerebras"
    url = "https://cloud.cerebras.ai"
    api_base = "https://api.cerebras.ai/v1"
    api_key_env = "CEREBRAS_API_KEY"
    base_url_env = "CEREBRAS_BASE_URL"
    needs_auth = True
    default_model = "llama-3.3-70b"


class Gemini(OpenaiTemplate):
    label = "Google Gemini"
    url = "https://aistudio.google.com"
    api_base = "https://generativelanguage.googleapis.com/v1beta/openai"
    api_key_env = "GEMINI_API_KEY"
    base_url_env = "GEMINI_BASE_URL"
    needs_auth = True
    default_model = "gemini-2.0-flash"
    image_models = ["imagen-3.0-generate-002"]  # noqa: RUF012


class Ollama(OpenaiTemplate):
    label = "Ollama"
    url = "https://ollama.com"
    api_base = "http://localhost:11434/v1"
    api_key_env = "OLLAMA_API_KEY"
    base_url_env = "OLLAMA_BASE_URL"
    needs_auth = False
    default_model = "llama3.2"


class LMStudio(OpenaiTemplate):
    label = "LM Studio"
    url = "https://lmstudio.ai"
    api_base = "http://localhost:1234/v1"
    api_key_env = "LMSTUDIO_API_KEY"
    base_url_env = "LMSTUDIO_BASE_URL"
    needs_auth = False
    default_model = ""


class vLLM(OpenaiTemplate):
    label = "vLLM"
    url = "https://docs.vllm.ai"
    api_base = "http://localhost:8000/v1"
    api_key_env = "VLLM_API_KEY"
    base_url_env = "VLLM_BASE_URL"
    needs_auth = False
    default_model = ""


class LlamaCpp(OpenaiTemplate):
    label = "llama.cpp server"
    url = "https://github.com/ggml-org/llama.cpp"
    api_base = "http://localhost:8080/v1"
    api_key_env = "LLAMACPP_API_KEY"
    base_url_env = "LLAMACPP_BASE_URL"
    needs_auth = False
    default_model = ""


class Demo(OpenaiTemplate):
    """The embedded demo backend: `$OPENAI_MAGIC_DEMO_URL`, else an in-process server started once."""

    label = "Demo"
    api_base = None
    api_key_env = None
    base_url_env = "OPENAI_MAGIC_DEMO_URL"
    needs_auth = False
    default_model = "demo-chat"
    default_image_model = "demo-image"
    image_models = ["demo-image"]  # noqa: RUF012
    fallback_models = ["demo-chat", "demo-reasoner", "demo-think", "demo-image"]  # noqa: RUF012
    sort_models = False
    replay_name = "demo"  # replay files name the backend, not its port of the day

    _server: Any = None
    _lock = threading.Lock()

    @classmethod
    def ensure_started(cls) -> str:
        """The demo base URL, starting the in-process server on first use (thread-safe)."""
        url = os.environ.get("OPENAI_MAGIC_DEMO_URL")
        if url:
            return url.rstrip("/")
        with Demo._lock:
            if Demo._server is None or not Demo._server.running:
                import atexit

                from openai_magic.server import DemoServer

                Demo._server = DemoServer().start()
                atexit.register(Demo._server.stop)
            base: str = Demo._server.base_url
            return base

    @hybridmethod
    def get_api_base(self, api_base: str | None = None) -> str:
        """Explicit argument, else `$OPENAI_MAGIC_DEMO_URL`, else the in-process demo server."""
        base: str = api_base or Demo.ensure_started()
        return base.rstrip("/")

    @hybridmethod
    async def get_api_base_async(self, api_base: str | None = None) -> str:
        """Like `get_api_base`, but starts the server in a worker thread (it binds and waits)."""
        server = Demo._server
        if api_base or os.environ.get("OPENAI_MAGIC_DEMO_URL") or (server is not None and server.running):
            base: str = self.get_api_base(api_base)
            return base
        return (await asyncio.to_thread(Demo.ensure_started)).rstrip("/")


PRESETS: tuple[type[OpenaiTemplate], ...] = (
    OpenAI,
    OpenRouter,
    Groq,
    Together,
    DeepInfra,
    Mistral,
    DeepSeek,
    xAI,
    Fireworks,
    Perplexity,
    Cerebras,
    Gemini,
    Ollama,
    LMStudio,
    vLLM,
    LlamaCpp,
    Demo,
)

PROVIDERS: dict[str, type[OpenaiTemplate]] = {cls.__name__: cls for cls in PRESETS}

_ALIASES = {
    "lm-studio": "LMStudio",
    "lmstudio": "LMStudio",
    "llama.cpp": "LlamaCpp",
    "llamacpp": "LlamaCpp",
    "llama-cpp": "LlamaCpp",
    "llama_cpp": "LlamaCpp",
    "grok": "xAI",
    "x.ai": "xAI",
    "google": "Gemini",
    "together.ai": "Together",
    "togetherai": "Together",
    "embedded": "Demo",
}


# Keyed by Secret: a base URL may carry `user:password@`, and this dict must not show it.
_custom_by_url: dict[Secret, type[OpenaiTemplate]] = {}
_custom_lock = threading.Lock()


def _fold(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", name).lower()


def names() -> list[str]:
    """Registered provider names, in preset order."""
    return list(PROVIDERS)


def get(name_or_url: str | type[OpenaiTemplate]) -> type[OpenaiTemplate]:
    """A provider by name (case-insensitive, aliases like "lmstudio", "llama.cpp") or by base URL."""
    if isinstance(name_or_url, type) and issubclass(name_or_url, OpenaiTemplate):
        return name_or_url
    if not isinstance(name_or_url, str) or not name_or_url.strip():
        raise KeyError(f"unknown provider {name_or_url!r}")
    text = name_or_url.strip()
    if text.startswith(("http://", "https://")):
        # One class per base URL, so its model listing stays cached across lookups.
        base = Secret(text.rstrip("/"))
        with _custom_lock:
            if base not in _custom_by_url:
                _custom_by_url[base] = custom(base.reveal())
            return _custom_by_url[base]
    wanted = _fold(text)
    for key, cls in PROVIDERS.items():
        if _fold(key) == wanted or _fold(cls.label) == wanted:
            return cls
    for alias, target in _ALIASES.items():
        if _fold(alias) == wanted and target in PROVIDERS:
            return PROVIDERS[target]
    raise KeyError(f"unknown provider {name_or_url!r}; known: {', '.join(PROVIDERS)}")


def register(cls: type[OpenaiTemplate], name: str | None = None) -> type[OpenaiTemplate]:
    """Add a provider class to the registry (usable as a decorator)."""
    PROVIDERS[name or cls.__name__] = cls
    return cls


def custom(
    base_url: str, api_key: str | Secret | None = None, label: str | None = None, **attrs: Any
) -> type[OpenaiTemplate]:
    """A provider class for any OpenAI-compatible base URL (no key needed unless `needs_auth=True`)."""
    key = secret.argument(api_key)
    del api_key  # from here on only the Secret: a traceback shows every local
    if isinstance(key, TypeError):
        raise key
    base = base_url.rstrip("/")
    # The label is shown everywhere: never the `user:password@` part of a URL.
    host = urlparse(strip_credentials(base)).netloc or strip_credentials(base)
    namespace: dict[str, Any] = {
        "label": label or host,
        "api_base": base,
        "api_key": key,
        "api_key_env": None,
        "base_url_env": None,
        "needs_auth": False,
        "default_model": "",
        **attrs,
    }
    return type("Custom", (OpenaiTemplate,), namespace)


__all__ = [
    "PRESETS",
    "PROVIDERS",
    "Cerebras",
    "DeepInfra",
    "DeepSeek",
    "Demo",
    "Fireworks",
    "Gemini",
    "Groq",
    "LMStudio",
    "LlamaCpp",
    "Mistral",
    "Ollama",
    "OpenAI",
    "OpenRouter",
    "Perplexity",
    "Together",
    "custom",
    "get",
    "names",
    "register",
    "vLLM",
    "xAI",
]
