"""A real IPython kernel driven over jupyter_client, with every iopub message of each cell kept."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
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
    def outputs(self) -> list[dict[str, Any]]:
        """The cell's outputs as a front end ends up with them: display updates applied, and
        `clear_output(wait=True)` clearing when the next output arrives (as JupyterLab and nbclient do)."""
        outputs: list[dict[str, Any]] = []
        clear_pending = False
        for m in self.messages:
            kind, content = m["msg_type"], m["content"]
            if kind == "clear_output":
                if content.get("wait"):
                    clear_pending = True
                else:
                    outputs.clear()
                continue
            if kind == "update_display_data":
                ident = content.get("transient", {}).get("display_id")
                for out in outputs:
                    if out.get("display_id") == ident:
                        out["data"], out["metadata"] = content["data"], content.get("metadata", {})
                continue
            if kind not in ("display_data", "execute_result", "stream", "error"):
                continue
            if clear_pending:
                outputs.clear()
                clear_pending = False
            if kind == "stream":
                if outputs and outputs[-1]["kind"] == "stream" and outputs[-1]["name"] == content["name"]:
                    outputs[-1]["text"] += content["text"]
                else:
                    outputs.append({"kind": "stream", "name": content["name"], "text": content["text"]})
                continue
            outputs.append(
                {
                    "kind": kind,
                    "data": content.get("data", {}),
                    "metadata": content.get("metadata", {}),
                    "display_id": content.get("transient", {}).get("display_id"),
                }
            )
        return outputs

    def _stream(self, name: str) -> str:
        return "".join(o["text"] for o in self.outputs if o["kind"] == "stream" and o["name"] == name)

    @property
    def stdout(self) -> str:
        return self._stream("stdout")

    @property
    def stderr(self) -> str:
        return self._stream("stderr")

    @property
    def displays(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Final (data, metadata) of each rich output, in order."""
        return [(o["data"], o["metadata"]) for o in self.outputs if o["kind"] not in ("stream", "error")]

    @property
    def markdown(self) -> str:
        """The answer as shown: the final text/markdown of every rich output but the footer, joined."""
        return "".join(d.get("text/markdown", "") for d, md in self.displays if _role(md) != "footer")

    @property
    def meta(self) -> dict[str, Any]:
        """The openai_magic output metadata (on the answer; on the footer or images when there is none)."""
        found = [md["openai_magic"] for _, md in self.displays if "openai_magic" in md]
        for role in ("answer", "footer", "image"):
            for item in found:
                if item.get("role") == role:
                    return item
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


def _role(metadata: dict[str, Any]) -> str | None:
    value = metadata.get("openai_magic")
    return value.get("role") if isinstance(value, dict) else None


def usage_error(cell: Cell) -> str:
    """The cell failed with IPython's UsageError: short, no traceback (so Run All stops there); its text."""
    content = cell.reply["content"]
    assert content["status"] == "error" and content["ename"] == "UsageError", cell.everything
    assert not cell.of("error") and "Traceback" not in cell.everything, cell.everything
    assert cell.stderr.startswith("UsageError: "), cell.everything
    return str(content["evalue"])


def ok(cell: Cell) -> Cell:
    """The cell ran without an error (no traceback, no error message on iopub)."""
    assert cell.reply["content"]["status"] == "ok" and not cell.of("error"), cell.everything
    return cell


@contextlib.contextmanager
def demo_kernel(cwd: Path, base_url: str, *setup: str, **env: str) -> Iterator[Kernel]:
    """A kernel using the demo server at `base_url`, with the magics loaded and `setup` cells run."""
    kernel = Kernel(cwd, OPENAI_MAGIC_DEMO_URL=base_url, **env)
    try:
        for code in ("%load_ext openai_magic", *setup):
            ok(kernel.run(code))
        yield kernel
    finally:
        kernel.close()
