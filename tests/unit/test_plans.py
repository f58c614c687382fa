"""Plan tiers: ``plans.toml``, its model and error messages, and tenants naming a tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.tenancy.plans import PLANS_FILE, PlanConfigError, current_plans, load_plans
from gateway.tenancy.tenants import TenantConfig, TenantConfigError, load_tenant, load_tenants

ROOT = Path(__file__).resolve().parents[2]
TIER = 'rate = 1\nburst = 5\nquota = 100\nquota_period = "day"\nhard_cap = 200\n'


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_repository_tiers_are_valid_and_sane() -> None:
    plans = load_plans(PLANS_FILE)
    assert {"free", "standard", "pro"} <= set(plans)
    assert TenantConfig.model_fields["plan"].default in plans  # the default names a tier
    for tier in plans.values():
        assert tier.burst >= tier.rate  # at least one second's worth at once
        assert tier.hard_cap <= tier.rate * 86_400  # the cap is below what the rate lets in
    free, standard, pro = plans["free"], plans["standard"], plans["pro"]
    assert free.rate < standard.rate < pro.rate
    assert free.hard_cap < standard.hard_cap < pro.hard_cap


@pytest.mark.parametrize("directory", ["tenants", "tests/fixtures/tenants"])
def test_every_tenant_file_in_the_repository_names_a_known_tier(directory: str) -> None:
    tenants = load_tenants(ROOT / directory)
    assert tenants
    plans = load_plans(PLANS_FILE)
    assert all(config.plan in plans for config in tenants.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"[free]\n{TIER}colour = 1\n", "free.colour: extra inputs are not permitted"),
        (f"[free]\n{TIER}".replace("rate = 1", "rate = 0"), "free.rate: input should be greater"),
        (f"[free]\n{TIER}".replace("rate = 1", 'rate = "1"'), "free.rate: input should be"),
        (f"[free]\n{TIER}".replace('"day"', '"week"'), "free.quota_period: input should be"),
        (f"[free]\n{TIER}".replace("hard_cap = 200\n", ""), "free.hard_cap: field required"),
        (f"[free]\n{TIER}".replace("quota = 100", "quota = 2"), "free: value error, quota must"),
        (
            f"[free]\n{TIER}".replace("hard_cap = 200", "hard_cap = 50"),
            "free: value error, hard_cap must let the quota be reached in one day",
        ),
        (f'["Gold Tier"]\n{TIER}', "Gold Tier.[key]: string should match pattern"),
        ("", "(file): defines no plan"),
    ],
)
def test_invalid_plans_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "plans.toml", text)
    with pytest.raises(PlanConfigError) as caught:
        load_plans(path)
    assert str(caught.value).startswith(f"{path}: {message}"), str(caught.value)


def test_a_monthly_quota_must_be_reachable_under_the_daily_cap(tmp_path: Path) -> None:
    tier = TIER.replace('"day"', '"month"').replace("quota = 100", "quota = 6201")
    with pytest.raises(PlanConfigError, match="reached in one month"):
        load_plans(write(tmp_path / "plans.toml", f"[std]\n{tier}"))
    ok = load_plans(write(tmp_path / "plans.toml", f"[std]\n{tier.replace('6201', '6200')}"))
    assert ok["std"].quota == 6200


def test_broken_toml_and_a_missing_file_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(PlanConfigError, match=r"plans\.toml: invalid TOML"):
        load_plans(write(tmp_path / "plans.toml", "[free\n"))
    with pytest.raises(PlanConfigError, match=r"nope\.toml: unreadable"):
        load_plans(tmp_path / "nope.toml")


def test_a_tenant_naming_an_unknown_tier_names_its_file_and_the_field(tmp_path: Path) -> None:
    path = write(tmp_path / "acme.toml", 'name = "A"\nplan = "gold"\n')
    with pytest.raises(TenantConfigError) as caught:
        load_tenant(tmp_path, "acme")
    assert str(caught.value) == (
        f"{path}: plan: value error, unknown plan 'gold' (known: free, pro, standard)"
    )


def test_the_plans_file_can_be_moved_and_is_reread_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans = write(tmp_path / "plans.toml", f"[gold]\n{TIER}")
    monkeypatch.setenv("WAYBILL_PLANS_FILE", str(plans))
    assert list(current_plans()) == ["gold"]
    assert TenantConfig(id="acme", name="A", plan="gold").plan == "gold"
    write(plans, f"[gold]\n{TIER}\n[silver]\n{TIER}")
    os.utime(plans, ns=(1, 1))  # a different mtime whatever the file system's resolution
    assert sorted(current_plans()) == ["gold", "silver"]


def test_a_broken_plans_file_makes_tenants_invalid_naming_the_plans_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans = write(tmp_path / "plans.toml", f"[gold]\n{TIER}bogus = 1\n")
    monkeypatch.setenv("WAYBILL_PLANS_FILE", str(plans))
    write(tmp_path / "acme.toml", 'name = "A"\nplan = "gold"\n')
    with pytest.raises(TenantConfigError) as caught:
        load_tenant(tmp_path, "acme")
    assert f"plan: value error, {plans}: gold.bogus: extra inputs" in str(caught.value)


def test_tenants_show_prints_the_tier_limits(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    assert main(["tenants", "show", "demo", "--tenants-dir", str(ROOT / "tenants")]) == 0
    out = capsys.readouterr().out
    assert "limits:         rate=10/s burst=100 quota=1000000/month hard_cap=200000/day" in out
