"""Where defaults come from: the demo backend (one notice, once), or OPENAI_BASE_URL from the environment."""

from __future__ import annotations

import pytest
from magics_kernel import Kernel

pytestmark = pytest.mark.kernel


def test_demo_backend_notice_once(tmp_path, demo_server) -> None:
    kernel = Kernel(tmp_path, OPENAI_MAGIC_DEMO_URL=demo_server.base_url)
    try:
        kernel.run("%load_ext openai_magic")
        first = kernel.run("%chat hello")
        lines = [line for line in first.stdout.splitlines() if "demo backend" in line]
        assert len(lines) == 1 and "%config ChatMagics.provider" in lines[0]
        assert first.meta["provider"] == "Demo"
        second = kernel.run("%chat hello again")
        assert "demo backend" not in second.stdout and second.markdown
        reload = kernel.run("%reload_ext openai_magic\n%chat still works")
        assert reload.reply["content"]["status"] == "ok" and reload.markdown
    finally:
        kernel.close()


def test_environment_base_url_selects_an_openai_compatible_provider(tmp_path, demo_server) -> None:
    kernel = Kernel(tmp_path, OPENAI_BASE_URL=demo_server.base_url)
    try:
        kernel.run("%load_ext openai_magic\n%config ChatMagics.model = 'demo-chat'")
        cell = kernel.run("%chat hello from the environment")
        assert "demo backend" not in cell.stdout and not cell.stderr
        assert cell.meta["provider"] == "OpenAI-compatible" and "hello from the environment" in cell.markdown
    finally:
        kernel.close()
