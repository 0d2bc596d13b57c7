"""Cells of 06_reproducible.ipynb: the log, record and replay, restoring a thread (see build_notebooks.py)."""

from __future__ import annotations

from nbformat.v4 import new_code_cell as C
from nbformat.v4 import new_markdown_cell as M

REPLAY_FILE = "06_reproducible.replay.jsonl"

REPRODUCIBLE = [
    M(
        "# Reproducible notebooks: replay, the log, threads that survive a restart\n"
        "\n"
        "A notebook that talks to a model gives other answers each time it runs, costs money and needs\n"
        "a key. **Replay** fixes that: the answers are recorded once into a replay file next to the\n"
        f"notebook (`{REPLAY_FILE}`, JSON Lines, readable in a diff) and read back on every later run,\n"
        "at their recorded pace, with no key and no network. This notebook ships its replay file\n"
        "(recorded from the built-in demo model), so what you see below is what it was written with."
    ),
    C("%load_ext openai_magic"),
    M(
        "`auto` replays what is recorded and records the rest (a prompt you change is asked once, then\n"
        "replayed too); `replay` never touches the network; `record` asks again and replaces the\n"
        "recordings; `off` stops. `--speed 0` replays at once."
    ),
    C(f"%chat_replay auto {REPLAY_FILE}"),
    C("%%chat -c tour\nExplain what a Python context manager is, with an example."),
    M("The footer says *replayed*, and so does the output's metadata. A follow-up is replayed too:"),
    C("%%chat -c tour\nAnd how do I write one with contextlib?"),
    C("%chat_replay"),
    M(
        "## The log\n"
        "\n"
        "Every turn, replayed or not, from the magics or the panel, is also a row of a local SQLite log\n"
        "(prompt, answer, model, usage, timing, how it ended; never the key). `%chat_log` shows the\n"
        "recent ones; `-s` searches them."
    ),
    C("%chat_log -n 5"),
    C("%chat_log -s contextlib --json"),
    M(
        "## A thread after a kernel restart\n"
        "\n"
        "Threads live in kernel memory: a restart forgets them. `%chat_history --restore` brings one back\n"
        "from the log (nothing is restored unless you ask). Here the thread is dropped by hand, as a\n"
        "restart would:"
    ),
    C(
        "from openai_magic.notebook.conversation import delete_conversation\n"
        "\n"
        'delete_conversation("tour")  # what a kernel restart does to the thread'
    ),
    C("%chat_history -c tour --restore"),
    C("%%chat -c tour\nSummarize our conversation in one sentence."),
    M(
        "## In Python\n"
        "\n"
        "The same, for scripts and tests: `replay.use(...)` for a block, `replay.configure(...)` for the\n"
        "process, or the environment (`OPENAI_MAGIC_REPLAY=FILE`, `OPENAI_MAGIC_REPLAY_MODE=...`)."
    ),
    C(
        "from openai_magic import providers, replay\n"
        "\n"
        f'with replay.use("{REPLAY_FILE}", mode="auto", speed=0):\n'
        '    print(providers.get("demo").chat("One line: why replay notebook answers?")[:120])'
    ),
]
