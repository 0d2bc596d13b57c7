"""ChatOptions: merging, request kwargs, metadata without the key; argument splitting; error lines."""

from __future__ import annotations

import argparse

import pytest

from openai_magic.core import errors
from openai_magic.notebook.errorline import describe
from openai_magic.notebook.magics import ChatMagics, _split_options, protect_questions
from openai_magic.notebook.options import ChatOptions, default_provider, provider_label, resolve_provider


def test_merge_and_request_kwargs() -> None:
    base = ChatOptions(model="m", temperature=0.2, api_key="sk-secret-1234")
    opts = base.merged(ChatOptions(max_tokens=5, stop="END"), seed=1, json=True, media=["x.png"])
    kwargs = opts.request_kwargs([{"role": "user", "content": "hi"}])
    assert kwargs == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "temperature": 0.2,
        "max_tokens": 5,
        "stop": ["END"],
        "seed": 1,
        "response_format": {"type": "json_object"},
        "media": ["x.png"],
        "api_key": "sk-secret-1234",
    }
    assert "sk-secret" not in repr(opts) and "sk-secret" not in str(opts.metadata(object))
    with pytest.raises(ValueError, match="format must be one of"):
        ChatOptions(format="yaml")


def test_image_requests_use_the_prompt_and_an_image_model(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_MAGIC_DEMO_URL", "http://127.0.0.1:9/v1")
    opts = ChatOptions(image=True)
    provider = opts.provider_class()
    kwargs = opts.request_kwargs([{"role": "user", "content": "a cat"}], provider)
    assert kwargs["model"] == "demo-image" and kwargs["prompt"] == "a cat"


def test_default_provider_from_environment(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    provider, is_demo = default_provider()
    assert is_demo and provider.__name__ == "Demo"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    provider, is_demo = default_provider()
    assert not is_demo and provider.__name__ == "OpenaiTemplate"
    url = resolve_provider("http://127.0.0.1:9/v1/")
    assert url is resolve_provider("http://127.0.0.1:9/v1") and provider_label(url) == "http://127.0.0.1:9/v1"
    assert provider_label(resolve_provider("groq")) == "Groq"


def parser() -> argparse.ArgumentParser:
    return ChatMagics.chat.parser


@pytest.mark.parametrize(
    ("line", "options", "prompt"),
    [
        ("hello world", "", "hello world"),
        ("-m x hello", "-m x ", "hello"),
        ("-m=x --new  -t 0.5 hi {a} -m y", "-m=x --new  -t 0.5 ", "hi {a} -m y"),
        ("-mx --json what?", "-mx --json ", "what?"),
        ("--header 'A: b c' -o v  spaced  ", "--header 'A: b c' -o v  ", "spaced  "),
        ("-- -m is the prompt", "", "-m is the prompt"),
        ("-5 degrees", "", "-5 degrees"),
        ("--bogus x", "--bogus ", "x"),  # then argparse reports --bogus
        ("--new", "--new", ""),
    ],
)
def test_split_options_keeps_the_prompt_as_typed(line: str, options: str, prompt: str) -> None:
    assert _split_options(line, parser()) == (options, prompt)


def test_questions_are_prompts_not_help() -> None:
    assert protect_questions(["%chat Why?\n"]) == ["get_ipython().run_line_magic('chat', 'Why?')\n"]
    assert protect_questions(["  %chat -m x what's up?"]) == [
        "  get_ipython().run_line_magic('chat', \"-m x what's up?\")"
    ]
    for untouched in (["%chat?\n"], ["%%chat\n", "Why?\n"], ["%chatty x?\n"], ["x = 1\n"]):
        assert protect_questions(list(untouched)) == untouched


def test_error_lines() -> None:
    assert describe(errors.ModelNotFoundError("no model x", suggestions=["a", "b"])) == (
        "ModelNotFoundError: no model x - did you mean: a, b?"
    )
    assert describe(errors.ModelNotFoundError("no model x", available=["a", "b"])) == (
        "ModelNotFoundError: no model x (available: a, b)"
    )
    many = [f"m{i}" for i in range(10)]
    assert describe(errors.ModelNotFoundError("x", available=many)).endswith("m7, ...)")
    assert describe(errors.RateLimitError("slow", retry_after=2.1)).endswith("retry in 3 s")
    assert describe(errors.RateLimitError("slow")).endswith("retry later")
    assert describe(errors.RateLimitError("no credit", insufficient_quota=True)).endswith(
        "out of credit: check the provider's plan and billing"
    )
    assert describe(errors.ServerError("key sk-abcdef123 leaked"), ("sk-abcdef123",)) == (
        "ServerError: key *** leaked"
    )
