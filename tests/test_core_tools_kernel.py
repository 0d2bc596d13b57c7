"""Tools in a real IPython kernel: sync tools run on the kernel's main thread like the user's own code,
and the kernel's interrupt ends a tool that is running."""

from __future__ import annotations

import pytest
from magics_kernel import Kernel

pytestmark = [pytest.mark.kernel, pytest.mark.timing]


SETUP = '''
import threading, time
from openai_magic.core import providers

P = providers.custom(DEMO_URL, default_model="demo-tools")


def where() -> str:
    """Which thread runs the tool."""
    here = threading.current_thread()
    return "main thread" if here is threading.main_thread() else f"thread {here.name}"


def nap(seconds: int) -> str:
    """Sleep a while."""
    print("napping", flush=True)
    time.sleep(seconds)
    return "rested"
'''


@pytest.fixture(scope="module")
def kernel(tmp_path_factory, demo_server):
    k = Kernel(tmp_path_factory.mktemp("tools"))
    ok(k.run(f"DEMO_URL = {demo_server.base_url!r}\n{SETUP}"))
    yield k
    k.close()


def ok(cell):
    assert cell.reply["content"]["status"] == "ok", cell.everything
    return cell


def test_a_sync_tool_runs_on_the_kernel_main_thread(kernel):
    cell = ok(kernel.run('print(P.chat("Use where, please.", tools=[where]))'))
    assert "- `where` returned: main thread" in cell.stdout


def test_on_the_kernel_loop_a_sync_tool_runs_inline_there_too(kernel):
    cell = ok(kernel.run('print(await P.chat_async("Use where, please.", tools=[where]))'))
    assert "- `where` returned: main thread" in cell.stdout


def test_an_interrupt_during_a_sync_tool_ends_it_and_the_kernel_stays_usable(kernel):
    sent: list[bool] = []

    def interrupt_once_napping(message) -> None:
        if message["msg_type"] == "stream" and "napping" in message["content"]["text"] and not sent:
            sent.append(True)
            kernel.km.interrupt_kernel()

    # The nap outlasts the cell timeout: only the interrupt lets this cell end in time.
    cell = kernel.run(
        'P.chat("[demo tool=nap seconds=600]", tools=[nap])', on_message=interrupt_once_napping, timeout=120
    )
    assert sent == [True]
    assert cell.reply["content"]["status"] == "error", cell.everything
    assert cell.reply["content"]["ename"] == "KeyboardInterrupt"
    after = ok(kernel.run('print(P.chat("Use where, please.", tools=[where]))'))
    assert "- `where` returned: main thread" in after.stdout
