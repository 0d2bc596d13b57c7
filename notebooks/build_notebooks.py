"""Write the demo notebooks (outputs stripped) from the cell lists below: `python build_notebooks.py`."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from replay_cells import REPRODUCIBLE  # noqa: E402
from tools_cells import TOOLS  # noqa: E402

M = new_markdown_cell
C = new_code_cell

QUICKSTART = [
    M(
        "# openai_magic quickstart\n"
        "\n"
        "Chat with a language model from notebook cells. With no API key set, every cell here runs\n"
        "against the **built-in demo model** (deterministic answers, no network, no account). Set a key\n"
        "before starting Jupyter (e.g. `export OPENAI_API_KEY=...`) and the very same cells talk to that\n"
        "provider instead; `04_providers.ipynb` shows the other providers.\n"
        "\n"
        "Run the cells top to bottom (*Run → Run All Cells*)."
    ),
    C("%load_ext openai_magic"),
    M(
        "## Which models are there?\n"
        "\n"
        "`%models` lists the provider's models: the current default is marked, and so are image models.\n"
        "A pattern filters the list, e.g. `%models gpt-4*` or `%models mini`."
    ),
    C("%models"),
    M(
        "## A streamed answer\n"
        "\n"
        "`%%chat` sends the cell body as the prompt. The answer streams in as rendered Markdown (tables,\n"
        "highlighted code), and a footer shows the model, tokens and speed. The kernel's stop button\n"
        "ends a long answer and keeps what arrived."
    ),
    C(
        "%%chat\n"
        "Explain Python list comprehensions to a newcomer: one short paragraph, a small table comparing\n"
        "them with `map` and `filter`, and a code example."
    ),
    M(
        "## A follow-up\n"
        "\n"
        "The conversation carries over from cell to cell, so a follow-up can refer to the previous\n"
        "answer. (The demo model says how many messages it received: the history is really sent.)"
    ),
    C("%%chat\nSummarize your previous answer in one sentence."),
    M("`%chat` is the one-line form:"),
    C("%chat And which of the approaches in that table suits a quick filter, in one line."),
    M(
        "## Python values in prompts\n"
        "\n"
        "`{name}`, `{name.attr}`, `{name[key]}`, `{In[3]}` and `{Out[3]}` are replaced with the value\n"
        "when they name something in the notebook. Everything else with braces (JSON, code,\n"
        "f-strings, `{}`) stays exactly as typed; `--raw` turns substitution off. `--new` starts a fresh\n"
        "conversation.\n"
        "\n"
        "*Demo-only:* `[demo echo]` asks the built-in demo model to answer with the prompt exactly as it\n"
        "was sent, so you can see the substitution. A real model simply reads it as part of the prompt."
    ),
    C('city = "Lisbon"\ndays = 3'),
    C(
        "%%chat --new\n"
        "[demo echo] Plan {days} days in {city}. Reply as JSON shaped like\n"
        '{"city": "...", "days": [{"morning": "...", "evening": "..."}]}'
    ),
    M("## Keep the answer in a variable\n\n`-o NAME` stores the answer text in the notebook's namespace."),
    C("%%chat -o answer\nWrite a short poem about notebooks."),
    C('print(f"{len(answer.split())} words captured, starting with {answer[:40]!r}")'),
    M(
        "## Code straight into the next cell\n"
        "\n"
        "`-f code` takes the fenced code from the answer and puts it into a new cell below this one,\n"
        "ready to read and run (it is not run for you)."
    ),
    C("%%chat -f code\nWrite a Python function `is_palindrome(s)` that ignores case and punctuation."),
    M(
        "## Named conversations\n"
        "\n"
        "`-c NAME` keeps separate threads side by side; `%chat_history` shows one (or exports it with\n"
        "`--export thread.md`, or clears it with `--clear`)."
    ),
    C("%%chat -c names\nSuggest three names for a data-science blog."),
    C("%chat_history -c names"),
    M(
        "Next: `02_control_panel.ipynb` (a widget panel, compare mode), `03_images_and_media.ipynb`\n"
        "(image generation, asking about images), `04_providers.ipynb` (real providers, defaults,\n"
        "the Python API), `05_tools.ipynb` (the model calls your functions), `06_reproducible.ipynb`\n"
        "(replaying a notebook's answers, the log, threads after a restart)."
    ),
]

CONTROL_PANEL = [
    M(
        "# The control panel\n"
        "\n"
        "For people who prefer knobs to options: a panel with the provider, model, sampling\n"
        "parameters, system prompt, conversation threads, a prompt box with **Send** (or Shift+Enter)\n"
        "and **Stop**, image mode and image attachments. It shares providers, conversations and\n"
        "rendering with `%%chat`. A key typed into its key field is held in kernel memory only: it is\n"
        "never saved with the notebook."
    ),
    C("%load_ext openai_magic"),
    M(
        "`%chat_panel` shows a panel; `ChatPanel(...)` does the same from Python and takes the same\n"
        "settings (`provider=`, `model=`, `temperature=`, `system=`, `conversation=`, ...)."
    ),
    C('from openai_magic import ChatPanel\n\npanel = ChatPanel(conversation="planning")\npanel'),
    M(
        "Type a prompt above and press **Send**. The panel can also be driven from code:\n"
        "`await panel.send(prompt)` does what the Send button does and returns the answer."
    ),
    C(
        'answer = await panel.send("Suggest three small weekend projects for learning Python.")\n'
        "print(answer[:200])"
    ),
    M(
        "The panel's thread is the same conversation `%%chat -c planning` continues, so a cell can\n"
        "follow up on what was asked in the panel (and the other way round)."
    ),
    C("%%chat -c planning\nWhich of those projects needs the least setup?"),
    M(
        "## Compare mode\n"
        "\n"
        "Pick two or more models and the same prompt streams into side-by-side columns at once, each\n"
        "with its own footer. Here the first two chat models the provider lists; name your own with\n"
        '`ChatPanel(compare=["model-a", "model-b"])`.'
    ),
    C(
        "from openai_magic import providers\n"
        "\n"
        "provider = providers.get(panel.provider_label)\n"
        "models = [m for m in await provider.get_models_async() if m not in provider.image_models]\n"
        'compare = ChatPanel(compare=models[:2], conversation="compare")\n'
        "compare"
    ),
    C(
        "await compare.load_models()\n"
        'answers = await compare.send("Explain recursion in two sentences.")\n'
        "for model, text in answers.items():\n"
        '    print(f"{model}: {len(text.split())} words")'
    ),
]

IMAGES = [
    M(
        "# Images: generate them, and ask about them\n"
        "\n"
        "`%%chat --image` sends the prompt to an image model and shows the pictures inline as they\n"
        "arrive. `--media` attaches images (a file path or a variable holding bytes) to a chat prompt.\n"
        "With no key set, the built-in demo backend draws a small picture and describes attachments;\n"
        "with a real provider the same cells use its image and vision models."
    ),
    C("%load_ext openai_magic"),
    M("## Generate an image"),
    C("%%chat --image -o picture\nA watercolor lighthouse on a rocky coast at dusk"),
    M("`-o` kept the image bytes, ready to save or to show again:"),
    C('from IPython.display import Image\n\nprint(f"{len(picture)} bytes")\nImage(picture, width=160)'),
    M(
        "## Ask about an image\n"
        "\n"
        "`sample.png` sits next to this notebook. Attach it with `--media` (repeat the option to attach\n"
        "several)."
    ),
    C('Image("sample.png")'),
    C("%%chat --new --media sample.png\nWhat is in this picture? Answer in one sentence."),
    M("A variable holding image bytes works too, e.g. the picture generated above:"),
    C("%%chat --new --media picture --media sample.png\nCompare these two images."),
]

PROVIDERS = [
    M(
        "# Providers, defaults and the Python API\n"
        "\n"
        "openai_magic talks to any server that speaks OpenAI's chat-completions API. `-p/--provider`\n"
        "takes a preset name or a base URL. Keys come from environment variables (or `%chat_key`,\n"
        "which asks with a hidden prompt), never from cells: a key typed into a cell would be saved\n"
        "with the notebook.\n"
        "\n"
        "| provider | `-p` | key variable | base URL |\n"
        "|---|---|---|---|\n"
        "| OpenAI | `openai` | `OPENAI_API_KEY` | https://api.openai.com/v1 |\n"
        "| OpenRouter | `openrouter` | `OPENROUTER_API_KEY` | https://openrouter.ai/api/v1 |\n"
        "| Groq | `groq` | `GROQ_API_KEY` | https://api.groq.com/openai/v1 |\n"
        "| Ollama | `ollama` | none | http://localhost:11434/v1 |\n"
        "| LM Studio | `lmstudio` | none | http://localhost:1234/v1 |\n"
        "| vLLM | `vllm` | none | http://localhost:8000/v1 |\n"
        "| llama.cpp server | `llamacpp` | none | http://localhost:8080/v1 |\n"
        "| any other | the base URL | none | yours |\n"
        "\n"
        "Each preset also reads its base URL from `<NAME>_BASE_URL` (e.g. `OPENAI_BASE_URL`), so a\n"
        "gateway that needs a key works as `-p openai` with `OPENAI_BASE_URL` and `OPENAI_API_KEY` set.\n"
        "The full list (Together, DeepInfra, Mistral, DeepSeek, xAI, Gemini, ...) is `providers.names()`:"
    ),
    C("%load_ext openai_magic\nfrom openai_magic import providers\n\nproviders.names()"),
    M(
        "## Examples (they need a key or a local server, so they are shown, not run)\n"
        "\n"
        "```\n"
        "%chat -p openai -m gpt-4o-mini Hello!\n"
        "%chat -p openrouter -m meta-llama/llama-3.1-8b-instruct Hello!\n"
        "%chat -p groq -m llama-3.1-8b-instant Hello!\n"
        "%chat -p ollama -m llama3.2 Hello!              # `ollama serve` on this machine\n"
        "%chat -p lmstudio Hello!                         # LM Studio's local server\n"
        "%chat -p vllm Hello!                             # `vllm serve MODEL`\n"
        "%chat -p llamacpp Hello!                         # `llama-server -m model.gguf`\n"
        "%chat -p http://gpu-box:8000/v1 -m my-model Hello!\n"
        "%models -p groq llama\n"
        "```"
    ),
    M(
        "## A custom base URL, for real\n"
        "\n"
        'The built-in demo backend is an OpenAI-compatible server too, so it stands in for "your own\n'
        'server" here. `-p` takes a literal URL (`%chat -p http://localhost:8000/v1 ...`); a URL held in a\n'
        "variable becomes the default provider with `%config`. A custom server has no default model, so\n"
        "the first one it lists is used until you pick one with `-m`."
    ),
    C('base_url = providers.get("demo").get_api_base()\nbase_url'),
    C("%config ChatMagics.provider = base_url\n%models"),
    C("%chat --new Hello from a custom base URL!"),
    M(
        "## Defaults with `%config`\n"
        "\n"
        "Settings on `ChatMagics` apply to every following `%%chat` (put them in `ipython_config.py`\n"
        "as `c.ChatMagics.model = ...` to make them permanent). `%config ChatMagics` lists them all."
    ),
    C("%config ChatMagics"),
    C('%config ChatMagics.system = "Answer in one short paragraph."\n%config ChatMagics.temperature = 0.2'),
    C("%%chat --new\nWhat does a system prompt do?"),
    M(
        "Back to the defaults (with nothing configured: `OPENAI_API_KEY` and friends from the\n"
        "environment, else the demo backend):"
    ),
    C(
        "%config ChatMagics.provider = None\n"
        "%config ChatMagics.system = None\n"
        "%config ChatMagics.temperature = None"
    ),
    M(
        "## The Python API\n"
        "\n"
        "The magics and the panel are thin layers over `OpenaiTemplate`, an async client for any\n"
        "OpenAI-compatible API. A provider is a class; `create_async_generator` yields text deltas and\n"
        "typed items (`Usage`, `Reasoning`, `ImageResponse`, ...)."
    ),
    C(
        "import os\n"
        "\n"
        "from openai_magic import responses\n"
        "\n"
        '# Any preset or base URL works: providers.get("groq"), providers.get("http://host:8000/v1"), ...\n'
        'Provider = providers.get("openai" if os.environ.get("OPENAI_API_KEY") else "demo")\n'
        'messages = [{"role": "user", "content": "Name three uses of Python\'s `itertools`."}]\n'
        "async for item in Provider.create_async_generator(Provider.default_model, messages, stream=True):\n"
        "    if isinstance(item, str):\n"
        '        print(item, end="")\n'
        "    elif isinstance(item, responses.Usage):\n"
        '        print(f"\\n\\n[{item.prompt_tokens} tokens in, {item.completion_tokens} out]")'
    ),
    M("Scripts without an event loop can use the sync helper:"),
    C('print(Provider.chat("In one sentence: what is a generator?"))'),
]

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_control_panel.ipynb": CONTROL_PANEL,
    "03_images_and_media.ipynb": IMAGES,
    "04_providers.ipynb": PROVIDERS,
    "05_tools.ipynb": TOOLS,
    "06_reproducible.ipynb": REPRODUCIBLE,
}


def build() -> None:
    """Write every notebook with stable cell ids and no outputs."""
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(
            cells=cells,
            metadata={
                "kernelspec": {
                    "name": "python3",
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                },
                "language_info": {"name": "python"},
            },
        )
        for index, cell in enumerate(nb.cells):
            cell.id = f"{Path(name).stem.split('_')[0]}-{index:02d}"
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    build()
