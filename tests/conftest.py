"""Shared fixtures: a real embedded demo server over loopback, and an environment with no real keys."""

from __future__ import annotations

import os
import signal
import tempfile

import pytest

SENTINEL_KEY = "sk-test-SENTINEL-d0n0tl3ak-7f3a9c"

# The turn log is on by default; the suite (and the kernels it starts, which inherit the environment)
# writes to a log of its own, never to the developer's.
os.environ["OPENAI_MAGIC_LOG"] = os.path.join(tempfile.mkdtemp(prefix="openai-magic-log-"), "log.db")

# Never let a developer's real key or base URL leak into the suite; the opt-in live target
# (tests/test_live.py, OPENAI_MAGIC_TEST_*) keeps its own variables.
for _name in list(os.environ):
    if _name.startswith("OPENAI_MAGIC_TEST_"):
        continue
    if (
        _name.endswith("_API_KEY")
        or _name in {"OPENAI_BASE_URL", "OPENAI_MAGIC_DEMO_URL"}
        or _name.startswith("OPENAI_MAGIC_REPLAY")
    ):
        os.environ.pop(_name)


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_reaches_the_suite():
    """Ctrl-C tests need Python's own SIGINT handler, as a user's session has; a shell starts a
    background job (`pytest ... &`, `under-load` in a script) with SIGINT ignored instead."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def demo_server():
    """The embedded OpenAI-compatible server with no pacing and no key, for the whole session."""
    from openai_magic.server import DemoServer

    with DemoServer(pace=0) as server:
        yield server


@pytest.fixture(scope="session")
def keyed_server():
    """The embedded server requiring `Authorization: Bearer SENTINEL_KEY`."""
    from openai_magic.server import DemoServer

    with DemoServer(pace=0, api_key=SENTINEL_KEY) as server:
        yield server


@pytest.fixture
def key_store():
    """The process-wide key store (`%chat_key` and the panel), emptied after the test."""
    from openai_magic.notebook import keys

    yield keys
    keys._KEYS.clear()


@pytest.fixture(scope="session")
def base_url(demo_server) -> str:
    return demo_server.base_url


@pytest.fixture(autouse=True)
def fresh_notebook_state():
    """Every test starts with no threads, no kept keys and the one-time notices unsaid (in this process)."""
    yield
    from openai_magic.notebook import conversation, keys, plan

    with conversation._lock:
        conversation._threads.clear()
    keys._KEYS.clear()
    plan._state["demo_notice"] = False
