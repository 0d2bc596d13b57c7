"""Connect-error retries counted on real sockets; proxies (proxy=, HTTP(S)_PROXY, NO_PROXY) and CA files."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from core_support import HostileServer, Request, collect, demo_provider, on_fresh_loop, text_of

from openai_magic.core import errors, providers, transport

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def slam(request: Request) -> bytes:
    """No answer at all: the server read the whole request and hangs up (counted in `requests`).

    Reading the whole request first keeps the failure deterministic (the client always sees the
    server disconnect, never a write racing the close).
    """
    return b""


class CountingProxy:
    """A tiny HTTP forward proxy on loopback: forwards plain-HTTP requests, refuses CONNECT, counts both."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.connects: list[str] = []
        self.server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> CountingProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self._writers:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        upstream: asyncio.StreamWriter | None = None
        pipe: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ")
                if method == "CONNECT":
                    self.connects.append(target)
                    writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    await writer.drain()
                    return
                self.requests.append(f"{method} {target}")
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in lines
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                url = urlsplit(target)
                if upstream is None:
                    upstream_reader, upstream = await asyncio.open_connection(url.hostname, url.port)
                    pipe = asyncio.create_task(self._pipe(upstream_reader, writer))
                path = url.path + (f"?{url.query}" if url.query else "")
                rest = "\r\n".join(lines[1:]).encode("latin-1")
                upstream.write(f"{method} {path} {version}\r\n".encode("latin-1") + rest + body)
                await upstream.drain()
        finally:
            if upstream is not None:
                upstream.close()
            if pipe is not None:
                pipe.cancel()
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


# --- retries of connection failures ---------------------------------------------------------------


@pytest.mark.parametrize("max_retries", [0, 1, 2])
async def test_dropped_connections_are_retried_a_bounded_number_of_times(max_retries):
    async with HostileServer(slam) as listener:
        P = providers.custom(listener.base_url, retry_base_delay=0.01, max_retries=max_retries)
        with pytest.raises(errors.APIConnectionError):
            await collect(P.create_async_generator("demo-chat", "hi"))
        assert len(listener.requests) == 1 + max_retries


async def test_max_retries_keyword_bounds_connection_retries():
    async with HostileServer(slam) as listener:
        P = providers.custom(listener.base_url, retry_base_delay=0.01, max_retries=0)
        with pytest.raises(errors.APIConnectionError):
            await collect(P.create_async_generator("demo-chat", "hi", stream=True, max_retries=3))
        assert len(listener.requests) == 4


async def test_refused_connections_are_retried(caplog):
    # A bound socket that never listens: every connect is refused by the kernel (no race on the port).
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        P = providers.custom(f"http://127.0.0.1:{port}/v1", retry_base_delay=0.01, max_retries=2)
        with (
            caplog.at_level(logging.INFO, logger="openai_magic"),
            pytest.raises(errors.APIConnectionError, match="ConnectError"),
        ):
            await collect(P.create_async_generator("demo-chat", "hi"))
    retries = [r.getMessage() for r in caplog.records if r.name == "openai_magic"]
    assert len(retries) == 2
    assert all(message.endswith("after ConnectError") for message in retries)


# --- proxies --------------------------------------------------------------------------------------


async def test_proxy_keyword_routes_requests_through_the_proxy(demo_server, no_proxy_env):
    P = demo_provider(demo_server.base_url)
    async with CountingProxy() as proxy:
        items = await collect(P.create_async_generator("demo-chat", "[demo echo] via", proxy=proxy.url))
        streamed = await collect(
            P.create_async_generator("demo-chat", "[demo echo] again", proxy=proxy.url, stream=True)
        )
    assert text_of(items) == "[demo echo] via"
    assert text_of(streamed) == "[demo echo] again"
    assert proxy.requests == [f"POST {demo_server.base_url}/chat/completions"] * 2


def test_http_proxy_environment_variable_is_honoured(demo_server, no_proxy_env):
    P = demo_provider(demo_server.base_url)

    async def scenario() -> tuple[str, list[str]]:
        async with CountingProxy() as proxy:
            no_proxy_env.setenv("HTTP_PROXY", proxy.url)
            text = text_of(await collect(P.create_async_generator("demo-chat", "[demo echo] env")))
            models = await P.get_models_async(refresh=True)
        assert "demo-chat" in models
        return text, proxy.requests

    text, requests = on_fresh_loop(scenario)
    assert text == "[demo echo] env"
    assert requests == [
        f"POST {demo_server.base_url}/chat/completions",
        f"GET {demo_server.base_url}/models",
    ]


def test_no_proxy_environment_variable_bypasses_the_proxy(demo_server, no_proxy_env):
    P = demo_provider(demo_server.base_url)

    async def scenario() -> tuple[str, list[str]]:
        async with CountingProxy() as proxy:
            no_proxy_env.setenv("HTTP_PROXY", proxy.url)
            no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
            text = text_of(await collect(P.create_async_generator("demo-chat", "[demo echo] direct")))
        return text, proxy.requests

    assert on_fresh_loop(scenario) == ("[demo echo] direct", [])


def test_https_proxy_environment_variable_tunnels_https(no_proxy_env):
    # The proxy refuses the tunnel; what matters is that the HTTPS request asked it for one.
    P = providers.custom("https://127.0.0.1:9/v1", retry_base_delay=0.01, default_model="demo-chat")

    async def scenario() -> tuple[list[str], errors.ProviderError]:
        async with CountingProxy() as proxy:
            no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
            with pytest.raises(errors.APIConnectionError) as info:
                await collect(P.create_async_generator("demo-chat", "hi"))
        return proxy.connects, info.value

    connects, error = on_fresh_loop(scenario)
    assert connects == ["127.0.0.1:9"]  # a refused tunnel is not retried
    assert "ProxyError" in str(error)


# --- TLS trust ------------------------------------------------------------------------------------


def _one_ca_file(tmp_path: Path) -> Path:
    import certifi

    bundle = Path(certifi.where()).read_text()
    end = "-----END CERTIFICATE-----"
    first = bundle[bundle.index("-----BEGIN CERTIFICATE-----") : bundle.index(end) + len(end)]
    path = tmp_path / "one-ca.pem"
    path.write_text(first + "\n")
    return path


def _ca_count(client: Any) -> int:
    return client._transport._pool._ssl_context.cert_store_stats()["x509_ca"]


def test_ssl_cert_file_environment_variable_is_honoured(tmp_path, monkeypatch):
    ca_file = _one_ca_file(tmp_path)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    async def counts() -> int:
        return _ca_count(transport.get_client("https://tls.invalid/v1"))

    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    assert on_fresh_loop(counts) == 1
    monkeypatch.delenv("SSL_CERT_FILE")
    assert on_fresh_loop(counts) > 1  # certifi's bundle


def test_ssl_attribute_accepts_a_ca_bundle_or_false(tmp_path, monkeypatch):
    import ssl

    ca_file = _one_ca_file(tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)

    async def contexts() -> tuple[int, int]:
        bundle = transport.get_client("https://tls.invalid/v1", ssl=str(ca_file))
        unverified = transport.get_client("https://tls.invalid/v1", ssl=False)
        return _ca_count(bundle), unverified._transport._pool._ssl_context.verify_mode

    assert on_fresh_loop(contexts) == (1, ssl.CERT_NONE)
