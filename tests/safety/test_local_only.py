"""local_only: which hosts count as local, what check_url refuses, and the guarded HTTP client.

No test touches the network: every name is resolved by an injected resolver, `socket.getaddrinfo` fails the test
for anything but a loopback literal, and `socket.socket.connect` refuses (and records) any non-loopback address.
The only servers are on 127.0.0.1.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import openai
import pytest

from agent.errors import UserError
from agent.safety.local_only import (
    NotLocal,
    check_url,
    default_resolver,
    is_local_address,
    local_only_event_hooks,
    make_guarded_http_client,
    validate_allow_hosts,
)
from tests.fakes.scripted_server import ScriptedServer

PUBLIC_NAME = "public.example.test"  # .test never resolves publicly; the fake resolver maps it to a public IP
PUBLIC_IP = "93.184.216.34"
LOOPBACK = {"127.0.0.1", "::1"}


class FakeResolver:
    """Maps names to addresses and records every lookup; an unknown name fails like getaddrinfo does."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


def must_not_resolve(host: str, port: int) -> list[str]:
    raise AssertionError(f"resolver called for {host}:{port}")


@pytest.fixture(autouse=True)
def no_outside_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fail on any real DNS query and refuse any connection that is not to loopback; returns connect attempts."""
    attempts: list[object] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in LOOPBACK:
            raise AssertionError(f"real DNS lookup attempted for {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):  # type: ignore[no-untyped-def]
        attempts.append(address)
        if not (isinstance(address, tuple) and address[0] in LOOPBACK):
            raise AssertionError(f"connection attempted to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


# ---------------------------------------------------------------------------------------------------
# is_local_address


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1", "127.8.9.10", "::1", "0.0.0.0", "::",
        "10.0.0.5", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.1.10",
        "169.254.169.254", "fe80::1", "fe80::1%eth0", "fd00::1", "fc00::abcd",
        "::ffff:127.0.0.1", "::ffff:192.168.0.1",
    ],
)
def test_loopback_link_local_private_and_ula_addresses_are_local(ip: str) -> None:
    assert is_local_address(ip)


@pytest.mark.parametrize(
    "ip",
    [
        "8.8.8.8", "1.1.1.1", "2001:4860::8888", "172.32.0.1", "172.15.255.255", "192.0.2.1", "198.51.100.7",
        "100.64.0.1",  # carrier-grade NAT is the ISP's network, not the user's: allow it explicitly if wanted
        "::ffff:8.8.8.8", "64:ff9b::808:808", "224.0.0.1", "fec0::1", "not-an-ip", "",
    ],
)
def test_public_documentation_cgnat_and_malformed_addresses_are_not_local(ip: str) -> None:
    assert not is_local_address(ip)


# ---------------------------------------------------------------------------------------------------
# check_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://localhost:11434/v1",
        "http://LOCALHOST/v1",
        "http://[::1]:1234/v1",
        "http://10.0.0.5:8000/v1",
        "https://192.168.1.20/v1",
        "http://172.20.3.4:8080/v1",
        "http://[fd12:3456::1]:8000/v1",
    ],
)
def test_loopback_localhost_and_private_literals_are_accepted_without_dns(url: str) -> None:
    check_url(url, resolve=must_not_resolve)


def test_public_host_is_refused_naming_host_addresses_and_fix() -> None:
    resolve = FakeResolver({"api.example.test": [PUBLIC_IP]})

    with pytest.raises(NotLocal) as caught:
        check_url("https://api.example.test/v1", resolve=resolve, config_file="/home/me/.codex/config.toml")

    message = str(caught.value)
    assert "api.example.test" in message and PUBLIC_IP in message
    assert "local_only_allow_hosts in /home/me/.codex/config.toml" in message
    assert "local_only = false" in message
    assert caught.value.host == "api.example.test" and caught.value.addresses == (PUBLIC_IP,)
    assert isinstance(caught.value, UserError) and caught.value.exit_code == 1
    assert resolve.calls == [("api.example.test", 443)]


def test_public_ip_literal_is_refused_without_dns() -> None:
    with pytest.raises(NotLocal, match=r"8\.8\.8\.8 is not a loopback, link-local or private address"):
        check_url("http://8.8.8.8:8000/v1", resolve=must_not_resolve)


def test_name_resolving_only_to_private_addresses_is_accepted() -> None:
    resolve = FakeResolver({"gpu-box.lan": ["192.168.1.50", "fd00::50"]})

    check_url("http://gpu-box.lan:8000/v1", resolve=resolve)

    assert resolve.calls == [("gpu-box.lan", 8000)]


def test_name_resolving_to_a_mix_of_private_and_public_is_refused_naming_the_public_one() -> None:
    resolve = FakeResolver({"split.example.test": ["10.0.0.7", PUBLIC_IP]})

    with pytest.raises(NotLocal) as caught:
        check_url("http://split.example.test/v1", resolve=resolve)

    assert f"resolves to 10.0.0.7, {PUBLIC_IP}, and {PUBLIC_IP} is not" in str(caught.value)


@pytest.mark.parametrize("table", [{}, {"gone.example.test": []}])
def test_unresolvable_host_is_a_clear_error(table: dict[str, list[str]]) -> None:
    with pytest.raises(NotLocal, match=r"gone\.example\.test (could not be resolved|resolved to no addresses)"):
        check_url("http://gone.example.test/v1", resolve=FakeResolver(table))


def test_url_without_host_is_refused() -> None:
    with pytest.raises(NotLocal, match="names no host"):
        check_url("/v1/chat/completions", resolve=must_not_resolve)


def test_allowed_host_name_is_accepted_case_insensitively_without_dns() -> None:
    check_url("https://GPU-Box.Example.Test/v1", allow_hosts=["gpu-box.example.test."], resolve=must_not_resolve)


def test_wildcard_entry_allows_subdomains_at_any_depth_but_not_the_bare_domain() -> None:
    resolve = FakeResolver({"corp.internal": [PUBLIC_IP], "evilcorp.internal": [PUBLIC_IP]})
    allow = ["*.corp.internal"]

    check_url("http://llm.corp.internal/v1", allow, resolve=must_not_resolve)
    check_url("http://a.eu.corp.internal/v1", allow, resolve=must_not_resolve)
    for refused in ("corp.internal", "evilcorp.internal"):
        with pytest.raises(NotLocal):
            check_url(f"http://{refused}/v1", allow, resolve=resolve)


def test_cidr_entry_allows_hosts_whose_addresses_are_all_local_or_inside_it() -> None:
    resolve = FakeResolver({
        "vpn-box.example.test": ["203.0.113.7", "10.1.2.3"],
        "other.example.test": ["203.0.113.7", "198.51.100.1"],
        "tailnet-box": ["100.101.102.103"],
    })
    allow = ["203.0.113.0/24", "100.64.0.0/10"]

    check_url("http://vpn-box.example.test/v1", allow, resolve=resolve)
    check_url("http://tailnet-box:11434/v1", allow, resolve=resolve)
    check_url("http://203.0.113.9/v1", allow, resolve=must_not_resolve)
    with pytest.raises(NotLocal, match=r"198\.51\.100\.1 is not"):
        check_url("http://other.example.test/v1", allow, resolve=resolve)


def test_single_address_entry_allows_that_address() -> None:
    check_url("http://198.51.100.1:8000/v1", ["198.51.100.1"], resolve=must_not_resolve)
    check_url("http://[2001:db8::1]/v1", ["2001:db8::1"], resolve=must_not_resolve)
    with pytest.raises(NotLocal):
        check_url("http://198.51.100.2/v1", ["198.51.100.1"], resolve=must_not_resolve)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "*", "*.", "a*.example.com", "host:8000", "", "two words"])
def test_malformed_allow_entries_are_rejected(entry: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        validate_allow_hosts([entry])
    with pytest.raises(UserError, match="local_only_allow_hosts"):
        check_url("http://127.0.0.1/v1", [entry], resolve=must_not_resolve)


def test_default_resolver_returns_ip_literals_without_a_lookup() -> None:
    assert default_resolver("8.8.8.8", 80) == ["8.8.8.8"]  # the autouse fixture fails any real lookup
    assert default_resolver("::1", 80) == ["::1"]


# ---------------------------------------------------------------------------------------------------
# The guarded HTTP client


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/to-public":
            self._send(302, b"", {"Location": f"http://{PUBLIC_NAME}/x"})
        elif self.path == "/to-local":
            self._send(302, b"", {"Location": "/ok"})
        else:
            self._send(200, b"ok", {"Content-Type": "text/plain"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture
def redirect_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _public_resolver() -> FakeResolver:
    return FakeResolver({PUBLIC_NAME: [PUBLIC_IP]})


def test_guarded_client_passes_requests_to_loopback(redirect_server: str) -> None:
    with make_guarded_http_client(resolve=must_not_resolve, follow_redirects=True) as client:
        assert client.get(f"{redirect_server}/ok").text == "ok"
        followed = client.get(f"{redirect_server}/to-local")
    assert followed.text == "ok" and followed.history[0].status_code == 302


@pytest.mark.parametrize("follow_redirects", [True, False])
def test_guarded_client_refuses_a_redirect_to_a_public_host_before_connecting(
    redirect_server: str, follow_redirects: bool, no_outside_network: list[object]
) -> None:
    resolve = _public_resolver()
    client = make_guarded_http_client(resolve=resolve, follow_redirects=follow_redirects)
    with client, pytest.raises(NotLocal) as caught:
        client.get(f"{redirect_server}/to-public")

    assert f"127.0.0.1 redirected to {PUBLIC_NAME} resolves to {PUBLIC_IP}" in str(caught.value)
    assert resolve.calls == [(PUBLIC_NAME, 80)]
    assert all(address[0] == "127.0.0.1" for address in no_outside_network)  # type: ignore[index]


def test_request_hook_checks_every_request_even_without_the_response_hook(
    redirect_server: str, no_outside_network: list[object]
) -> None:
    resolve = _public_resolver()
    hooks = local_only_event_hooks(resolve=resolve)
    with httpx2.Client(event_hooks={"request": hooks["request"]}, follow_redirects=True, trust_env=False) as client:
        with pytest.raises(NotLocal, match=PUBLIC_NAME):
            client.get(f"{redirect_server}/to-public")  # refused when the followed request is about to be sent
        with pytest.raises(NotLocal, match=PUBLIC_NAME):
            client.get(f"http://{PUBLIC_NAME}/direct")

    assert resolve.calls == [(PUBLIC_NAME, 80), (PUBLIC_NAME, 80)]
    assert all(address[0] == "127.0.0.1" for address in no_outside_network)  # type: ignore[index]


def test_guarded_client_ignores_proxy_environment_and_checks_an_explicit_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://{PUBLIC_NAME}:3128")
    with make_guarded_http_client(resolve=must_not_resolve) as client:
        assert client.trust_env is False

    with pytest.raises(NotLocal, match=PUBLIC_NAME):
        make_guarded_http_client(resolve=_public_resolver(), proxy=f"http://{PUBLIC_NAME}:3128")


def test_callers_event_hooks_run_after_the_guard(redirect_server: str) -> None:
    seen: list[str] = []
    with make_guarded_http_client(
        resolve=_public_resolver(), event_hooks={"request": [lambda request: seen.append(str(request.url))]}
    ) as client:
        client.get(f"{redirect_server}/ok")
        with pytest.raises(NotLocal):
            client.get(f"http://{PUBLIC_NAME}/x")

    assert seen == [f"{redirect_server}/ok"]


# ---------------------------------------------------------------------------------------------------
# Through the real openai SDK


def test_openai_sdk_with_the_guarded_client_reaches_a_loopback_server() -> None:
    with ScriptedServer([]) as server:
        client = openai.OpenAI(
            base_url=server.base_url, api_key="x", max_retries=0,
            http_client=make_guarded_http_client(resolve=must_not_resolve),
        )
        models = client.models.list()

    assert [model.id for model in models.data] == ["scripted"]


def test_openai_sdk_with_the_guarded_client_refuses_a_public_base_url_before_connecting(
    no_outside_network: list[object],
) -> None:
    resolve = _public_resolver()
    client = openai.OpenAI(
        base_url=f"http://{PUBLIC_NAME}/v1", api_key="x", max_retries=0,
        http_client=make_guarded_http_client(resolve=resolve),
    )

    with pytest.raises(NotLocal, match=f"{PUBLIC_NAME} resolves to {PUBLIC_IP}"):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    assert resolve.calls == [(PUBLIC_NAME, 80)]
    assert no_outside_network == []
