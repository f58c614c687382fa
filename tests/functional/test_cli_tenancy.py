"""The tenancy commands end to end: ``waybill tenants``, ``secrets`` and ``keys``.

Every test checks that no secret value or key reaches any output (or the audit
trail) unless ``--reveal`` asked for it.
"""

from __future__ import annotations

import base64
import io
import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.cli import main
from gateway.tenancy.apikeys import LocalApiKeyStore
from gateway.tenancy.local_secrets import LocalSecretStore

DEMO = """
name = "Demo"
plan = "standard"
retention_days = 90

[carriers.easypost]

[carriers.aftership]

[carriers.ups]
enabled = false
"""

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "demo.toml").write_text(DEMO)
    (tenants / "other.toml").write_text('name = "Other"\n[carriers.easypost]\n')
    return tmp_path / "state", tenants


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], dirs: tuple[Path, Path]) -> Run:
    state, tenants = dirs

    def invoke(*argv: str, state_dir: bool = True) -> tuple[int, str, str]:
        extra = ["--tenants-dir", str(tenants)]
        if state_dir:
            extra += ["--state-dir", str(state)]
        code = main([*argv, *extra])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def audit_lines(state: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (state / "audit.jsonl").read_text().splitlines()]


def secret_values(state: Path, tenant: str = "demo", carrier: str = "easypost") -> list[str]:
    keyset = LocalSecretStore(state).get(tenant, carrier)
    assert keyset is not None
    return [keyset.current.value, *(p.value for p in keyset.previous)]


# --- tenants -----------------------------------------------------------------------


def test_tenants_list_show_validate(run: Run) -> None:
    code, out, _ = run("tenants", "list", state_dir=False)
    assert code == 0
    assert "demo  Demo  plan=standard  retention=90d  carriers=aftership, easypost" in out
    assert "other  Other" in out
    code, out, _ = run("tenants", "show", "demo", state_dir=False)
    assert code == 0 and "ups  disabled" in out and "retention_days: 90" in out
    code, out, err = run("tenants", "validate", state_dir=False)
    assert (code, err) == (0, "")
    assert out.count("ok  ") == 2


def test_tenants_validate_names_the_file_and_field(run: Run, dirs: tuple[Path, Path]) -> None:
    _, tenants = dirs
    (tenants / "broken.toml").write_text('name = "B"\n[carriers.easypost]\nenabld = true\n')
    code, out, err = run("tenants", "validate", state_dir=False)
    assert code != 0
    assert f"{tenants / 'broken.toml'}: carriers.easypost.enabld: extra inputs" in err
    assert "ok  " in out  # the good files are still reported


BAD_FILES = {
    "typo.toml": (
        'name = "T"\n[carriers.easypst]\n',
        "carriers: value error, easypst: no adapter of that id is discovered",
    ),
    "field.toml": ('name = "F"\nretention = 30\n', "retention: extra inputs"),
}


@pytest.fixture
def bad_files(dirs: tuple[Path, Path]) -> list[str]:
    """Two invalid tenant files beside the good ones; the lines that must name them."""
    _, tenants = dirs
    for name, (text, _) in BAD_FILES.items():
        (tenants / name).write_text(text)
    return [f"{tenants / name}: {field}" for name, (_, field) in BAD_FILES.items()]


def test_validate_and_list_report_every_bad_file_and_go_on(run: Run, bad_files: list[str]) -> None:
    code, out, err = run("tenants", "validate", state_dir=False)
    assert code == 1 and out.count("ok  ") == 2
    assert all(f"invalid  {line}" in err for line in bad_files), err
    code, out, err = run("tenants", "list", state_dir=False)
    assert code == 1 and "demo  Demo" in out and "other  Other" in out
    assert all(f"invalid  {line}" in err for line in bad_files), err


def test_a_misspelled_carrier_names_the_file_the_carrier_and_the_known_ids(
    run: Run, bad_files: list[str]
) -> None:
    _, _, err = run("tenants", "validate", state_dir=False)
    assert "easypst" in err and "did you mean easypost? (known: aftership, canonical," in err


def test_serve_refuses_to_start_on_an_invalid_tenant_file(
    run: Run, dirs: tuple[Path, Path], bad_files: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.local.dynamodb_local import DynamoDBLocal

    def started(self: DynamoDBLocal) -> None:
        raise AssertionError("serve started DynamoDB Local with an invalid tenant file")

    monkeypatch.setattr(DynamoDBLocal, "start", started)
    code, out, err = run("serve", "--port", "0", "--in-memory")
    assert (code, out) == (2, "")
    assert all(f"invalid  {line}" in err for line in bad_files), err
    assert "waybill: 2 invalid tenant file(s)" in err and "waybill tenants validate" in err
    assert not dirs[0].exists()  # nothing started, nothing written


def test_tenants_show_unknown(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run("tenants", "show", "nobody", state_dir=False)
    assert code == 2 and "unknown tenant 'nobody'" in err


# --- secrets -----------------------------------------------------------------------


def test_set_with_a_value_prints_it_masked_and_audits_without_it(
    run: Run, dirs: tuple[Path, Path]
) -> None:
    state, _ = dirs
    value = "whsec_partner-secret-0123456789"
    code, out, err = run("secrets", "set", "demo", "easypost", "--value", value)
    assert code == 0
    assert value not in out + err
    assert "whse…(31 chars)" in out
    assert secret_values(state) == [value]
    assert stat.S_IMODE((state / "secrets.json").stat().st_mode) == 0o600
    [entry] = audit_lines(state)
    assert (entry["action"], entry["tenant"], entry["target"]) == ("secret.set", "demo", "easypost")
    assert value not in json.dumps(entry) and value[:8] not in json.dumps(entry)


def test_generate_without_reveal_says_how_to_see_it(run: Run, dirs: tuple[Path, Path]) -> None:
    state, _ = dirs
    code, out, err = run("secrets", "set", "demo", "easypost", "--generate")
    assert code == 0
    [value] = secret_values(state)
    assert value not in out + err
    assert "waybill secrets list demo --reveal" in out
    code, out, _ = run("secrets", "list", "demo")
    assert code == 0 and value not in out and value[:4] in out
    code, out, _ = run("secrets", "list", "demo", "--reveal")
    assert code == 0 and value in out
    assert [e["action"] for e in audit_lines(state)] == ["secret.set", "secret.reveal"]


def test_set_with_generate_and_reveal_prints_the_value(run: Run, dirs: tuple[Path, Path]) -> None:
    state, _ = dirs
    code, out, _ = run("secrets", "set", "demo", "easypost", "--generate", "--reveal")
    assert code == 0
    [value] = secret_values(state)
    assert value in out and "--reveal" not in out


def test_value_from_stdin(
    run: Run, dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, _ = dirs
    monkeypatch.setattr("sys.stdin", io.StringIO("piped-secret-value-42\n"))
    code, out, _ = run("secrets", "set", "demo", "easypost", "--value", "-")
    assert code == 0 and "piped-secret-value-42" not in out
    assert secret_values(state) == ["piped-secret-value-42"]


def test_rotate_keeps_the_old_secret_for_the_grace_period(
    run: Run, dirs: tuple[Path, Path]
) -> None:
    state, _ = dirs
    run("secrets", "set", "demo", "easypost", "--value", "first-secret-value")
    code, out, err = run("secrets", "rotate", "demo", "easypost", "--generate", "--grace", "2h")
    assert code == 0, err
    current, previous = secret_values(state)
    assert previous == "first-secret-value"
    assert current not in out and previous not in out
    assert "(2h)" in out and "waybill secrets list demo --reveal" in out
    code, out, _ = run("secrets", "list", "demo")
    assert "valid until" in out and current not in out and previous not in out
    rotation = audit_lines(state)[-1]
    assert rotation["action"] == "secret.rotate"
    assert rotation["detail"] == {"generated": True, "grace": "2h", "previous_valid": 1}


@pytest.mark.parametrize(
    ("grace", "message"),
    [("5m", "at least 10 minutes"), ("soon", "invalid duration"), ("0h", "must be positive")],
)
def test_rotate_refuses_a_bad_grace(
    run: Run, dirs: tuple[Path, Path], grace: str, message: str
) -> None:
    state, _ = dirs
    run("secrets", "set", "demo", "easypost", "--value", "first-secret-value")
    code, out, err = run(
        "secrets", "rotate", "demo", "easypost", "--value", "x" * 20, "--grace", grace
    )
    assert code == 2 and message in err and "x" * 20 not in out + err
    assert secret_values(state) == ["first-secret-value"]


def test_rotate_cap_is_reported(run: Run) -> None:
    run("secrets", "set", "demo", "easypost", "--generate")
    for _ in range(5):
        assert run("secrets", "rotate", "demo", "easypost", "--generate", "--grace", "1d")[0] == 0
    code, _, err = run("secrets", "rotate", "demo", "easypost", "--generate", "--grace", "1d")
    assert code == 2
    assert "at most 5 previous secrets may be valid at once; revoke one or wait for expiry" in err


def test_revoke_drops_previous_secrets(run: Run, dirs: tuple[Path, Path]) -> None:
    state, _ = dirs
    run("secrets", "set", "demo", "easypost", "--value", "first-secret-value")
    run("secrets", "rotate", "demo", "easypost", "--value", "second-secret-value")
    code, out, _ = run("secrets", "revoke", "demo", "easypost")
    assert code == 0 and "revoked 1 previous" in out
    assert secret_values(state) == ["second-secret-value"]
    assert audit_lines(state)[-1]["action"] == "secret.revoke"
    code, _, err = run("secrets", "revoke", "demo", "aftership")
    assert code == 2 and "no secret is set for demo/aftership" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("secrets", "set", "nobody", "easypost"), "unknown tenant 'nobody'"),
        (("secrets", "set", "../demo", "easypost"), "not a valid tenant id"),
        (("secrets", "set", "demo", "ups"), "carrier 'ups' is not enabled for tenant 'demo'"),
        (("secrets", "rotate", "demo", "fedex"), "carrier 'fedex' is not enabled"),
    ],
)
def test_unknown_tenant_or_disabled_carrier(
    run: Run, dirs: tuple[Path, Path], argv: tuple[str, ...], message: str
) -> None:
    state, _ = dirs
    code, _, err = run(*argv, "--value", "some-secret-value")
    assert code == 2 and message in err
    assert not (state / "secrets.json").exists()
    assert "some-secret-value" not in err


PARTNER = 'name = "Partner"\n[carriers.standard_webhooks]\n'
WHSEC_EXPECTED = "standard_webhooks secrets are whsec_ followed by base64"


@pytest.fixture
def partner(dirs: tuple[Path, Path]) -> str:
    """A tenant whose carrier (Standard Webhooks) takes ``whsec_`` secrets."""
    _, tenants = dirs
    (tenants / "partner.toml").write_text(PARTNER)
    return "partner"


@pytest.mark.parametrize(
    "value", ["whsec_not*base64*at-all", "whsec_", "whsec_abc~def0123456789", "plain-text-secret"]
)
def test_set_refuses_a_secret_the_adapter_cannot_use(
    run: Run, dirs: tuple[Path, Path], partner: str, value: str
) -> None:
    state, _ = dirs
    code, out, err = run("secrets", "set", partner, "standard_webhooks", "--value", value)
    assert code == 2
    assert WHSEC_EXPECTED in err and "nothing was stored" in err
    assert value not in (out + err).replace(WHSEC_EXPECTED, "")  # "whsec_" alone is in it
    assert not (state / "secrets.json").exists()
    assert not (state / "audit.jsonl").exists()


def test_rotate_refuses_a_bad_whsec_and_keeps_the_old_secret(
    run: Run, dirs: tuple[Path, Path], partner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, _ = dirs
    code, _, err = run("secrets", "set", partner, "standard_webhooks", "--generate")
    assert code == 0, err
    before = secret_values(state, partner, "standard_webhooks")
    monkeypatch.setattr("sys.stdin", io.StringIO("whsec_piped!not!base64\n"))
    code, out, err = run("secrets", "rotate", partner, "standard_webhooks", "--value", "-")
    assert code == 2 and WHSEC_EXPECTED in err
    assert "piped!not!base64" not in out + err
    assert secret_values(state, partner, "standard_webhooks") == before
    assert [e["action"] for e in audit_lines(state)] == ["secret.set"]


def test_a_good_whsec_or_generated_secret_is_accepted(
    run: Run, dirs: tuple[Path, Path], partner: str
) -> None:
    state, _ = dirs
    good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the published Standard Webhooks vector
    assert run("secrets", "set", partner, "standard_webhooks", "--value", good)[0] == 0
    code, _, err = run("secrets", "rotate", partner, "standard_webhooks", "--generate")
    assert code == 0, err
    current, previous = secret_values(state, partner, "standard_webhooks")
    assert previous == good and current.startswith("whsec_")


def test_a_bad_ed25519_public_key_is_refused(
    run: Run, dirs: tuple[Path, Path], partner: str
) -> None:
    state, _ = dirs
    short_key = "whpk_" + "QUJD" * 4  # valid base64, but 12 bytes: not an Ed25519 key
    code, out, err = run("secrets", "set", partner, "standard_webhooks", "--value", short_key)
    assert code == 2 and "public keys are whpk_ followed by" in err
    assert short_key not in out + err and "QUJD" not in out + err
    assert not (state / "secrets.json").exists()
    public_ok = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    public = "whpk_" + base64.b64encode(public_ok).decode()
    code, _, err = run("secrets", "set", partner, "standard_webhooks", "--value", public)
    assert code == 0, err
    assert secret_values(state, partner, "standard_webhooks") == [public]


def test_secrets_are_per_tenant(run: Run, dirs: tuple[Path, Path]) -> None:
    state, _ = dirs
    run("secrets", "set", "demo", "easypost", "--value", "demo-secret-value")
    code, out, _ = run("secrets", "list", "other", "--reveal")
    assert code == 0 and "demo-secret-value" not in out and "(no secret set)" in out
    assert LocalSecretStore(state).valid_secrets("other", "easypost", datetime.now(UTC)) == []


def test_a_loose_secrets_file_is_a_clear_error(run: Run, dirs: tuple[Path, Path]) -> None:
    state, _ = dirs
    run("secrets", "set", "demo", "easypost", "--value", "demo-secret-value")
    (state / "secrets.json").chmod(0o644)
    code, out, err = run("secrets", "list", "demo")
    assert code == 2 and "chmod 600" in err and "demo-secret-value" not in out + err


# --- secret slots: CARRIER.SLOT ---------------------------------------------------

SLOTS = """
name = "Slots"
[carriers.shippo]
[carriers.standard_webhooks]
[carriers.ups]
enabled = false
[carriers.parcelpal.generic]
label = "Parcel Pal"
signature = { kind = "hmac", header = "X-PP-Signature", secret_form = "whsec_base64" }
fields = { tracking_number = "number", status = "code", occurred_at = "at" }
"""


@pytest.fixture
def slots(dirs: tuple[Path, Path]) -> str:
    """A tenant with Shippo, Standard Webhooks, UPS disabled and a generic partner."""
    _, tenants = dirs
    (tenants / "slots.toml").write_text(SLOTS)
    return "slots"


def test_a_slot_is_its_own_key_set_beside_the_carrier(
    run: Run, dirs: tuple[Path, Path], slots: str
) -> None:
    state, _ = dirs
    code, out, err = run("secrets", "set", slots, "shippo.hmac", "--value", "hmac-key-value-1")
    assert code == 0, err
    assert "set the secret of slots/shippo.hmac" in out and "hmac-key-value-1" not in out
    assert secret_values(state, slots, "shippo.hmac") == ["hmac-key-value-1"]
    assert LocalSecretStore(state).get(slots, "shippo") is None  # the URL token is apart
    code, _, err = run("secrets", "rotate", slots, "shippo.hmac", "--generate", "--grace", "1h")
    assert code == 0, err
    assert secret_values(state, slots, "shippo.hmac")[1] == "hmac-key-value-1"
    code, out, _ = run("secrets", "list", slots)
    assert "shippo\n  (no secret set)" in out
    assert "shippo.hmac\n  current" in out and "hmac-key-value-1" not in out
    code, out, _ = run("secrets", "revoke", slots, "shippo.hmac")
    assert code == 0 and "revoked 1 previous secret(s) of slots/shippo.hmac" in out
    targets = [(e["action"], e["target"]) for e in audit_lines(state)]
    assert targets == [
        ("secret.set", "shippo.hmac"),
        ("secret.rotate", "shippo.hmac"),
        ("secret.revoke", "shippo.hmac"),
    ]


def test_a_slot_value_takes_its_own_rule_the_default_slot_the_scheme_form(
    run: Run, dirs: tuple[Path, Path], slots: str
) -> None:
    state, _ = dirs
    code, _, err = run("secrets", "set", slots, "standard_webhooks", "--value", "plain-text-1")
    assert code == 2 and WHSEC_EXPECTED in err
    code, _, err = run("secrets", "set", slots, "shippo.hmac", "--value", "plain-text-1")
    assert code == 0, err  # Shippo's HMAC key is text the carrier chose
    assert secret_values(state, slots, "shippo.hmac") == ["plain-text-1"]
    code, _, err = run("secrets", "set", slots, "shippo.hmac", "--value", " padded ")
    assert code == 2 and "whitespace" in err  # never a pasting accident
    code, _, err = run("secrets", "set", slots, "shippo.hmac", "--value", "tab\there")
    assert code == 2 and "control characters" in err and "tab" not in err.split(":", 1)[1][:40]


EVERY = 'name = "Every"\n[carriers."*"]\n'


@pytest.fixture
def every(dirs: tuple[Path, Path]) -> str:
    """A tenant with every discovered adapter (the demo tenant's wildcard)."""
    _, tenants = dirs
    (tenants / "every.toml").write_text(EVERY)
    return "every"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "shippo.hmc",
            "shippo reads no secret 'shippo.hmc'; did you mean shippo.hmac? "
            "(it reads: shippo, shippo.hmac)",
        ),
        ("easypost.hmac", "easypost reads no secret 'easypost.hmac'"),
        ("ups.oath", "did you mean ups.oauth? (it reads: ups, ups.api, ups.oauth)"),
        ("standard_webhooks.extra", "(it reads: standard_webhooks)"),
        ("canonical", "canonical reads no partner secret (a tenant's own systems use API keys"),
    ],
)
def test_a_secret_the_adapter_does_not_read_is_refused_naming_those_it_reads(
    run: Run, dirs: tuple[Path, Path], every: str, target: str, message: str
) -> None:
    state, _ = dirs
    for action in ("set", "rotate"):
        code, out, err = run("secrets", action, every, target, "--value", "some-secret-value-1")
        assert (code, out) == (2, "") and message in err, err
        assert "some-secret-value-1" not in err
    assert not (state / "secrets.json").exists()
    assert not (state / "audit.jsonl").exists()


@pytest.mark.parametrize(
    ("target", "value", "message"),
    [
        ("standard_webhooks", "whsec_abc", "base64 of at least 24 bytes (a 2-byte key here)"),
        ("standard_webhooks", "whsec_" + "QUJD" * 7, "(a 21-byte key here)"),
        ("standard_webhooks", "whsk_" + "QUJD" * 11, "never whsk_ private keys"),
        ("ups.api", "client-id-without-secret", "values are CLIENT_ID:CLIENT_SECRET"),
        ("ups.oauth", "short-secret", "secrets are text of at least 16 characters"),
        ("easypost.api", "key\u0007bell", "no control characters"),
    ],
)
def test_a_value_its_scheme_cannot_use_is_refused_without_echoing_it(
    run: Run, dirs: tuple[Path, Path], every: str, target: str, value: str, message: str
) -> None:
    state, _ = dirs
    code, out, err = run("secrets", "set", every, target, "--value", value)
    assert (code, out) == (2, "") and message in err and "nothing was stored" in err
    assert value not in err and "QUJD" not in err
    assert not (state / "secrets.json").exists()


@pytest.mark.parametrize(
    ("target", "value"),
    [
        ("standard_webhooks", "whsec_" + "QUJD" * 8),  # exactly 24 bytes: the spec's floor
        ("ups.api", "client-id:client-secret"),
        ("ups.oauth", "x" * 16),
        ("seventeentrack.api", "api-key-1"),
    ],
)
def test_a_value_its_scheme_can_use_is_stored(
    run: Run, dirs: tuple[Path, Path], every: str, target: str, value: str
) -> None:
    code, _, err = run("secrets", "set", every, target, "--value", value)
    assert code == 0, err
    assert secret_values(dirs[0], every, target) == [value]


def test_a_generic_partner_secret_takes_its_declared_form(
    run: Run, dirs: tuple[Path, Path], slots: str
) -> None:
    code, _, err = run("secrets", "set", slots, "parcelpal", "--value", "not-base64!")
    assert code == 2 and "parcelpal secrets are whsec_ followed by base64" in err
    code, _, err = run("secrets", "set", slots, "parcelpal", "--generate")
    assert code == 0, err
    assert secret_values(dirs[0], slots, "parcelpal")[0].startswith("whsec_")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("ups.oauth", "carrier 'ups' is not enabled for tenant 'slots'"),
        ("fedex.oauth", "carrier 'fedex' is not enabled"),
        ("shippo.HMAC", "is not CARRIER or CARRIER.SLOT"),
        ("shippo.", "is not CARRIER or CARRIER.SLOT"),
        ("shippo.hmac.x", "is not CARRIER or CARRIER.SLOT"),
    ],
)
def test_a_slot_needs_its_base_carrier_enabled_and_a_good_name(
    run: Run, dirs: tuple[Path, Path], slots: str, target: str, message: str
) -> None:
    state, _ = dirs
    code, _, err = run("secrets", "set", slots, target, "--value", "some-secret-value")
    assert code == 2 and message in err and "some-secret-value" not in err
    assert not (state / "secrets.json").exists()


# --- keys --------------------------------------------------------------------------


def test_keys_issue_list_revoke(run: Run, dirs: tuple[Path, Path]) -> None:
    state, _ = dirs
    code, out, err = run("keys", "issue", "demo")
    assert code == 0
    key = out.strip()
    assert key.startswith("wb_") and "will not be shown again" in err
    prefix = key[:8]
    assert LocalApiKeyStore(state).resolve(key) == "demo"
    code, out, err = run("keys", "list", "demo")
    assert code == 0 and prefix in out and "active" in out and key not in out + err
    code, out, _ = run("keys", "revoke", "demo", prefix)
    assert code == 0 and key not in out
    assert LocalApiKeyStore(state).resolve(key) is None
    code, out, _ = run("keys", "list", "demo")
    assert "revoked" in out
    code, _, err = run("keys", "revoke", "demo", prefix)
    assert code == 2 and "no active API key" in err
    entries = audit_lines(state)
    assert [e["action"] for e in entries] == ["key.issue", "key.revoke"]
    assert all(e["target"] == prefix for e in entries)
    assert key not in (state / "audit.jsonl").read_text()
    assert key not in (state / "api_keys.json").read_text()


def test_keys_issue_needs_a_known_tenant(run: Run, dirs: tuple[Path, Path]) -> None:
    state, _ = dirs
    code, out, err = run("keys", "issue", "nobody")
    assert code == 2 and "unknown tenant" in err and out == ""
    assert not (state / "api_keys.json").exists()


def test_keys_list_of_an_unknown_tenant_is_an_error_a_removed_ones_keys_still_list(
    run: Run, dirs: tuple[Path, Path]
) -> None:
    _, tenants = dirs
    code, out, err = run("keys", "list", "dmeo")
    assert (code, out) == (2, "") and "unknown tenant 'dmeo' (no " in err
    assert run("keys", "list", "other")[:2] == (0, "no API keys for other\n")  # known, none yet
    assert run("keys", "issue", "other")[0] == 0
    (tenants / "other.toml").unlink()  # removed: its keys still list (and can be revoked)
    code, out, _ = run("keys", "list", "other")
    assert code == 0 and "active" in out


def test_keys_of_another_tenant_cannot_be_revoked(run: Run) -> None:
    code, out, _ = run("keys", "issue", "demo")
    prefix = out.strip()[:8]
    code, _, err = run("keys", "revoke", "other", prefix)
    assert code == 2 and "no active API key" in err
