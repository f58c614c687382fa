"""Where outbound notifications may go: endpoint URLs, and the addresses behind them.

Defends against server-side request forgery (SSRF) with two checks, their rules as data:

* :meth:`AddressPolicy.check_url` accepts only plain ``http(s)://host[:port]/path?query``
  URLs: no credentials, no fragment, no whitespace, control characters or backslashes, and
  no numeric host spelled any way but a canonical dotted quad or a bracketed IPv6 literal
  (``2130706433``, ``0177.0.0.1``, ``0x7f.1`` and ``127.1`` each mean 127.0.0.1 to some
  resolver). Unicode hosts are IDNA-encoded first, so the name checked is the name resolved
  (a host in full-width digits is caught as the numeric host it becomes).
* :meth:`AddressPolicy.check_address` judges an address after unwrapping any IPv4 address
  it embeds (:data:`EMBEDDINGS`). :data:`ALWAYS_REFUSED` lists what no policy may reach,
  :data:`REFUSED_UNLESS_INSECURE` what only an insecure (local) policy may; anything else
  not globally routable is refused like the latter.

Host *names* are judged by the addresses they resolve to, at send time
(:mod:`gateway.notify.transport`), which then connects to the checked address only.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import NoReturn, TypeAlias
from urllib.parse import SplitResult, quote, urlsplit

from gateway.errors import GatewayError

IPAddress: TypeAlias = IPv4Address | IPv6Address
Rules: TypeAlias = tuple[tuple[str, tuple[IPv4Network | IPv6Network, ...]], ...]

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}

#: Instance-metadata services: AWS/GCP/Azure/Oracle, AWS over IPv6, Alibaba, Oracle (legacy).
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)

#: Refused under every policy, first match names the reason.
ALWAYS_REFUSED: Rules = (
    ("a cloud metadata address", tuple(ip_network(a) for a in sorted(METADATA_ADDRESSES, key=str))),
    ("link-local", (ip_network("169.254.0.0/16"), ip_network("fe80::/10"))),
    ("unspecified", (ip_network("0.0.0.0/8"), ip_network("::/128"))),
    ("multicast", (ip_network("224.0.0.0/4"), ip_network("ff00::/8"))),
    ("broadcast", (ip_network("255.255.255.255/32"),)),
    ("reserved", (ip_network("240.0.0.0/4"),)),
)

#: Refused unless the policy allows insecure (local) endpoints.
REFUSED_UNLESS_INSECURE: Rules = (
    ("loopback", (ip_network("127.0.0.0/8"), ip_network("::1/128"))),
    ("private", tuple(ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))),
    ("unique-local", (ip_network("fc00::/7"), ip_network("fec0::/10"))),
    ("shared address space (CGNAT)", (ip_network("100.64.0.0/10"),)),
)

#: IPv6 unicast outside this block is not globally routable, whatever ``is_global`` says.
GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")


def _low32(value: int) -> int:
    return value & 0xFFFF_FFFF


#: IPv6 prefixes that carry an IPv4 address: (prefix, how to read it, judge the IPv6 too).
#: A mapped, compatible, SIIT or NAT64 address only spells its IPv4 address, so that alone is
#: judged; a 6to4 or Teredo address is a tunnel, whose both ends must be allowed.
EMBEDDINGS: tuple[tuple[IPv6Network, Callable[[int], int], bool], ...] = (
    (IPv6Network("::ffff:0:0/96"), _low32, False),  # IPv4-mapped
    (IPv6Network("::ffff:0:0:0/96"), _low32, False),  # IPv4-translated (SIIT)
    (IPv6Network("64:ff9b::/96"), _low32, False),  # NAT64, well-known prefix
    (IPv6Network("64:ff9b:1::/48"), _low32, False),  # NAT64, local-use prefix
    (IPv6Network("::/96"), _low32, False),  # IPv4-compatible (deprecated); not :: or ::1
    (IPv6Network("2002::/16"), lambda n: n >> 80, True),  # 6to4: bits 16-47
    (IPv6Network("2001::/32"), lambda n: ~n, True),  # Teredo: the client, bits inverted
)


class EndpointUrlError(GatewayError):
    """An endpoint URL is malformed (``endpoint_url_invalid``) or refused by the policy
    (``endpoint_url_forbidden``); the message may name the host, never the path or query."""

    status, code = 400, "endpoint_url_invalid"


class ForbiddenAddressError(GatewayError):
    """An address the policy refuses to reach.

    A :class:`GatewayError` (400, ``endpoint_address_forbidden``) rather than a plain
    exception, so registration can resolve a host and answer with this stable code as is;
    the transport turns it into the ``address_forbidden`` result.
    """

    status, code = 400, "endpoint_address_forbidden"


@dataclass(frozen=True)
class Target:
    """A checked endpoint: lower-case ASCII host (IPv6 unbracketed) and an explicit port."""

    scheme: str
    host: str
    port: int
    path_and_query: str

    @property
    def ip(self) -> IPAddress | None:
        """The host as an address when it is an IP literal, else None."""
        try:
            return ip_address(self.host)
        except ValueError:
            return None

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the host, bracketed if IPv6, with the port if not default."""
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == DEFAULT_PORTS[self.scheme] else f"{name}:{self.port}"


def refusal(address: IPAddress, *, allow_insecure: bool) -> str | None:
    """Why ``address`` may not be reached, or None when it may.

    >>> refusal(ip_address("::ffff:169.254.169.254"), allow_insecure=True)
    'a cloud metadata address (embeds 169.254.169.254)'
    >>> refusal(ip_address("10.1.2.3"), allow_insecure=True) is None
    True
    """
    rules = ALWAYS_REFUSED if allow_insecure else ALWAYS_REFUSED + REFUSED_UNLESS_INSECURE
    for subject in _judged_as(address):
        reasons = [reason for reason, networks in rules if any(subject in n for n in networks)]
        if not allow_insecure and not _globally_routable(subject):
            reasons.append("not globally routable")
        if reasons:
            return reasons[0] if subject == address else f"{reasons[0]} (embeds {subject})"
    return None


def _judged_as(address: IPAddress) -> tuple[IPAddress, ...]:
    """The address itself and any IPv4 address it embeds, per :data:`EMBEDDINGS`."""
    if isinstance(address, IPv4Address) or int(address) <= 1:  # :: and ::1 are themselves
        return (address,)
    for prefix, extract, tunnel in EMBEDDINGS:
        if address in prefix:
            embedded = IPv4Address(extract(int(address)) & 0xFFFF_FFFF)
            return (address, embedded) if tunnel else (embedded,)
    return (address,)


def _globally_routable(address: IPAddress) -> bool:
    return address.is_global and (address.version == 4 or address in GLOBAL_UNICAST_V6)


@dataclass(frozen=True)
class AddressPolicy:
    """What endpoints may be reached; ``allow_insecure`` admits http and local networks.

    >>> AddressPolicy().check_url("https://Hooks.Example.com/in?t=1")
    Target(scheme='https', host='hooks.example.com', port=443, path_and_query='/in?t=1')
    """

    allow_insecure: bool = False

    def check_url(self, url: str) -> Target:
        """The endpoint ``url`` points at, or :class:`EndpointUrlError`."""
        target = parse_url(url)
        if target.scheme == "http" and not self.allow_insecure:
            raise EndpointUrlError("endpoint URL must use https", code="endpoint_url_forbidden")
        literal = target.ip
        if literal is not None:
            reason = refusal(literal, allow_insecure=self.allow_insecure)
            if reason is not None:
                message = f"endpoint host {target.host} is {reason}"
                raise EndpointUrlError(message, code="endpoint_url_forbidden")
        return target

    def check_address(self, address: IPAddress) -> None:
        """Raise :class:`ForbiddenAddressError` unless ``address`` may be reached."""
        reason = refusal(address, allow_insecure=self.allow_insecure)
        if reason is not None:
            raise ForbiddenAddressError(f"address {address} is {reason}")


_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\\\s]")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_PATH_SAFE = string.punctuation  # quote() then escapes only what is not printable ASCII


def parse_url(url: str) -> Target:
    """The parts of a well-formed endpoint URL, or :class:`EndpointUrlError`; no policy.

    >>> parse_url("http://[::1]:8080").host_header
    '[::1]:8080'
    """
    if len(url) > MAX_URL_LENGTH:
        _invalid(f"endpoint URL is longer than {MAX_URL_LENGTH} characters")
    if _UNSAFE_CHARS.search(url):
        _invalid("endpoint URL contains whitespace, a control character or a backslash")
    if "#" in url:
        _invalid("endpoint URL must not have a fragment")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        _invalid("endpoint URL is malformed (host or port)")
    if parts.scheme not in DEFAULT_PORTS:
        _invalid("endpoint URL must use http or https")
    if "@" in parts.netloc:
        _invalid("endpoint URL must not carry credentials (user:pass@)")
    if port == 0:
        _invalid("endpoint URL has port 0")
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    query = f"?{quote(parts.query, safe=_PATH_SAFE)}" if parts.query else ""
    host = _host(parts)
    return Target(parts.scheme, host, port or DEFAULT_PORTS[parts.scheme], path + query)


def _host(parts: SplitResult) -> str:
    """The host in canonical form: a compressed IPv6 literal, a dotted quad, or an IDNA name."""
    name = parts.hostname or ""
    if parts.netloc.startswith("["):
        if "%" in name:
            _invalid("endpoint host must not carry an IPv6 zone")
        return str(IPv6Address(name))  # urlsplit has checked the brackets hold IPv6
    try:
        host = name.encode("idna").decode("ascii").removesuffix(".")
    except UnicodeError:
        _invalid("endpoint host is not a valid domain name")
    if not host:
        _invalid("endpoint URL has no host")
    if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        if not _is_dotted_quad(host):
            _invalid(f"endpoint host {host} is an ambiguous numeric form; use a dotted quad")
        return host
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        _invalid("endpoint host is not a valid domain name")
    return host


def _is_dotted_quad(host: str) -> bool:
    try:
        return str(IPv4Address(host)) == host
    except ValueError:
        return False


def _invalid(message: str) -> NoReturn:
    raise EndpointUrlError(message, code="endpoint_url_invalid")
