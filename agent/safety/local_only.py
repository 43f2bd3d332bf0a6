"""`local_only = true`: refuse to talk to a model provider that is not on this machine or the user's own network.

Before any request, the host of the provider's base_url must resolve only to *local* addresses, or be listed in
`local_only_allow_hosts`; otherwise the run stops with `NotLocal`, whose message names the host, its addresses
and the fix. The same check runs on every request the HTTP client sends (so a redirect the client follows, and
any other URL the SDK builds, is checked), and a redirect response whose Location names a non-local host is
refused even when the client would not follow it.

Local addresses (`is_local_address`):

* loopback 127.0.0.0/8 and ::1, and the unspecified 0.0.0.0 and :: (connecting to them reaches this machine);
* link-local 169.254.0.0/16 and fe80::/10;
* private RFC 1918 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, and unique-local (ULA) fc00::/7;
* an IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as the IPv4 address it carries.

Carrier-grade NAT space 100.64.0.0/10 is deliberately *not* local: on most networks it is the ISP's, not the
user's. Tailscale users add "100.64.0.0/10" (or their machine's name) to `local_only_allow_hosts`. Documentation
ranges (192.0.2.0/24 ...), multicast and every public address are not local either.

`local_only_allow_hosts` entries (`validate_allow_hosts` says which are well formed):

* a host name, matched exactly and case-insensitively (a trailing dot is ignored): "gpu-box.example.com".
  A listed name is accepted whatever it resolves to, without a DNS query;
* "*.corp.internal": any name ending in ".corp.internal", at any depth ("a.b.corp.internal"), but not the bare
  "corp.internal" (list that separately);
* a CIDR block "10.8.0.0/16" or a single address "203.0.113.7" / "2001:db8::1": the host is accepted when each
  of its addresses is local or inside a listed block.

Ports are not considered. Names are resolved with the injected `Resolver`; the default one uses
`socket.getaddrinfo`, i.e. the user's own resolver, which sends a DNS query for a name that is not in
/etc/hosts. IP literals and "localhost" are decided without any lookup.

What this module does not do: read config (the caller passes `allow_hosts` and the config file path), guard
the in-process llama.cpp engine (it makes no requests), or pin the address it checked. A name is resolved
here and again when the connection is made, so a DNS server that answers differently the second time (DNS
rebinding) is not stopped; list providers by IP address when that matters. The guarded client ignores proxy
environment variables (a proxy would be a hop this check cannot see); an explicit `proxy=` is itself checked.
Only synchronous clients are guarded, the only kind the agent uses.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agent.errors import UserError

if TYPE_CHECKING:
    import httpx2

Resolver = Callable[[str, int], list[str]]  # (host, port) -> IP address strings; raises OSError if it cannot

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOCAL_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(block)
    for block in (
        "127.0.0.0/8",  # loopback
        "0.0.0.0/32",  # unspecified: a connection to it reaches this machine
        "10.0.0.0/8",  # RFC 1918
        "172.16.0.0/12",  # RFC 1918
        "192.168.0.0/16",  # RFC 1918
        "169.254.0.0/16",  # link-local
        "::1/128",  # loopback
        "::/128",  # unspecified
        "fe80::/10",  # link-local
        "fc00::/7",  # unique local (ULA)
    )
)

LOCALHOST_NAMES = frozenset({"localhost", "localhost."})
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_FIX = "add it to local_only_allow_hosts in {config} if it is yours, or set local_only = false"


class NotLocal(UserError):
    """local_only is on and a request would leave this machine and the user's private network."""

    exit_code = 1

    def __init__(self, message: str, *, host: str = "", addresses: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.host = host
        self.addresses = tuple(addresses)


# ---------------------------------------------------------------------------------------------------
# Addresses


def is_local_address(ip: str) -> bool:
    """True for loopback, unspecified, link-local, RFC 1918 and ULA addresses (see the module docstring).

    An IPv4-mapped IPv6 address is judged by the IPv4 address it carries. Anything that is not an IP address
    is not local (the check fails closed).
    """
    address = _parse_address(ip)
    return address is not None and any(address in network for network in LOCAL_NETWORKS)


def _parse_address(text: str) -> IPAddress | None:
    text = text.strip().removeprefix("[").removesuffix("]").replace("%25", "%")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def default_resolver(host: str, port: int) -> list[str]:
    """The addresses `socket.getaddrinfo` gives for host: the user's own resolver, so a DNS query for a name.

    An IP literal is returned as is, without a lookup. Raises OSError (socket.gaierror) when the name does
    not resolve.
    """
    if _parse_address(host) is not None:
        return [host]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# ---------------------------------------------------------------------------------------------------
# Allow list


@dataclass(frozen=True)
class _AllowList:
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".corp.internal" for "*.corp.internal"
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> _AllowList:
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if "/" in entry:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ValueError(f"'{raw}' is not a CIDR block like 10.8.0.0/16") from None
            elif (address := _parse_address(entry)) is not None:
                networks.append(ipaddress.ip_network(address))
            elif entry.startswith("*.") and len(entry) > 2 and "*" not in entry[2:]:
                suffixes.append(entry[1:])
            elif entry and "*" not in entry and not any(c.isspace() or c in ":@[]" for c in entry):
                names.add(entry)
            else:
                raise ValueError(
                    f"'{raw}' is not a host name, a '*.domain' pattern, an IP address or a CIDR block"
                )
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def allows_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or any(host.endswith(suffix) for suffix in self.suffixes)

    def allows_address(self, ip: str) -> bool:
        address = _parse_address(ip)
        return address is not None and any(address in network for network in self.networks)


def validate_allow_hosts(entries: Iterable[str]) -> None:
    """Raise ValueError naming the first malformed `local_only_allow_hosts` entry (for config validation)."""
    _AllowList.parse(entries)


def _allow_list(allow_hosts: Sequence[str]) -> _AllowList:
    if isinstance(allow_hosts, str):  # a lone string would otherwise be read as its characters
        allow_hosts = [allow_hosts]
    try:
        return _AllowList.parse(allow_hosts)
    except ValueError as e:
        raise UserError(f"local_only_allow_hosts: {e}.") from None


# ---------------------------------------------------------------------------------------------------
# Checks


def check_url(
    url: str,
    allow_hosts: Sequence[str] = (),
    resolve: Resolver = default_resolver,
    *,
    config_file: str | Path | None = None,
) -> None:
    """Raise NotLocal unless url's host is local (every address it resolves to) or allowed.

    IP literals and "localhost" are decided without calling `resolve`; so is a host name listed in
    allow_hosts. The message names the host, its addresses and the fix.
    """
    _check_url(url, _allow_list(allow_hosts), resolve, config_file)


def _check_url(url: str, allow: _AllowList, resolve: Resolver, config_file: str | Path | None) -> None:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise NotLocal(f"local_only is on, but the URL {url!r} cannot be parsed ({e}).") from None
    if not host:
        raise NotLocal(f"local_only is on, but the URL {url!r} names no host.")
    port = port or DEFAULT_PORTS.get(parts.scheme.lower(), 80)
    _check_host(host, port, allow, resolve, config_file)


def _check_host(
    host: str,
    port: int,
    allow: _AllowList,
    resolve: Resolver,
    config_file: str | Path | None,
    *,
    context: str = "",
) -> None:
    fix = _FIX.format(config=config_file or "config.toml")
    host = host.lower()
    literal = _parse_address(host)
    if literal is None and (host in LOCALHOST_NAMES or allow.allows_name(host)):
        return
    if literal is not None:
        addresses = [host.replace("%25", "%")]
    else:
        try:
            addresses = list(dict.fromkeys(resolve(host, port)))
        except OSError as e:
            raise NotLocal(
                f"local_only is on, but {context}{host} could not be resolved ({e}), so it cannot be shown to "
                f"be local: fix the host, or {fix}.",
                host=host,
            ) from e
        if not addresses:
            raise NotLocal(
                f"local_only is on, but {context}{host} resolved to no addresses, so it cannot be shown to be "
                f"local: fix the host, or {fix}.",
                host=host,
            )
    outside = [ip for ip in addresses if not (is_local_address(ip) or allow.allows_address(ip))]
    if not outside:
        return
    what = "not a loopback, link-local or private address"
    if literal is not None:
        problem = f"{host} is {what}"
    else:
        verb = "is" if len(outside) == 1 else "are"
        problem = f"{host} resolves to {', '.join(addresses)}, and {', '.join(outside)} {verb} {what}"
    raise NotLocal(f"local_only is on, but {context}{problem}: {fix}.", host=host, addresses=addresses)


# ---------------------------------------------------------------------------------------------------
# HTTP client guard


def local_only_event_hooks(
    allow_hosts: Sequence[str] = (),
    resolve: Resolver = default_resolver,
    *,
    config_file: str | Path | None = None,
) -> dict[str, list[Callable[[Any], None]]]:
    """`event_hooks` for a synchronous httpx2 (or httpx) Client that raise NotLocal.

    The "request" hook checks every request the client sends, before it connects: the first one, each
    redirect it follows, and anything else the SDK asks for. The "response" hook refuses a redirect whose
    Location names a non-local host, whether or not the client follows redirects, so the refusal says where
    the redirect came from. NotLocal is not an httpx error, so the openai SDK neither retries nor wraps it.
    """
    return _event_hooks(_allow_list(allow_hosts), resolve, config_file)


def _event_hooks(
    allow: _AllowList, resolve: Resolver, config_file: str | Path | None
) -> dict[str, list[Callable[[Any], None]]]:

    def check_request(request: httpx2.Request) -> None:
        url = request.url
        _check_host(_url_host(url), _url_port(url), allow, resolve, config_file)

    def check_redirect(response: httpx2.Response) -> None:
        if not response.has_redirect_location:
            return
        request = response.request
        location = response.headers["Location"]
        try:
            target = _redirect_target(request.url, location)
        except Exception as e:  # an unparseable Location: refuse rather than guess where it points
            raise NotLocal(
                f"local_only is on, but {request.url} redirected to an unparseable Location {location!r} ({e})."
            ) from None
        if _url_host(target) == _url_host(request.url):
            return  # the same host was checked by the request hook
        context = f"{request.url.scheme}://{_url_host(request.url)} redirected to "
        _check_host(_url_host(target), _url_port(target), allow, resolve, config_file, context=context)

    return {"request": [check_request], "response": [check_redirect]}


def make_guarded_http_client(
    allow_hosts: Sequence[str] = (),
    resolve: Resolver = default_resolver,
    *,
    config_file: str | Path | None = None,
    **httpx_kwargs: Any,
) -> httpx2.Client:
    """An HTTP client for `openai.OpenAI(http_client=...)` that refuses non-local hosts (see the hooks).

    It is the SDK's own `openai.DefaultHttpxClient` (so the SDK's default timeout, connection limits and
    redirect following apply, and its class matches the SDK's HTTP library), with the local_only hooks run
    before any `event_hooks` passed in. `trust_env` defaults to False so HTTP(S)_PROXY/ALL_PROXY cannot route
    the traffic through a proxy elsewhere; an explicit `proxy=` must itself pass the check.
    """
    import openai

    allow = _allow_list(allow_hosts)
    proxy = httpx_kwargs.get("proxy")
    if proxy is not None:
        _check_url(str(getattr(proxy, "url", proxy)), allow, resolve, config_file)
    hooks = _event_hooks(allow, resolve, config_file)
    for event, extra in (httpx_kwargs.pop("event_hooks", None) or {}).items():
        hooks.setdefault(event, []).extend(extra)
    httpx_kwargs.setdefault("trust_env", False)
    return openai.DefaultHttpxClient(event_hooks=hooks, **httpx_kwargs)


def _url_host(url: httpx2.URL) -> str:
    return url.raw_host.decode("ascii").lower()  # what the transport connects to (IDNA-encoded)


def _url_port(url: httpx2.URL) -> int:
    return url.port or DEFAULT_PORTS.get(url.scheme, 80)


def _redirect_target(url: httpx2.URL, location: str) -> httpx2.URL:
    """Where a client following this redirect would go (the same steps as httpx2's Client._redirect_url)."""
    target = type(url)(location)
    if target.scheme and not target.host:
        target = target.copy_with(host=url.host)
    if target.is_relative_url:
        target = url.join(target)
    return target
