"""ChatOptions: merging, request kwargs, metadata without the key; argument splitting; error lines."""

from __future__ import annotations

import argparse

import pytest

from openai_magic.core import errors
from openai_magic.notebook.errorline import describe
from openai_magic.notebook.magics import ChatMagics, protect_questions
from openai_magic.notebook.magics.arguments import split_options
from openai_magic.notebook.options import ChatOptions
from openai_magic.notebook.plan import Plan, UnknownProviderError, provider_label, resolve_provider


def plan_for(options: ChatOptions, messages: list, provider=None, model="m", image=False, key=None) -> Plan:
    from openai_magic.notebook.conversation import get_conversation

    return Plan(
        prompt=messages[-1]["content"],
        options=options,
        provider=provider or resolve_provider("http://127.0.0.1:9/v1")[0],
        model=model,
        image=image,
        messages=messages,
        conversation=get_conversation("options-test"),
        surface="magic",
        media=["x.png"],
        key=key,
    )


def test_options_become_request_kwargs_and_metadata_without_the_key() -> None:
    opts = ChatOptions(model="m", temperature=0.2).replace(max_tokens=5, stop=("END",), seed=1, json=True)
    plan = plan_for(opts, [{"role": "user", "content": "hi"}], key="sk-secret-1234")
    assert plan.request_kwargs() == {
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
    assert "sk-secret" not in repr(plan) and "sk-secret" not in str(plan.metadata())
    assert plan.metadata()["parameters"] == {
        "temperature": 0.2,
        "max_tokens": 5,
        "stop": ["END"],
        "seed": 1,
        "stream": True,
        "json": True,
    }
    with pytest.raises(ValueError, match="format must be one of"):
        ChatOptions(format="yaml")
    with pytest.raises(TypeError, match="did you mean temperature"):
        ChatOptions().replace(temprature=1)


def test_one_declaration_drives_every_surface() -> None:
    """Each option is declared once; the parser, the traits, the panel keywords and widgets follow."""
    from openai_magic.notebook import options as opts
    from openai_magic.notebook.magics.config import ChatMagicsConfig
    from openai_magic.notebook.panel_params import ParamWidgets

    parser = ChatMagics.chat.parser
    dests = {action.dest for action in parser._actions}
    assert set(opts.names(opts.MAGIC)) <= dests
    assert set(opts.names(opts.CONFIG)) <= set(ChatMagicsConfig.class_trait_names(config=True))
    sampling = ChatOptions(temperature=1.0, top_p=0.5, max_tokens=7, seed=3, stop=("x",)).sampling()
    assert set(sampling) == {n for n in opts.names(opts.MAGIC) if opts.spec(n).request}
    widgets = ParamWidgets()
    assert set(widgets.widgets) == {n for n in opts.names(opts.PANEL) if opts.spec(n).widget}
    trait = ChatMagicsConfig.class_traits()["temperature"]
    assert (trait.min, trait.max) == (0, 2)  # the bounds travel too
    assert parser._option_string_actions["--no-stream"].dest == "stream"


def test_default_provider_from_environment(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    provider, is_demo = resolve_provider(None)
    assert is_demo and provider.__name__ == "Demo"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    provider, is_demo = resolve_provider(None)
    assert not is_demo and provider.__name__ == "OpenaiTemplate"
    url, _ = resolve_provider("http://127.0.0.1:9/v1/")
    assert (
        url is resolve_provider("http://127.0.0.1:9/v1")[0] and provider_label(url) == "http://127.0.0.1:9/v1"
    )
    assert provider_label(resolve_provider("groq")[0]) == "Groq"
    with pytest.raises(UnknownProviderError, match="or a base URL"):
        resolve_provider("nosuch")


def test_credentials_in_a_base_url_never_reach_the_label_or_metadata() -> None:
    cls, _ = resolve_provider("http://user:s3cr3t-pass@127.0.0.1:9/v1")
    assert provider_label(cls) == "http://127.0.0.1:9/v1"
    plan = plan_for(ChatOptions(), [{"role": "user", "content": "hi"}], provider=cls)
    assert "s3cr3t" not in str(plan.metadata()) and "user:" not in str(plan.metadata())


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
    assert split_options(line, parser()) == (options, prompt)


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
