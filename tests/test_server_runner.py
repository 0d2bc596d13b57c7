"""The DemoServer object (server/runner.py): lifecycle, ports, pace, clean stop, sockets."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
from conftest import SENTINEL_KEY
from server_support import (
    chat_body,
)

from openai_magic.server import DemoServer


def test_demo_server_lifecycle_and_repr_never_shows_key() -> None:
    server = DemoServer(pace=0, api_key=SENTINEL_KEY)
    assert not server.running
    with server:
        assert server.running
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert SENTINEL_KEY not in repr(server)
        assert httpx.get(server.url + "/").json()["status"] == "ok"
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/")


def test_two_servers_get_different_ports(demo_server: DemoServer) -> None:
    with DemoServer(pace=0) as other:
        assert other.port != demo_server.port
        assert httpx.get(other.base_url + "/models").status_code == 200


def test_default_pace_is_the_demo_pace() -> None:
    from openai_magic.server import create_app

    assert create_app().state.pace == 0.02
    assert create_app(pace=0).state.pace == 0


def test_stop_ends_stalled_and_paced_streams() -> None:
    server = DemoServer(pace=None).start()
    started, errors = threading.Event(), []

    def read(headers: dict[str, str]) -> None:
        try:
            with httpx.stream(
                "POST",
                server.base_url + "/chat/completions",
                json=chat_body(stream=True),
                headers=headers,
                timeout=120,
            ) as response:
                for _ in response.iter_bytes():
                    started.set()
        except httpx.HTTPError as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read, args=(h,)) for h in ({"X-Demo-Fault": "stall;seconds=600"}, {})]
    for reader in readers:
        reader.start()
    assert started.wait(30)
    server.stop()
    for reader in readers:
        reader.join(60)
    assert not server.running
    assert not any(reader.is_alive() for reader in readers)
    assert any(isinstance(e, httpx.RemoteProtocolError) for e in errors)


def test_port_in_use_is_a_clear_error(demo_server: DemoServer) -> None:
    with pytest.raises(RuntimeError, match="could not bind"):
        DemoServer(port=demo_server.port).start()


def test_accepted_connections_set_tcp_nodelay(demo_server: DemoServer) -> None:
    # Without it, every response after the first on a kept-alive connection waited ~40 ms for a
    # delayed ACK (Nagle's algorithm), for any client, curl included.
    with httpx.Client() as client:
        for _ in range(2):
            assert client.get(f"{demo_server.base_url}/models").status_code == 200
        connections = list(demo_server._server.server_state.connections)
        sockets = [connection.transport.get_extra_info("socket") for connection in connections]
        assert sockets and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)
