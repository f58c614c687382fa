"""Cursor signing and the cursor key: local file (0600, made once) and the environment."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from gateway.api.cursors import (
    PROCESS_KEY,
    CursorCodec,
    cursor_key_from_environment,
    local_cursor_key,
)
from gateway.errors import BadRequestError
from gateway.tenancy.local_secrets import LocalStateError


def test_a_cursor_round_trips_only_for_its_tenant_and_key() -> None:
    codec = CursorCodec(b"a" * 32)
    cursor = codec.encode("acme", {"k": "events", "a": "E#1"})
    assert codec.decode("acme", cursor) == {"k": "events", "a": "E#1"}
    for tenant, key in (("globex", b"a" * 32), ("acme", b"b" * 32)):
        with pytest.raises(BadRequestError) as refused:
            CursorCodec(key).decode(tenant, cursor)
        assert refused.value.code == "invalid_cursor"


def test_the_payload_is_opaque_but_not_secret_and_any_change_is_refused() -> None:
    codec = CursorCodec(b"a" * 32)
    body, mac = codec.encode("acme", {"a": "E#1"}).split(".")
    for forged in (f"{body}A.{mac}", f"{body}.{mac}A", f"{body}.", f".{mac}", "", "x" * 1025):
        with pytest.raises(BadRequestError):
            codec.decode("acme", forged)


def test_the_local_key_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = local_cursor_key(state)
    assert len(key) == 32 and local_cursor_key(state) == key
    path = state / "cursor.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    with pytest.raises(LocalStateError, match="0600"):
        local_cursor_key(state)
    os.chmod(path, 0o600)
    path.write_text("not hex\n")
    with pytest.raises(LocalStateError, match="64 hex digits"):
        local_cursor_key(state)


def test_a_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("00" * 32)
    os.chmod(target, 0o600)
    (tmp_path / "cursor.key").symlink_to(target)
    with pytest.raises(OSError):
        local_cursor_key(tmp_path)


def test_the_key_on_aws_comes_from_the_environment_or_a_secret() -> None:
    assert cursor_key_from_environment({"CURSOR_KEY": "k" * 32}) == b"k" * 32
    with pytest.raises(ValueError, match="at least 32 bytes"):
        cursor_key_from_environment({"CURSOR_KEY": "short"})
    assert cursor_key_from_environment({}) == PROCESS_KEY
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name="waybill/cursor", SecretString="s" * 40)
        key = cursor_key_from_environment({"CURSOR_KEY_SECRET": "waybill/cursor"})
    assert key == b"s" * 40


def _other_spellings(part: str) -> list[str]:
    """Texts a lenient base64url decoder reads as the same bytes as ``part``."""
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = last.index(part[-1])
    unused = {2: 4, 3: 2}.get(len(part) % 4, 0)  # bits of the last character never read
    flipped = [part[:-1] + last[index ^ bit] for bit in range(1, 2**unused)]
    return [
        part + "=",
        part + "==",
        part[:2] + "\x00" + part[2:],
        part[:2] + "\n" + part[2:],
        part[:2] + "!" + part[2:],
        part.replace("-", "+").replace("_", "/"),
        *flipped,
    ]


@pytest.mark.parametrize("which", ["payload", "mac"])
def test_only_the_canonical_spelling_of_a_cursor_is_accepted(which: str) -> None:
    codec = CursorCodec(b"a" * 32)
    for n in range(40):  # payloads of every length modulo 4, and MACs (43 characters)
        cursor = codec.encode("acme", {"a": "E#" + "1" * n})
        body, mac = cursor.split(".")
        spellings = _other_spellings(body if which == "payload" else mac)
        assert spellings, cursor
        for spelling in spellings:
            forged = f"{spelling}.{mac}" if which == "payload" else f"{body}.{spelling}"
            if forged == cursor:
                continue  # "-" and "_" absent: that spelling is the cursor itself
            with pytest.raises(BadRequestError) as refused:
                codec.decode("acme", forged)
            assert refused.value.code == "invalid_cursor", forged
