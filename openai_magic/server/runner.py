"""Run the demo app with uvicorn: in a background thread (`DemoServer`) or in the foreground (`serve`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from .app import create_app


def _config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=None,  # leave the host process's logging configuration alone
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )


class DemoServer:
    """The demo backend on a loopback port, served by uvicorn in a daemon thread."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None, pace: float | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.pace = pace
        self._app: Starlette | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:  # never shows the API key
        state = "running" if self.running else "stopped"
        return f"<DemoServer {self.url} {state}>"

    @property
    def url(self) -> str:
        """Root URL, e.g. `http://127.0.0.1:8765`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. `http://127.0.0.1:8765/v1`."""
        return f"{self.url}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 20.0) -> DemoServer:
        """Bind the port, start serving in a thread, return once the server accepts requests."""
        if self.running:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose proto
        # says TCP, and accepted sockets inherit it. Without it every response after the first on
        # a kept-alive connection waited ~40 ms (Nagle's algorithm meeting delayed ACKs).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise RuntimeError(f"DemoServer could not bind {self.host}:{self.port}: {exc}") from None
        self.port = sock.getsockname()[1]
        self._app = create_app(api_key=self.api_key, pace=self.pace)
        self._server = uvicorn.Server(_config(self._app, self.host, self.port))
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name=f"DemoServer:{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"DemoServer failed to start on {self.url}: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"DemoServer did not start on {self.url} within {timeout} s")
            time.sleep(0.01)
        return self

    def _run(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            asyncio.run(self._server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by start()
            self._error = exc
        finally:
            sock.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread (forcing it if it lingers)."""
        if self._server is None or self._app is None or self._thread is None:
            return
        self._app.state.stopping.set()
        self._server.should_exit = True
        self._thread.join(timeout / 2)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout / 2)
        self._thread = None

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by `openai-magic serve` and `python -m openai_magic.server`."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=_port, default=8765, help="port, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key", default=None, help="require `Authorization: Bearer KEY` on every request"
    )
    parser.add_argument(
        "--pace", type=_pace, default=None, help="seconds between streamed chunks (default: 0.02)"
    )


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _pace(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"pace must be between 0 and 60 seconds, got {text}")
    return value


def serve(
    host: str = "127.0.0.1", port: int = 8765, api_key: str | None = None, pace: float | None = None
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM, printing the base URL (never the key)."""
    server = DemoServer(host, port, api_key, pace)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    with server:
        auth = " (API key required)" if api_key else ""
        print(f"openai-magic demo server: {server.base_url}{auth}", flush=True)
        print(f"  export OPENAI_MAGIC_DEMO_URL={server.base_url}   # Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while server.running:
                time.sleep(0.5)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
