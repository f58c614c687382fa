"""gateway/notify/addresses.py: which endpoint URLs and addresses each policy lets through."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from gateway.notify.addresses import (
    METADATA_ADDRESSES,
    AddressPolicy,
    EndpointUrlError,
    ForbiddenAddressError,
    Target,
)

STRICT, INSECURE = AddressPolicy(), AddressPolicy(allow_insecure=True)
ALLOWED, FORBIDDEN = "allowed", "forbidden"
SECRET = "tok_5f1a9c"  # sits in paths and queries: never in a message

# (address, verdict under the strict policy, verdict under allow_insecure, reason named)
ADDRESSES = [
    ("8.8.8.8", ALLOWED, ALLOWED, None),
    ("2606:4700:4700::1111", ALLOWED, ALLOWED, None),
    ("::ffff:8.8.8.8", ALLOWED, ALLOWED, None),  # only a spelling of 8.8.8.8
    ("64:ff9b::808:808", ALLOWED, ALLOWED, None),  # NAT64 of 8.8.8.8
    ("2002:808:808::1", ALLOWED, ALLOWED, None),  # 6to4 behind 8.8.8.8
    # refused unless insecure
    ("127.0.0.1", FORBIDDEN, ALLOWED, "loopback"),
    ("127.255.0.9", FORBIDDEN, ALLOWED, "loopback"),
    ("::1", FORBIDDEN, ALLOWED, "loopback"),
    ("10.0.0.5", FORBIDDEN, ALLOWED, "private"),
    ("172.16.0.1", FORBIDDEN, ALLOWED, "private"),
    ("172.31.255.254", FORBIDDEN, ALLOWED, "private"),
    ("192.168.1.1", FORBIDDEN, ALLOWED, "private"),
    ("fd12:3456::1", FORBIDDEN, ALLOWED, "unique-local"),
    ("fec0::1", FORBIDDEN, ALLOWED, "unique-local"),  # site-local: is_global says True
    ("100.64.0.1", FORBIDDEN, ALLOWED, "shared address space (CGNAT)"),
    ("192.0.2.10", FORBIDDEN, ALLOWED, "not globally routable"),  # documentation
    ("2001:db8::1", FORBIDDEN, ALLOWED, "not globally routable"),
    ("100::1", FORBIDDEN, ALLOWED, "not globally routable"),  # discard-only
    ("4000::1", FORBIDDEN, ALLOWED, "not globally routable"),  # outside 2000::/3
    # embedded IPv4, unwrapped before judging
    ("::ffff:127.0.0.1", FORBIDDEN, ALLOWED, "loopback (embeds 127.0.0.1)"),
    ("::ffff:10.0.0.1", FORBIDDEN, ALLOWED, "private (embeds 10.0.0.1)"),
    ("::10.0.0.1", FORBIDDEN, ALLOWED, "private (embeds 10.0.0.1)"),  # IPv4-compatible
    ("::ffff:0:7f00:1", FORBIDDEN, ALLOWED, "loopback (embeds 127.0.0.1)"),  # SIIT
    ("64:ff9b::a00:1", FORBIDDEN, ALLOWED, "private (embeds 10.0.0.1)"),  # NAT64
    ("64:ff9b:1::c0a8:101", FORBIDDEN, ALLOWED, "private (embeds 192.168.1.1)"),
    ("2002:c0a8:101::1", FORBIDDEN, ALLOWED, "private (embeds 192.168.1.1)"),  # 6to4
    # always refused
    ("169.254.169.254", FORBIDDEN, FORBIDDEN, "a cloud metadata address"),
    ("fd00:ec2::254", FORBIDDEN, FORBIDDEN, "a cloud metadata address"),
    ("100.100.100.200", FORBIDDEN, FORBIDDEN, "a cloud metadata address"),
    ("192.0.0.192", FORBIDDEN, FORBIDDEN, "a cloud metadata address"),
    ("169.254.1.1", FORBIDDEN, FORBIDDEN, "link-local"),
    ("fe80::1", FORBIDDEN, FORBIDDEN, "link-local"),
    ("0.0.0.0", FORBIDDEN, FORBIDDEN, "unspecified"),  # noqa: S104 (an address, not a bind)
    ("0.1.2.3", FORBIDDEN, FORBIDDEN, "unspecified"),
    ("::", FORBIDDEN, FORBIDDEN, "unspecified"),
    ("224.0.0.1", FORBIDDEN, FORBIDDEN, "multicast"),
    ("239.255.255.250", FORBIDDEN, FORBIDDEN, "multicast"),
    ("ff02::1", FORBIDDEN, FORBIDDEN, "multicast"),
    ("255.255.255.255", FORBIDDEN, FORBIDDEN, "broadcast"),
    ("240.0.0.1", FORBIDDEN, FORBIDDEN, "reserved"),
    ("::ffff:169.254.169.254", FORBIDDEN, FORBIDDEN, "a cloud metadata address (embeds"),
    ("::ffff:0:a9fe:a9fe", FORBIDDEN, FORBIDDEN, "a cloud metadata address (embeds"),
    ("64:ff9b::a9fe:a9fe", FORBIDDEN, FORBIDDEN, "a cloud metadata address (embeds"),
    ("2002:a9fe:a9fe::1", FORBIDDEN, FORBIDDEN, "a cloud metadata address (embeds"),
    # Teredo: the tunnel itself is not global; its client (bits inverted) is judged too
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", FORBIDDEN, ALLOWED, "not globally routable"),
    ("2001:0:4136:e378:8000:63bf:5601:5601", FORBIDDEN, FORBIDDEN, "not globally routable"),
]


def _verdict(policy: AddressPolicy, address: str) -> tuple[str, str | None]:
    try:
        policy.check_address(ip_address(address))
    except ForbiddenAddressError as refused:
        return FORBIDDEN, refused.message
    return ALLOWED, None


@pytest.mark.parametrize(("address", "strict", "insecure", "reason"), ADDRESSES)
def test_check_address_under_each_policy(
    address: str, strict: str, insecure: str, reason: str | None
) -> None:
    strict_verdict, message = _verdict(STRICT, address)
    assert (strict_verdict, _verdict(INSECURE, address)[0]) == (strict, insecure)
    if reason is not None:
        assert message is not None
        assert message.startswith(f"address {ip_address(address)} is {reason}")


@pytest.mark.parametrize("address", sorted(METADATA_ADDRESSES, key=str))
def test_every_metadata_address_is_refused_even_when_insecure(address: object) -> None:
    with pytest.raises(ForbiddenAddressError) as caught:
        INSECURE.check_address(ip_address(str(address)))
    assert caught.value.code == "endpoint_address_forbidden"


# (url, code under the strict policy, code under allow_insecure; None = accepted)
INVALID, REFUSED = "endpoint_url_invalid", "endpoint_url_forbidden"
URLS = [
    ("https://hooks.example.com/in", None, None),
    ("http://hooks.example.com/in", REFUSED, None),
    ("https://8.8.8.8/in", None, None),
    ("https://[2606:4700:4700::1111]/in", None, None),
    ("https://127.0.0.1:8443/", REFUSED, None),
    ("https://10.0.0.5/", REFUSED, None),
    ("https://[::1]/", REFUSED, None),
    ("https://[::ffff:10.0.0.5]/", REFUSED, None),
    ("https://169.254.169.254/latest/meta-data/", REFUSED, REFUSED),
    ("https://[fd00:ec2::254]/", REFUSED, REFUSED),
    ("https://[fe80::1]/", REFUSED, REFUSED),
    ("https://0.0.0.0/", REFUSED, REFUSED),
    # numeric hosts in any form but a dotted quad
    ("http://2130706433/", INVALID, INVALID),
    ("http://0177.0.0.1/", INVALID, INVALID),
    ("http://0x7f.1/", INVALID, INVALID),
    ("http://0x7f000001/", INVALID, INVALID),
    ("http://127.1/", INVALID, INVALID),
    ("http://127.0.0.01/", INVALID, INVALID),
    ("http://1.2.3.4.5/", INVALID, INVALID),
    ("https://example.0x10/", INVALID, INVALID),
    ("https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", REFUSED, None),  # full-width 127.0.0.1
    ("https://\uff12\uff11\uff13\uff10\uff17\uff10\uff16\uff14\uff13\uff13/", INVALID, INVALID),
    # malformed
    ("https://user:pass@hooks.example.com/", INVALID, INVALID),
    ("https://hooks.example.com@10.0.0.5/", INVALID, INVALID),
    ("https://hooks.example.com/in#frag", INVALID, INVALID),
    ("ftp://hooks.example.com/", INVALID, INVALID),
    ("javascript:alert(1)", INVALID, INVALID),
    ("https:///in", INVALID, INVALID),
    ("https://:443/in", INVALID, INVALID),
    ("https://hooks.example.com:0/", INVALID, INVALID),
    ("https://hooks.example.com:70000/", INVALID, INVALID),
    ("https://hooks.example.com:https/", INVALID, INVALID),
    ("https://hooks.example.com/a b", INVALID, INVALID),
    ("https://hooks.example.com/\r\nX-Evil: 1", INVALID, INVALID),
    (" https://hooks.example.com/", INVALID, INVALID),
    ("https://hooks.example.com\\@10.0.0.5/", INVALID, INVALID),
    ("https://hooks.exa%6dple.com/", INVALID, INVALID),
    ("https://hooks..example.com/", INVALID, INVALID),
    ("https://-hooks.example.com/", INVALID, INVALID),
    ("https://[1.2.3.4]/", INVALID, INVALID),
    ("https://[fe80::1%25eth0]/", INVALID, INVALID),
    ("https://hooks.example.com/" + "a" * 2048, INVALID, INVALID),
]


@pytest.mark.parametrize(("url", "strict", "insecure"), URLS)
def test_check_url_under_each_policy(url: str, strict: str | None, insecure: str | None) -> None:
    for policy, expected in ((STRICT, strict), (INSECURE, insecure)):
        try:
            policy.check_url(url)
        except EndpointUrlError as refused:
            assert (refused.code, refused.status) == (expected, 400), policy
        else:
            assert expected is None, policy


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://Hooks.Example.COM/in?x=1", Target("https", "hooks.example.com", 443, "/in?x=1")),
        ("http://hooks.example.com:8080", Target("http", "hooks.example.com", 8080, "/")),
        ("https://hooks.example.com./in?", Target("https", "hooks.example.com", 443, "/in")),
        (
            "https://B\u00fccher.example/\u00e4",
            Target("https", "xn--bcher-kva.example", 443, "/%C3%A4"),
        ),
        (
            "https://\u4f8b\u3048.\u30c6\u30b9\u30c8/",
            Target("https", "xn--r8jz45g.xn--zckzah", 443, "/"),
        ),
        (
            "https://[2606:4700:4700:0::1111]:8443/p",
            Target("https", "2606:4700:4700::1111", 8443, "/p"),
        ),
        ("https://8.8.8.8/%2e%2e/x", Target("https", "8.8.8.8", 443, "/%2e%2e/x")),
    ],
)
def test_check_url_canonicalises_the_target(url: str, target: Target) -> None:
    assert INSECURE.check_url(url) == target


@pytest.mark.parametrize(
    ("url", "header"),
    [
        ("https://hooks.example.com/", "hooks.example.com"),
        ("http://hooks.example.com:443/", "hooks.example.com:443"),
        ("https://[2606:4700:4700::1111]:8443/", "[2606:4700:4700::1111]:8443"),
    ],
)
def test_host_header_brackets_ipv6_and_names_a_non_default_port(url: str, header: str) -> None:
    assert INSECURE.check_url(url).host_header == header


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{SECRET}@hooks.example.com/",
        f"https://hooks.example.com/in/{SECRET}#{SECRET}",
        f"http://hooks.example.com/in?token={SECRET}",
        f"https://10.0.0.5/in?token={SECRET}",
        f"https://hooks.example.com/{SECRET} x",
        f"https://hooks.example.com/{SECRET}" + "a" * 2048,
    ],
)
def test_messages_never_echo_the_path_query_or_credentials(url: str) -> None:
    with pytest.raises(EndpointUrlError) as caught:
        STRICT.check_url(url)
    assert SECRET not in caught.value.message
    assert SECRET not in str(caught.value.body())
