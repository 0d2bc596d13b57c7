"""Cells of 05_tools.ipynb: the model calls Python functions in the kernel (see build_notebooks.py)."""

from __future__ import annotations

from nbformat.v4 import new_code_cell as C
from nbformat.v4 import new_markdown_cell as M

TOOLS = [
    M(
        "# Tools: the model calls your Python functions\n"
        "\n"
        "`%%chat --tools f` offers the function `f` to the model. When the model asks for it, the\n"
        "function runs **in this kernel** (so it can read your data), its result goes back to the\n"
        "model, and the model answers from it. Each call shows as a collapsed block with its\n"
        "arguments, result and time. The schema the model sees comes from the signature, the type\n"
        "hints and the docstring.\n"
        "\n"
        "With no API key this uses the demo backend's `demo-tools` model, which calls a tool when a\n"
        "`[demo tool=NAME key=value]` directive asks for it (*demo-only*: a real model decides from\n"
        "the question itself and ignores the directive)."
    ),
    C("%load_ext openai_magic"),
    C(
        "import os\n"
        "\n"
        'if not (os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")):\n'
        '    %config ChatMagics.model = "demo-tools"  # the demo model that calls tools'
    ),
    M("## A function over your data"),
    C(
        "cities = {\n"
        '    "Paris": {"population": 2_102_650, "country": "France"},\n'
        '    "Lyon": {"population": 522_250, "country": "France"},\n'
        '    "Porto": {"population": 231_800, "country": "Portugal"},\n'
        "}\n"
        "\n"
        "\n"
        "def city_facts(city: str) -> dict:\n"
        '    """Population and country of a city.\n'
        "\n"
        "    Args:\n"
        "        city: The city's name, e.g. Paris.\n"
        '    """\n'
        "    return cities[city]"
    ),
    C(
        "%%chat --tools city_facts -o answer\n"
        "Which has more people, Paris or Lyon? [demo tool=city_facts city=Paris] [demo tool=city_facts city=Lyon]"
    ),
    C('print(answer[:200])'),
    M(
        "## An async function, and a list of tools\n"
        "\n"
        "Async functions run on the kernel's event loop; calls in one reply run at the same time.\n"
        "`--tools` takes names separated by commas, or a variable holding a list of functions."
    ),
    C(
        "import asyncio\n"
        "\n"
        "\n"
        "async def forecast(city: str, days: int = 1) -> str:\n"
        '    """The weather forecast for a city.\n'
        "\n"
        "    Args:\n"
        "        city: The city's name.\n"
        "        days: How many days ahead.\n"
        '    """\n'
        "    await asyncio.sleep(0.1)  # e.g. an HTTP request\n"
        '    return f"{city}: sunny for {days} days"\n'
        "\n"
        "\n"
        "travel = [city_facts, forecast]"
    ),
    C(
        "%%chat --tools travel\n"
        "Plan a weekend in Porto. [demo tool=forecast city=Porto days=2] [demo tool=city_facts city=Porto]"
    ),
    M(
        "## When a function fails\n"
        "\n"
        "The error (its type and message, no traceback) goes back to the model as the call's result,\n"
        "the block shows it in red, and the conversation goes on."
    ),
    C(
        "def exchange_rate(currency: str) -> float:\n"
        '    """The exchange rate of a currency against the euro."""\n'
        '    raise ConnectionError("the rates service is down")'
    ),
    C("%%chat --tools exchange_rate\nHow many dollars is 100 euros? [demo tool=exchange_rate currency=USD]"),
    M(
        "## Asking before each call\n"
        "\n"
        "`--confirm` asks before every call: type `y` to allow, `n` to deny (the model is told it was\n"
        "denied) or `a` to allow every call of this cell. In JupyterLab the question is a text field in\n"
        "the cell's output. (Where nothing can answer, e.g. a headless run of this notebook, calls are\n"
        "denied.) `ChatPanel(tools=[...], confirm=True)` asks with buttons instead."
    ),
    C("%%chat --tools city_facts --confirm\nHow many people live in Porto? [demo tool=city_facts city=Porto]"),
    M("The calls are part of the conversation, so a follow-up can build on them:"),
    C("%chat_history"),
    M("What the model is told about a function: its JSON schema, from the signature and docstring."),
    C("from openai_magic import tools\n\ntools.schema(forecast)"),
]
