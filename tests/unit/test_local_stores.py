"""Local secret and API key stores and the audit trail: modes, atomic writes, reloads."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit.changes import FileChangeLog, append_audit
from gateway.tenancy.apikeys import LocalApiKeyStore, digest
from gateway.tenancy.keysets import KeySetError
from gateway.tenancy.local_secrets import LocalSecretStore, LocalStateError

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def bump_mtime(path: Path) -> None:
    """Make sure a change is visible even on a file system with coarse timestamps."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


# --- secrets -----------------------------------------------------------------------


def test_secrets_file_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = LocalSecretStore(state)
    store.set("demo", "easypost", "secret-value-1", now=T0)
    assert mode(state) == 0o700
    assert mode(store.path) == 0o600
    assert sorted(p.name for p in state.iterdir()) == [".secrets.json.lock", "secrets.json"]
    assert mode(state / ".secrets.json.lock") == 0o600


def test_set_replaces_everything_and_rotate_keeps_the_old_one(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    assert store.get("demo", "easypost") is None
    assert store.valid_secrets("demo", "easypost", T0) == []
    store.set("demo", "easypost", "one", now=T0)
    store.rotate("demo", "easypost", "two", now=T0, grace=DAY)
    assert store.valid_secrets("demo", "easypost", T0) == ["two", "one"]
    assert store.valid_secrets("demo", "easypost", T0 + DAY) == ["two"]
    store.set("demo", "easypost", "three", now=T0)  # a set is not a rotation
    assert store.valid_secrets("demo", "easypost", T0) == ["three"]


def test_tenants_and_carriers_are_isolated(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    store.set("alpha", "easypost", "alpha-secret", now=T0)
    store.set("beta", "easypost", "beta-secret", now=T0)
    assert store.valid_secrets("alpha", "easypost", T0) == ["alpha-secret"]
    assert store.valid_secrets("alpha", "aftership", T0) == []
    assert [c for c, _ in store.list("beta")] == ["easypost"]


def test_revoke_previous(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    assert store.revoke_previous("demo", "easypost", now=T0) is None
    assert not store.path.exists()
    store.set("demo", "easypost", "one", now=T0)
    store.rotate("demo", "easypost", "two", now=T0, grace=DAY)
    keyset = store.revoke_previous("demo", "easypost", now=T0)
    assert keyset is not None and keyset.previous == ()
    assert store.valid_secrets("demo", "easypost", T0) == ["two"]


def test_refused_rotation_leaves_the_file_alone(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    store.set("demo", "easypost", "one", now=T0)
    before = store.path.read_bytes()
    with pytest.raises(KeySetError):
        store.rotate("demo", "easypost", "two", now=T0, grace=timedelta(minutes=1))
    assert store.path.read_bytes() == before


def test_atomic_write_temp_file_is_private_and_the_old_file_survives_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalSecretStore(tmp_path)
    store.set("demo", "easypost", "one", now=T0)
    before = store.path.read_bytes()
    seen: list[tuple[str, int]] = []

    def failing_replace(src: str, dst: str) -> None:
        seen.append((os.path.dirname(src), stat.S_IMODE(os.stat(src).st_mode)))
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        store.set("demo", "easypost", "two", now=T0)
    assert seen == [(str(tmp_path), 0o600)]  # same directory, private from the start
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".secrets.json.lock", "secrets.json"]


def test_private_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = LocalSecretStore(tmp_path / "state")
        store.set("demo", "easypost", "one", now=T0)
    finally:
        os.umask(old)
    assert mode(store.path) == 0o600
    assert mode(tmp_path / "state") == 0o700


def test_a_running_reader_sees_changes_made_by_another_process(tmp_path: Path) -> None:
    server = LocalSecretStore(tmp_path)
    cli = LocalSecretStore(tmp_path)
    assert server.valid_secrets("demo", "easypost", T0) == []
    cli.set("demo", "easypost", "one", now=T0)
    assert server.valid_secrets("demo", "easypost", T0) == ["one"]
    cli.rotate("demo", "easypost", "two", now=T0, grace=DAY)
    bump_mtime(cli.path)
    assert server.valid_secrets("demo", "easypost", T0) == ["two", "one"]


def test_reads_are_cached_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalSecretStore(tmp_path)
    store.set("demo", "easypost", "one", now=T0)
    store.valid_secrets("demo", "easypost", T0)
    opened: list[object] = []
    real_open = os.open

    def spy(path: str, flags: int, mode: int = 0o777) -> int:
        opened.append(path)
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", spy)
    for _ in range(5):
        assert store.valid_secrets("demo", "easypost", T0) == ["one"]
    assert opened == []


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660])
def test_a_file_readable_by_others_is_refused(tmp_path: Path, loose: int) -> None:
    store = LocalSecretStore(tmp_path)
    store.set("demo", "easypost", "one-secret-value", now=T0)
    reader = LocalSecretStore(tmp_path)
    assert reader.valid_secrets("demo", "easypost", T0) == ["one-secret-value"]
    os.chmod(store.path, loose)
    with pytest.raises(LocalStateError) as caught:
        reader.valid_secrets("demo", "easypost", T0)  # a cached copy does not hide the chmod
    message = str(caught.value)
    assert f"mode {loose:04o}" in message and "chmod 600" in message
    assert "one-secret-value" not in message


def test_a_symlinked_secrets_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.json"
    real.write_text("{}")
    real.chmod(0o600)
    (tmp_path / "secrets.json").symlink_to(real)
    with pytest.raises(LocalStateError, match="cannot open"):
        LocalSecretStore(tmp_path).get("demo", "easypost")


def test_a_corrupt_file_is_reported_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    bad = {
        "demo": {"easypost": {"current": {"value": "leaky-secret-xyz", "created_at": "yesterday"}}}
    }
    path.write_text(json.dumps(bad))
    path.chmod(0o600)
    with pytest.raises(LocalStateError) as caught:
        LocalSecretStore(tmp_path).get("demo", "easypost")
    assert "demo.easypost.current.created_at" in str(caught.value)
    assert "leaky" not in str(caught.value)
    path.write_text("{not json")
    with pytest.raises(LocalStateError, match="not valid JSON"):
        LocalSecretStore(tmp_path).get("demo", "easypost")


# --- API keys ----------------------------------------------------------------------


def test_issued_key_is_stored_only_as_a_hash(tmp_path: Path) -> None:
    keys = LocalApiKeyStore(tmp_path)
    issued = keys.issue("demo", now=T0)
    assert issued.plaintext.startswith("wb_") and len(issued.plaintext) == 46
    assert issued.prefix == issued.plaintext[:8]
    assert issued.plaintext not in repr(issued)
    text = keys.path.read_text()
    assert issued.plaintext not in text and issued.plaintext[8:] not in text
    assert digest(issued.plaintext) in text
    assert mode(keys.path) == 0o600


def test_resolve_and_tenant_isolation(tmp_path: Path) -> None:
    keys = LocalApiKeyStore(tmp_path)
    alpha = keys.issue("alpha", now=T0)
    beta = keys.issue("beta", now=T0)
    assert keys.resolve(alpha.plaintext) == "alpha"
    assert keys.resolve(beta.plaintext) == "beta"
    for wrong in ("", "wb_", alpha.plaintext[:-1], alpha.plaintext + "x", "x" * 5000):
        assert keys.resolve(wrong) is None
    assert not keys.revoke("alpha", beta.prefix, now=T0)  # not alpha's key
    assert keys.resolve(beta.plaintext) == "beta"


def test_revoked_key_is_refused_at_once_by_a_running_reader(tmp_path: Path) -> None:
    server = LocalApiKeyStore(tmp_path)
    cli = LocalApiKeyStore(tmp_path)
    issued = cli.issue("demo", now=T0)
    assert server.resolve(issued.plaintext) == "demo"
    assert cli.revoke("demo", issued.prefix, now=T0 + DAY)
    assert server.resolve(issued.plaintext) is None
    assert not cli.revoke("demo", issued.prefix, now=T0 + DAY)  # already revoked
    [record] = server.list("demo")
    assert record.revoked_at == T0 + DAY and not record.active


def test_list_is_per_tenant_and_oldest_first(tmp_path: Path) -> None:
    keys = LocalApiKeyStore(tmp_path)
    second = keys.issue("demo", now=T0 + DAY)
    first = keys.issue("demo", now=T0)
    keys.issue("other", now=T0)
    assert [r.prefix for r in keys.list("demo")] == [first.prefix, second.prefix]
    assert keys.list("nobody") == []


def test_a_loose_api_keys_file_is_refused(tmp_path: Path) -> None:
    keys = LocalApiKeyStore(tmp_path)
    issued = keys.issue("demo", now=T0)
    keys.path.chmod(0o644)
    with pytest.raises(LocalStateError, match="mode 0644"):
        keys.resolve(issued.plaintext)


# --- audit -------------------------------------------------------------------------


def test_audit_lines_are_appended_privately(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for action in ("secret.set", "key.issue"):
        append_audit(
            FileChangeLog(state),
            actor="ops",
            action=action,
            tenant="demo",
            target="easypost",
            detail={"grace": "24h"},
            now=T0,
        )
    path = state / "audit.jsonl"
    assert mode(path) == 0o600
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["action"] for line in lines] == ["secret.set", "key.issue"]
    assert lines[0] == {
        "at": "2025-03-01T12:00:00Z",
        "actor": "ops",
        "action": "secret.set",
        "tenant": "demo",
        "target": "easypost",
        "detail": {"grace": "24h"},
    }


def test_audit_tightens_a_loose_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    path.chmod(0o644)
    append_audit(
        FileChangeLog(tmp_path), actor="ops", action="key.issue", tenant="d", target="t", now=T0
    )
    assert mode(path) == 0o600
