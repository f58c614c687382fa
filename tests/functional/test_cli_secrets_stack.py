"""``waybill secrets … --stack`` and ``waybill keys … --stack`` on moto's AWS.

The same commands as locally, against the stack's Secrets Manager: the names the
Lambda reads, ``AWSCURRENT`` always, values masked unless ``--reveal``, every change
audited in the stack's table (nothing in the local state dir), and a rotated-out secret
valid through the Lambda's cache until its expiry, then refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gateway.audit.change_table import TableChangeLog
from gateway.aws.secret_store import SecretsManagerStore
from gateway.aws.secrets import (
    CACHE_SECONDS,
    SecretsManagerProvider,
    plan_key_secret_id,
    stack_prefix,
)
from gateway.cli import main
from gateway.store.table import ensure_table
from gateway.tenancy.keysets import MIN_GRACE, KeySet, new_keyset

DEMO = """
name = "Demo"
[carriers.easypost]
[carriers.shippo]
[carriers.aftership]
"""
OLD, NEW = "old-partner-secret-0001", "new-partner-secret-0002"

Run = Callable[..., tuple[int, str, str]]


STACKS = ("prod", "p")


@pytest.fixture
def sm() -> Iterator[Any]:
    with mock_aws():
        for stack in STACKS:
            ensure_table(boto3.client("dynamodb"), f"waybill-{stack}")
        yield boto3.client("secretsmanager")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def run(sm: Any, tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "demo.toml").write_text(DEMO)
    (tenants / "demo-eu.toml").write_text('name = "Demo EU"\n[carriers.easypost]\n')

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--tenants-dir", str(tenants), "--state-dir", str(state)])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def current(sm: Any, name: str) -> KeySet:
    response = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    return KeySet.model_validate_json(response["SecretString"])


def audit(state: Path) -> list[dict[str, Any]]:
    """The tenant's changes in the stacks' tables, oldest first (none in the state dir)."""
    assert not (state / "audit.jsonl").exists()
    since = datetime.now(UTC) - timedelta(hours=1)
    found = [
        change.document()
        for stack in STACKS
        for change in TableChangeLog(boto3.client("dynamodb"), f"waybill-{stack}").read(
            "demo", since=since
        )
    ]
    return sorted(found, key=lambda entry: entry["at"])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_secret_names_are_the_ones_the_lambda_reads(run: Run, sm: Any) -> None:
    assert run("secrets", "set", "demo", "easypost", "--value", OLD, "--stack", "prod")[0] == 0
    assert run("secrets", "set", "demo", "shippo.hmac", "--value", NEW, "--stack", "prod")[0] == 0
    names = sorted(s["Name"] for s in sm.list_secrets()["SecretList"])
    assert names == ["waybill/prod/demo/easypost", "waybill/prod/demo/shippo.hmac"]
    provider = SecretsManagerProvider(prefix=stack_prefix("prod"), client=sm)
    assert provider.secret_id("demo", "easypost") == "waybill/prod/demo/easypost"
    assert plan_key_secret_id(stack_prefix("prod"), "demo") == "waybill/prod/plan_keys/demo"
    assert provider.valid_secrets("demo", "shippo.hmac", datetime.now(UTC)) == [NEW]


def test_set_is_masked_unless_revealed_and_audited_without_the_value(
    run: Run, sm: Any, state: Path
) -> None:
    code, out, err = run("secrets", "set", "demo", "easypost", "--value", OLD, "--stack", "prod")
    assert code == 0 and OLD not in out + err
    assert "old-…(23 chars)" in out
    assert current(sm, "waybill/prod/demo/easypost").current.value == OLD
    code, out, _ = run("secrets", "set", "demo", "aftership", "--generate", "--stack", "prod")
    generated = current(sm, "waybill/prod/demo/aftership").current.value
    assert code == 0 and generated not in out
    assert out.rstrip().endswith("--stack prod")  # the reveal hint points at the same stack
    _, out, _ = run(
        "secrets", "set", "demo", "easypost", "--value", NEW, "--stack", "p", "--reveal"
    )
    assert NEW in out
    lines = audit(state)
    assert [line["action"] for line in lines] == ["secret.set"] * 3
    assert {line["detail"]["stack"] for line in lines} == {"prod", "p"}
    assert OLD not in json.dumps(lines) and generated not in json.dumps(lines)


def test_a_secret_the_stack_created_empty_gets_its_first_value(run: Run, sm: Any) -> None:
    sm.create_secret(Name="waybill/prod/demo/easypost")  # the stack made it, no value yet
    assert run("secrets", "set", "demo", "easypost", "--value", OLD, "--stack", "prod")[0] == 0
    assert current(sm, "waybill/prod/demo/easypost").current.value == OLD


def test_rotation_keeps_the_old_secret_through_the_cache_until_expiry(run: Run, sm: Any) -> None:
    run("secrets", "set", "demo", "easypost", "--value", OLD, "--stack", "prod")
    clock = Clock()
    lambda_view = SecretsManagerProvider(prefix=stack_prefix("prod"), client=sm, monotonic=clock)
    start = datetime.now(UTC)
    assert lambda_view.valid_secrets("demo", "easypost", start) == [OLD]  # cached from here
    code, out, err = run(
        "secrets", "rotate", "demo", "easypost", "--value", NEW, "--grace", "1h", "--stack", "prod"
    )
    assert code == 0 and OLD not in out + err and NEW not in out + err
    expiry = current(sm, "waybill/prod/demo/easypost").previous[0].expires_at
    assert timedelta(minutes=59) < expiry - start <= timedelta(hours=1, minutes=1)
    clock.now = CACHE_SECONDS - 1  # the Lambda still holds the old set: OLD must still verify
    assert lambda_view.valid_secrets("demo", "easypost", start) == [OLD]
    clock.now = CACHE_SECONDS + 1
    assert lambda_view.valid_secrets("demo", "easypost", start) == [NEW, OLD]
    second = expiry - timedelta(seconds=1)
    assert lambda_view.valid_secrets("demo", "easypost", second) == [NEW, OLD]
    assert lambda_view.valid_secrets("demo", "easypost", expiry) == [NEW]  # refused from expiry


def test_grace_shorter_than_the_minimum_is_refused(run: Run, sm: Any) -> None:
    run("secrets", "set", "demo", "easypost", "--value", OLD, "--stack", "prod")
    code, _, err = run(
        "secrets", "rotate", "demo", "easypost", "--value", NEW, "--grace", "5m", "--stack", "prod"
    )
    assert code == 2 and "at least 10 minutes" in err
    assert current(sm, "waybill/prod/demo/easypost").current.value == OLD


def test_grace_outlives_the_lambda_cache() -> None:
    # Lowering MIN_GRACE below the Lambda's secrets cache could drop a rotated-out secret
    # that a warm Lambda has not yet replaced: this must fail first.
    assert timedelta(seconds=CACHE_SECONDS) < MIN_GRACE
    with pytest.raises(ValueError, match="shorter than"):
        SecretsManagerProvider(cache_seconds=MIN_GRACE.total_seconds())


def test_list_is_masked_unless_revealed_and_sees_only_this_tenant(
    run: Run, sm: Any, state: Path
) -> None:
    run("secrets", "set", "demo", "easypost", "--value", OLD, "--stack", "prod")
    run("secrets", "rotate", "demo", "easypost", "--value", NEW, "--stack", "prod")
    sm.create_secret(
        Name="waybill/prod/demo-eu/easypost",
        SecretString=new_keyset("eu-secret-value-000", now=datetime.now(UTC)).model_dump_json(),
    )
    sm.create_secret(Name=plan_key_secret_id(stack_prefix("prod"), "demo"), SecretString="pk")
    sm.create_secret(Name="waybill/staging/demo/easypost", SecretString="{}")
    code, out, _ = run("secrets", "list", "demo", "--stack", "prod")
    assert code == 0 and OLD not in out and NEW not in out and "eu-secret" not in out
    assert "current   new-…(23 chars)" in out and "previous  old-…(23 chars)  valid until" in out
    assert "aftership\n  (no secret set)" in out
    _, out, _ = run("secrets", "list", "demo", "--stack", "prod", "--reveal")
    assert OLD in out and NEW in out and "eu-secret" not in out
    assert audit(state)[-1]["action"] == "secret.reveal"


def test_revoke_drops_previous_secrets_at_once(run: Run, sm: Any, state: Path) -> None:
    run("secrets", "set", "demo", "easypost", "--value", OLD, "--stack", "prod")
    run("secrets", "rotate", "demo", "easypost", "--value", NEW, "--stack", "prod")
    code, out, _ = run("secrets", "revoke", "demo", "easypost", "--stack", "prod")
    assert code == 0 and "revoked 1 previous secret(s)" in out
    assert current(sm, "waybill/prod/demo/easypost").valid_secrets(datetime.now(UTC)) == [NEW]
    assert audit(state)[-1]["action"] == "secret.revoke"
    code, _, err = run("secrets", "revoke", "demo", "aftership", "--stack", "prod")
    assert code == 2 and "no secret is set" in err


def test_a_bad_stack_name_or_an_aws_failure_is_one_line(run: Run, sm: Any) -> None:
    code, _, err = run("secrets", "list", "demo", "--stack", "../prod")
    assert code == 2 and "not a stack name" in err
    sm.create_secret(Name="waybill/prod/demo/easypost", SecretString="{broken")
    code, _, err = run("secrets", "rotate", "demo", "easypost", "--value", NEW, "--stack", "prod")
    assert code == 2 and err.count("\n") == 1 and "not a key set" in err


class ConcurrentWriter:
    """A client whose first stage move is preceded by another operator's change."""

    def __init__(self, client: Any, other: KeySet) -> None:
        self.client, self.other, self.raced = client, other, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def update_secret_version_stage(self, **kwargs: Any) -> Any:
        if not self.raced:
            self.raced = True
            body = self.other.model_dump_json()
            self.client.put_secret_value(SecretId=kwargs["SecretId"], SecretString=body)
        return self.client.update_secret_version_stage(**kwargs)


def test_two_operators_never_lose_each_others_change(sm: Any) -> None:
    now = datetime.now(UTC)
    SecretsManagerStore.for_stack("prod", sm).set("demo", "easypost", OLD, now=now)
    racing = ConcurrentWriter(sm, new_keyset("someone-elses-0003", now=now))
    store = SecretsManagerStore.for_stack("prod", racing)
    keyset = store.rotate("demo", "easypost", NEW, now=now, grace=timedelta(hours=1))
    assert racing.raced
    assert keyset.valid_secrets(now) == [NEW, "someone-elses-0003"]  # redone on their change
    assert current(sm, "waybill/prod/demo/easypost") == keyset


# --- keys on AWS -------------------------------------------------------------------------


def test_keys_list_shows_the_stacks_keys_for_this_tenant_only(run: Run) -> None:
    gateway = boto3.client("apigateway")
    value = "wb_" + "k" * 43
    mine = {"waybill:stack": "prod", "waybill:tenant": "demo"}
    gateway.create_api_key(name="waybill-prod-demo", value=value, enabled=True, tags=mine)
    gateway.create_api_key(name="waybill-prod-demo/2026-05", value="wb_" + "n" * 43, tags=mine)
    gateway.create_api_key(name="waybill-prod-demo-eu", value="wb_" + "e" * 43, enabled=True)
    gateway.create_api_key(name="waybill-staging-demo", value="wb_" + "s" * 43, enabled=True)
    lookalike = {"waybill:stack": "prod-demo", "waybill:tenant": "x"}
    gateway.create_api_key(name="waybill-prod-demo/x", value="wb_" + "l" * 43, tags=lookalike)
    code, out, _ = run("keys", "list", "demo", "--stack", "prod")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["waybill-prod-demo", "waybill-prod-demo/2026-05"]
    assert lines[0].endswith("enabled  value hidden") and "disabled" in lines[1]
    assert "wb_" not in out
    code, out, _ = run("keys", "list", "nobody", "--stack", "prod")
    assert code == 0 and "no API keys for nobody in stack prod" in out


@pytest.mark.parametrize("action", [["issue", "demo"], ["revoke", "demo", "wb_abcde"]])
def test_keys_issue_and_revoke_point_at_the_stack(run: Run, action: list[str]) -> None:
    code, out, err = run("keys", *action, "--stack", "prod")
    assert code == 2 and out == ""
    assert "come from the stack" in err and "pulumi up" in err and "waybill-prod-demo" in err


def test_a_change_the_stack_cannot_audit_says_it_was_done(run: Run, sm: Any) -> None:
    """No table ``waybill-gone``: the secret is set, and the command says it is unaudited."""
    code, out, err = run("secrets", "set", "demo", "easypost", "--value", OLD, "--stack", "gone")
    assert code == 1 and current(sm, "waybill/gone/demo/easypost").current.value == OLD
    assert "secret.set demo/easypost was done but not audited: table waybill-gone" in err
    assert "(change_not_audited)" in err and OLD not in out + err
