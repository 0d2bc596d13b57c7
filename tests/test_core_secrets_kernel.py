"""`%xmode Verbose` in a real kernel prints every frame's variables: none of them may be the key.

The key comes from OPENAI_API_KEY, as in a user's notebook; a loopback server quotes it back in every
kind of failure, and each public entry point is called from a cell.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SENTINEL_KEY
from magics_kernel import Kernel
from secrets_support import echo_server_thread

pytestmark = pytest.mark.kernel

MODES = ["401", "404", "422", "429", "500", "text-200", "bad-json", "stream-error", "malformed", "stall"]
OPTIONS = "stream={stream}, max_retries=0, timeout=(5, 0.5)"
CALLS = {
    "chat": f"OpenaiTemplate.chat('hi', 'm', {OPTIONS})",
    "chat_async": f"await OpenaiTemplate.chat_async('hi', 'm', {OPTIONS})",
    "create_completion": f"list(OpenaiTemplate.create_completion('m', 'hi', {OPTIONS}))",
    "api_key=Secret": f"OpenaiTemplate.chat('hi', 'm', api_key=typed, {OPTIONS})",
}


@pytest.fixture(scope="module")
def echo():
    with echo_server_thread() as server:
        yield server


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = Kernel(Path(tmp_path_factory.mktemp("verbose")), OPENAI_API_KEY=SENTINEL_KEY)
    setup = kernel.run(
        "%xmode Verbose\n"
        "import os\n"
        "from openai_magic.core.template import OpenaiTemplate\n"
        "from openai_magic.core.secret import Secret\n"
        "typed = Secret(os.environ.pop('OPENAI_API_KEY'))\n"  # as a panel's key field would hold it
        "os.environ['OPENAI_API_KEY'] = typed.reveal()\n"
    )
    assert setup.reply["content"]["status"] == "ok", setup.everything
    yield kernel
    kernel.close()


@pytest.mark.parametrize("mode", MODES)
def test_verbose_tracebacks_in_a_kernel_never_show_the_key(kernel, echo, mode):
    stream = mode in ("stream-error", "malformed")
    for name, template in CALLS.items():
        code = f"os.environ['OPENAI_BASE_URL'] = {echo.base(mode)!r}\n" + template.format(stream=stream)
        cell = kernel.run(code)
        assert cell.reply["content"]["status"] == "error", (name, cell.everything)
        [error] = cell.of("error")
        shown = "\n".join(error["content"]["traceback"])
        assert SENTINEL_KEY not in cell.everything, (name, shown[shown.find(SENTINEL_KEY) - 400 :][:600])
        assert SENTINEL_KEY[:12] not in cell.everything, name
        # The traceback really is verbose (frame variables are printed), so the check can fail.
        assert "Secret('***')" in shown, (name, shown[-3000:])


def test_model_listing_and_missing_key_in_a_kernel(kernel, echo):
    for code in (
        f"OpenaiTemplate.get_models(api_base={echo.base('401')!r})",
        "os.environ.pop('OPENAI_API_KEY'); OpenaiTemplate.chat('hi', api_base='https://api.openai.com/v1')",
    ):
        cell = kernel.run(code)
        assert cell.reply["content"]["status"] == "error", cell.everything
        assert SENTINEL_KEY not in cell.everything, code
