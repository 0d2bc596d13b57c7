"""The magics in a real kernel against the embedded demo server: streaming, history, options, images."""

from __future__ import annotations

import shutil

import pytest
from magics_kernel import ROOT, Kernel, usage_error

pytestmark = [pytest.mark.kernel, pytest.mark.timing]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory, demo_server):
    cwd = tmp_path_factory.mktemp("magics")
    shutil.copy(ROOT / "notebooks" / "sample.png", cwd / "sample.png")
    k = Kernel(cwd, OPENAI_MAGIC_DEMO_URL=demo_server.base_url)
    cell = k.run("%load_ext openai_magic")
    assert cell.reply["content"]["status"] == "ok"
    yield k
    k.close()


def ok(cell):
    assert cell.reply["content"]["status"] == "ok", cell.everything
    assert not cell.of("error"), cell.everything
    return cell


def test_stream_renders_the_whole_answer_with_metadata_and_footer(kernel) -> None:
    cell = ok(kernel.run("%%chat --new -o answer\nExplain Python list comprehensions"))
    answer = kernel.value("answer")
    assert answer.startswith("## ") and "```python" in answer
    assert cell.markdown == answer  # the blocks shown add up to the whole answer, verbatim
    assert cell.of("display_data")[0]["content"]["data"]["text/markdown"] == "_thinking..._"
    meta = cell.meta
    assert meta["provider"] == "Demo" and meta["model"] == "demo-chat"
    assert meta["usage"]["completion_tokens"] > 0 and meta["usage"]["prompt_tokens"] > 0
    assert meta["timing"]["time_to_first_token"] >= 0 and meta["parameters"]["stream"] is True
    footer = next(
        d["text/plain"] for d, md in cell.displays if md.get("openai_magic", {}).get("role") == "footer"
    )
    assert footer.startswith("demo-chat · ") and " in / " in footer and "tokens/s" in footer


def test_display_updates_grow_linearly(kernel) -> None:
    counts = {}
    for n in (150, 300):
        cell = ok(kernel.run(f"%%chat --no-history -o long\n[demo tokens={n}] [demo pace=0.002] go"))
        assert cell.markdown == kernel.value("long")
        counts[n] = (cell.updates, cell.iopub_bytes, len(kernel.value("long")))
    (u1, b1, _), (u2, b2, c2) = counts[150], counts[300]
    assert u1 < 150 and u2 < 300  # far fewer display messages than tokens
    assert u2 <= 2.2 * u1 and b2 <= 2.2 * b1
    assert b2 < 20 * c2  # never the whole answer per update


def test_history_named_threads_and_new(kernel) -> None:
    first = ok(kernel.run("%%chat --new\nHello"))
    assert "I saw 1 message" in first.markdown
    second = ok(kernel.run("%chat And again?"))
    assert "I saw 3 messages" in second.markdown
    other = ok(kernel.run("%chat -c side Hello there"))
    assert "I saw 1 message" in other.markdown
    assert "I saw 5 messages" in ok(kernel.run("%chat Third")).markdown
    assert "I saw 1 message" in ok(kernel.run("%chat --no-history Alone")).markdown
    assert "I saw 1 message" in ok(kernel.run("%chat --new Fresh start")).markdown
    assert (
        kernel.value(
            "len(__import__('openai_magic.notebook.conversation').notebook.conversation.get_conversation('side').messages)"
        )
        == 2
    )
    shown = ok(kernel.run("%chat_history -c side"))
    assert "Hello there" in shown.markdown and "# Conversation: side" in shown.markdown


def test_interpolation_keeps_braces_and_reports_unknown_names(kernel) -> None:
    ok(kernel.run("name = 'World'\nd = {'k': 'value'}\nimport types\nobj = types.SimpleNamespace(attr=42)"))
    cell = ok(
        kernel.run(
            '%%chat --new -o echoed\n[demo echo] Hi {name} {d[k]} {obj.attr} {"a": 1} {} '
            "f'{name}' {{name}} {nope} {nope}"
        )
    )
    assert kernel.value("echoed") == (
        "[demo echo] Hi World value 42 {\"a\": 1} {} f'{name}' {{name}} {nope} {nope}"
    )
    assert cell.stdout.count("{nope}") == 1 and "Left as typed" in cell.stdout
    raw = ok(kernel.run("%chat --raw -o raw_echo [demo echo] {name}"))
    assert kernel.value("raw_echo") == "[demo echo] {name}" and "Left as typed" not in raw.stdout
    ok(kernel.run("1 + 1"))
    count = kernel.value("len(In) - 2")  # the `1 + 1` cell
    ok(kernel.run(f"%chat -o hist [demo echo] {{In[{count}]}} = {{Out[{count}]}}"))
    assert kernel.value("hist") == "[demo echo] 1 + 1 = 2"


def test_format_code_puts_the_code_in_the_next_cell(kernel) -> None:
    cell = ok(kernel.run("%%chat --new -f code\nWrite a function"))
    payload = [p for p in cell.payload if p["source"] == "set_next_input"]
    assert len(payload) == 1 and payload[0]["text"].startswith("def summarize(")
    assert payload[0]["replace"] is False


def test_other_formats_json_and_options(kernel) -> None:
    text = ok(kernel.run("%chat --new -f text [demo echo] plain words"))
    assert "plain words" in text.stdout and not text.markdown
    html = ok(kernel.run("%chat --new -f html [demo echo] <b>bold</b>"))
    assert any(d.get("text/html") == "[demo echo] <b>bold</b>" for d, _ in html.displays)
    parsed = ok(kernel.run("%chat --new --json -o obj Give me data"))
    value = kernel.value("obj")
    assert isinstance(value, dict) and value
    assert parsed.of("execute_result")  # the parsed object is the cell's result
    limited = ok(kernel.run("%chat --new --max-tokens 3 -t 0.5 --top-p 0.9 --seed 7 -o short Hi"))
    assert limited.meta["parameters"] == {
        "temperature": 0.5,
        "top_p": 0.9,
        "max_tokens": 3,
        "seed": 7,
        "stream": True,
    }
    assert limited.meta["finish_reason"] == "length"
    nostream = ok(kernel.run("%chat --new --no-stream -o whole Hello"))
    assert nostream.markdown == kernel.value("whole") and nostream.meta["parameters"]["stream"] is False
    ok(kernel.run("%chat --new --stop Here -o cut Hello"))
    assert "Here" not in kernel.value("cut")


def test_reasoning_is_collapsed_and_separate(kernel) -> None:
    cell = ok(kernel.run("%chat --new -m demo-reasoner -o r Why?"))
    html = [d["text/html"] for d, _ in cell.displays if "text/html" in d and "<details" in d["text/html"]]
    assert len(html) == 1 and "<summary>Reasoning</summary>" in html[0] and "<details open" not in html[0]
    assert "<details" not in kernel.value("r") and cell.markdown == kernel.value("r")
    think = ok(kernel.run("%chat --new -m demo-think -o t Why?"))
    assert "<think>" not in kernel.value("t") and any(
        "<details" in d.get("text/html", "") for d, _ in think.displays
    )


def test_image_generation_and_media(kernel) -> None:
    cell = ok(kernel.run("%%chat --image -o picture\nA lighthouse at dusk"))
    images = [(d, md) for d, md in cell.displays if "image/png" in d]
    assert len(images) == 1
    assert kernel.value("picture[:4] == b'\\x89PNG'") is True
    assert images[0][1]["openai_magic"]["model"] == "demo-image"
    media = ok(kernel.run("%%chat --new --media sample.png --media picture -o seen\nWhat is in these?"))
    seen = kernel.value("seen")
    assert "Images attached | 2" in seen and "image/png" in seen
    assert media.markdown == seen
    missing = kernel.run("%chat --media no_such.png hi")
    assert usage_error(missing) == "--media no_such.png: no such file or variable" and not missing.markdown


def test_models_and_config(kernel) -> None:
    cell = ok(kernel.run("%models"))
    table = cell.markdown
    assert "| `demo-chat` |  | ✓ |" in table and "| `demo-image` | 🖼 |  |" in table
    assert "demo-reasoner" in ok(kernel.run("%models reason")).markdown
    assert "demo-chat" not in ok(kernel.run("%models *think*")).markdown
    ok(kernel.run("%config ChatMagics.model = 'demo-think'\n%config ChatMagics.temperature = 0.3"))
    assert "| `demo-think` |  | ✓ |" in ok(kernel.run("%models")).markdown
    used = ok(kernel.run("%chat --new Hello"))
    assert used.meta["model"] == "demo-think" and used.meta["parameters"]["temperature"] == 0.3
    ok(kernel.run("%config ChatMagics.system = 'Be terse.'"))
    assert "system" in ok(kernel.run("%chat --new [demo echo] hi")).meta["parameters"]
    listing = ok(kernel.run("%config ChatMagics"))
    assert "ChatMagics.model" in listing.stdout
    ok(
        kernel.run(
            "%config ChatMagics.model = None\n%config ChatMagics.temperature = None\n"
            "%config ChatMagics.system = None"
        )
    )
    base = kernel.value("__import__('os').environ['OPENAI_MAGIC_DEMO_URL']")
    ok(kernel.run(f"base_url = {base!r}"))
    custom = ok(kernel.run("%chat -p $base_url --new -m demo-chat Hello from a URL"))
    assert custom.meta["provider"] == base and "Hello from a URL" in custom.markdown


def test_help_and_panel(kernel) -> None:
    helped = ok(kernel.run("%%chat?\n"))
    text = str(helped.payload)
    assert "--model" in text and "--conversation" in text
    panel = ok(kernel.run("%chat_panel -c planning"))
    assert any("application/vnd.jupyter.widget-view+json" in d for d, _ in panel.displays)


def test_text_held_by_the_throttle_shows_while_the_stream_pauses(kernel) -> None:
    ok(kernel.run("%chat --no-history --max-tokens 5 -o head Pause here"))
    head = kernel.value("head")
    cell = ok(kernel.run("%chat --no-history --header 'X-Demo-Fault: stall;after=5;seconds=1' Pause here"))
    shown: dict[str, str] = {}
    states = []
    for msg in cell.of("display_data", "update_display_data"):  # the streamed parts (with display ids)
        ident = msg["content"].get("transient", {}).get("display_id")
        if ident:
            shown[ident] = msg["content"]["data"].get("text/markdown", "")
            states.append("".join(shown.values()))
    assert head in states  # shown during the pause, before the rest arrived
    assert cell.markdown.startswith(head) and len(cell.markdown) > len(head)  # then the rest came


def test_chat_panel_takes_every_session_default_the_panel_has(kernel, tmp_path) -> None:
    """`%chat_panel` is the panel with the session's defaults: replay, log, stream, sampling, steps."""
    log = tmp_path / "panel.db"
    ok(
        kernel.run(
            f"%config ChatMagics.log_path = {str(log)!r}\n%config ChatMagics.stream = False\n"
            "%config ChatMagics.max_steps = 3\n%config ChatMagics.temperature = 0.5\n"
            f"%chat_replay replay {str(tmp_path / 'none.replay.jsonl')!r}"
        )
    )
    try:
        ok(kernel.run("%chat_panel -m demo-chat -c panel-defaults"))
        ok(
            kernel.run(
                "import gc\nfrom openai_magic import ChatPanel\n"
                "(_p,) = [o for o in gc.get_objects() if isinstance(o, ChatPanel)"
                " and o.conversation_name == 'panel-defaults']\n_p = _p._defaults"
            )
        )
        found = kernel.value("[_p.log_path, _p.stream, _p.max_steps, _p.temperature, _p.replay_mode]")
        assert found == [str(log), False, 3, 0.5, "replay"]
    finally:
        ok(
            kernel.run(
                "%chat_replay off\n%config ChatMagics.log_path = None\n%config ChatMagics.stream = True\n"
                "%config ChatMagics.max_steps = 8\n%config ChatMagics.temperature = None"
            )
        )
