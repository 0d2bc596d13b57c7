"""A real IPython kernel driven over jupyter_client, with every iopub message of each cell kept."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs import kernel_env
from jupyter_client import KernelManager

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Cell:
    """What one executed cell produced: the execute_reply and its iopub messages, in order."""

    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    def of(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in types]

    @property
    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.of("stream") if m["content"]["name"] == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(m["content"]["text"] for m in self.of("stream") if m["content"]["name"] == "stderr")

    @property
    def displays(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Final (data, metadata) of each display, in the order they first appeared."""
        order: list[str] = []
        final: dict[str, tuple[dict, dict]] = {}
        for n, m in enumerate(self.of("display_data", "update_display_data", "execute_result")):
            ident = m["content"].get("transient", {}).get("display_id") or f"anon-{n}"
            if ident not in final:
                order.append(ident)
            final[ident] = (m["content"]["data"], m["content"].get("metadata", {}))
        return [final[i] for i in order]

    @property
    def markdown(self) -> str:
        """The answer as shown: the final text/markdown of every display, joined."""
        return "".join(d.get("text/markdown", "") for d, _ in self.displays)

    @property
    def meta(self) -> dict[str, Any]:
        """The openai_magic output metadata (on the footer)."""
        found = [md["openai_magic"] for _, md in self.displays if "openai_magic" in md]
        return found[-1] if found else {}

    @property
    def updates(self) -> int:
        return len(self.of("display_data", "update_display_data"))

    @property
    def iopub_bytes(self) -> int:
        return sum(
            len(json.dumps(m["content"])) + len(json.dumps(m.get("metadata", {})))
            for m in self.of("display_data", "update_display_data", "stream")
        )

    @property
    def payload(self) -> list[dict[str, Any]]:
        return self.reply["content"].get("payload", [])

    @property
    def everything(self) -> str:
        return json.dumps([self.reply, self.messages], default=str)


class Kernel:
    """One python3 kernel with a clean environment (no keys) plus `env`."""

    def __init__(self, cwd: Path, **env: str) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=kernel_env(**env), cwd=str(cwd))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def run(self, code: str, *, timeout: float = 120, stdin: Any = None, on_message: Any = None) -> Cell:
        """Execute `code`; `stdin(prompt) -> str` answers input requests; `on_message(msg)` sees iopub."""
        msg_id = self.kc.execute(code, allow_stdin=stdin is not None)
        cell = Cell(reply={})
        while True:
            if stdin is not None:
                try:
                    request = self.kc.get_stdin_msg(timeout=0.01)
                except Exception:
                    request = None
                if request is not None:
                    self.kc.input(stdin(request["content"]["prompt"]))
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05 if stdin is not None else timeout)
            except Exception:
                if stdin is not None:
                    continue
                raise
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status":
                if msg["content"]["execution_state"] == "idle":
                    break
                continue
            cell.messages.append(msg)
            if on_message is not None:
                on_message(msg)
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                cell.reply = reply
                return cell

    def value(self, expression: str) -> Any:
        """Evaluate a JSON-able expression in the kernel."""
        cell = self.run(f"import json as _j; print(_j.dumps({expression}))")
        assert cell.reply["content"]["status"] == "ok", cell.everything
        return json.loads(cell.stdout)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def usage_error(cell: Cell) -> str:
    """The cell failed with IPython's UsageError: short, no traceback (so Run All stops there); its text."""
    content = cell.reply["content"]
    assert content["status"] == "error" and content["ename"] == "UsageError", cell.everything
    assert not cell.of("error") and "Traceback" not in cell.everything, cell.everything
    assert cell.stderr.startswith("UsageError: "), cell.everything
    return str(content["evalue"])
