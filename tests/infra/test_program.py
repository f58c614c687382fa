"""Program policies: the whole stack for the real tenants, outputs, stack files, entry point."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from gateway.aws.api_keys import gateway_key_name
from gateway.tenancy.tenants import load_tenants
from infra import program
from infra.settings import REPO_ROOT, StackSettings
from tests.infra.conftest import RESOURCES, fake_password
from tests.infra.helpers import resources_of

CODE = pulumi.AssetArchive({"gateway/__init__.py": pulumi.StringAsset("")})
COMPONENTS = {
    "Table",
    "PartnerSecrets",
    "Functions",
    "Api",
    "WebhookEdge",
    "TenantKeys",
    "Notify",
    "Poll",
    "Observability",
}
OUTPUTS = {
    "account",
    "base_url",
    "webhook_base_url",
    "webhook_urls",
    "api_key_ids",
    "api_key_values",
    "table_name",
    "dashboard_url",
}


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the program exports, captured instead of sent to the engine."""
    captured: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: captured.__setitem__(name, value))
    return captured


def secrecy(outputs: dict[str, Any]) -> pulumi.Output[list[Any]]:
    """``[(name, is_secret, value)]`` of every captured output, once all are resolved."""
    pairs = []
    for name, value in sorted(outputs.items()):
        output = pulumi.Output.from_input(value)
        flag = pulumi.Output.from_input(output.is_secret())
        pairs.append(pulumi.Output.all(name, flag, pulumi.Output.unsecret(output)))
    return pulumi.Output.all(*pairs)


@pulumi.runtime.test
def test_main_registers_the_whole_stack_for_the_real_tenants(exports: dict[str, Any]) -> Any:
    program.main(StackSettings.for_stack("dev"), CODE)
    tenants = load_tenants(REPO_ROOT / "tenants")

    def check(_: Any) -> None:
        components = {r.type.rsplit(":", 1)[1] for r in RESOURCES if r.type.startswith("waybill:")}
        assert components == COMPONENTS
        assert set(exports) == OUTPUTS
        key_names = {k.inputs["name"] for k in resources_of("aws:apigateway/apiKey:ApiKey")}
        assert key_names == {gateway_key_name("dev", t) for t in tenants}
        assert resources_of("aws:apigateway/stage:Stage") and resources_of(
            "aws:budgets/budget:Budget"
        )

    return secrecy(exports).apply(check)


@pulumi.runtime.test
def test_no_key_value_in_a_plain_output_and_the_values_output_is_secret(
    exports: dict[str, Any],
) -> Any:
    program.main(StackSettings.for_stack("dev", api_key_labels={"demo": ["", "next"]}), CODE)

    def check(outputs: list[Any]) -> None:
        passwords = [r.name for r in resources_of("random:index/randomPassword:RandomPassword")]
        generated = {fake_password(name) for name in passwords}
        assert len(generated) == 3  # two keys of demo, one cursor key
        by_name = {name: (secret, value) for name, secret, value in outputs}
        secret, values = by_name["api_key_values"]
        assert secret, "api_key_values must be a Pulumi secret"
        demo = gateway_key_name("dev", "demo")
        assert set(values["demo"]) == {demo, f"{demo}/next"}
        assert {v.removeprefix("wb_") for v in values["demo"].values()} <= generated
        for name, (secret, value) in by_name.items():
            if name != "api_key_values":
                shown = repr(value)
                assert not secret, name
                assert not any(g in shown for g in generated), f"{name} shows a generated value"

    return secrecy(exports).apply(check)


@pulumi.runtime.test
def test_webhook_urls_list_enabled_webhook_carriers_not_the_canonical_submit(
    exports: dict[str, Any],
) -> Any:
    program.main(StackSettings.for_stack("dev"), CODE)
    demo = load_tenants(REPO_ROOT / "tenants")["demo"]

    def check(outputs: list[Any]) -> None:
        by_name = {name: value for name, _, value in outputs}
        base, urls = by_name["webhook_base_url"], by_name["webhook_urls"]
        assert base != by_name["base_url"]  # webhooks have an edge of their own
        assert "canonical" in demo.enabled_carriers()
        expected = {c: f"{base}/webhooks/demo/{c}" for c in demo.enabled_carriers()}
        del expected["canonical"]
        assert urls["demo"] == expected
        assert by_name["api_key_ids"] == {
            "demo": {gateway_key_name("dev", "demo"): "keys-demo-key-id"}
        }
        assert by_name["table_name"] == "waybill-dev"

    return secrecy(exports).apply(check)


def test_labels_for_a_tenant_without_a_tenant_file_are_refused() -> None:
    settings = StackSettings.for_stack("dev", api_key_labels={"nobody": ["x"]})
    with pytest.raises(ValueError, match="nobody"):
        program.main(settings, CODE)


def config_keys_read() -> set[str]:
    """Every ``waybill:*`` key :meth:`StackSettings.from_config` reads."""
    source = Path(sys.modules[StackSettings.__module__].__file__ or "").read_text()
    return set(re.findall(r'config\.get\w*\("(\w+)"\)', source))


def stack_config(stack: str) -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_the_project_file_runs_infra_with_the_repository_venv() -> None:
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "waybill" and project["main"] == "infra/"
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": ".venv"}}
    assert project["description"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stack_files_set_only_keys_the_settings_read(stack: str) -> None:
    config = stack_config(stack)
    assert config["aws:region"] == "us-west-2"
    keys = {k.split(":", 1)[1] for k in config if k.startswith("waybill:")}
    assert keys <= config_keys_read(), keys - config_keys_read()
    assert config["waybill:alarmEmail"] == ""  # a placeholder: set with `pulumi config set`
    assert config.get("waybill:allowInsecureEndpoints", "false") == "false"  # never here


def test_prod_is_protected_retains_logs_has_a_waf_and_the_largest_budget() -> None:
    prod = stack_config("prod")
    assert prod["waybill:deletionProtection"] == "true"
    assert prod["waybill:logRetentionDays"] == "90"
    assert int(prod["waybill:wafRateLimit"]) > 0
    budgets = [float(stack_config(s)["waybill:monthlyBudgetUsd"]) for s in ("dev", "staging")]
    assert float(prod["waybill:monthlyBudgetUsd"]) > max(budgets)


RUNNER = textwrap.dedent(
    """
    import runpy, sys, types
    import pulumi

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            arn = f"arn:aws:x:us-west-2:123456789012:{args.name}"
            computed = ("arn", "executionArn", "invokeArn", "invokeUrl", "rootResourceId",
                        "streamArn", "url", "uuid", "apiEndpoint")
            state = {**dict.fromkeys(computed, arn), **args.inputs, "version": "1"}
            if args.typ == "random:index/randomPassword:RandomPassword":
                state["result"] = "x" * 43
            return f"{args.name}-id", state

        def call(self, args):
            return {"accountId": "123456789012", "partition": "aws", "region": "us-west-2"}, []

    pulumi.runtime.set_mocks(Mocks(), project="waybill", stack="dev", preview=False)
    # what ops set before a first `pulumi up` (docs/deploy.md)
    pulumi.runtime.set_all_config({"aws:allowedAccountIds": '["123456789012"]'})
    fake = types.ModuleType("infra.package")  # the real one builds the Lambda zip with pip
    fake.lambda_archive = lambda: pulumi.AssetArchive({})
    sys.modules["infra.package"] = fake
    # as Pulumi's host runs the program; the decorator awaits every registration
    pulumi.runtime.test(lambda: runpy.run_path(sys.argv[1], run_name="__main__"))()
    import secrets
    print("stdlib secrets:", not secrets.__file__.startswith(sys.argv[2]))
    """
)


@pytest.mark.parametrize(("cwd", "main"), [(".", "infra/"), ("infra", ".")])
def test_pulumi_can_run_the_infra_directory_as_its_program(
    tmp_path: Path, cwd: str, main: str
) -> None:
    """Run ``infra/`` the way the Python language host does: ``runpy.run_path`` from a
    script elsewhere (so the repository root is not on ``sys.path``)."""
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    done = subprocess.run(
        [sys.executable, str(runner), main, str(REPO_ROOT / "infra")],
        cwd=REPO_ROOT / cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "stdlib secrets: True" in done.stdout, done.stdout + done.stderr[-3000:]
