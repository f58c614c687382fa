"""Tenant files: the model, the loader and its error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.tenancy.tenants import (
    TenantConfig,
    TenantConfigError,
    is_tenant_id,
    load_tenant,
    load_tenants,
)

REPO_TENANTS = Path(__file__).resolve().parents[2] / "tenants"

GOOD = """
name = "Acme"
plan = "pro"
retention_days = 30

[carriers.easypost]

[carriers.ups]
enabled = false

[carriers.aftership.options]
region = "eu"
batch = 10
sandbox = true
"""


def write(directory: Path, tenant_id: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{tenant_id}.toml"
    path.write_text(text)
    return path


def test_demo_tenant_in_repository_is_valid() -> None:
    demo = load_tenant(REPO_TENANTS, "demo")
    assert demo is not None
    assert demo.id == "demo"
    assert demo.retention_days == 90
    from gateway.carriers.discovery import load_adapters

    assert demo.enabled_carriers() == sorted(load_adapters().adapters)  # the demo has them all
    assert "demo" in load_tenants(REPO_TENANTS)


def test_load_reads_fields_and_takes_the_id_from_the_file_name(tmp_path: Path) -> None:
    write(tmp_path, "acme-eu", GOOD)
    config = load_tenant(tmp_path, "acme-eu")
    assert config is not None
    assert (config.id, config.name, config.plan, config.retention_days) == (
        "acme-eu",
        "Acme",
        "pro",
        30,
    )
    assert config.carrier_enabled("easypost")
    assert not config.carrier_enabled("ups")  # present but disabled
    assert not config.carrier_enabled("fedex")  # absent
    assert config.carriers["aftership"].options == {"region": "eu", "batch": 10, "sandbox": True}


def test_defaults(tmp_path: Path) -> None:
    write(tmp_path, "tiny", 'name = "Tiny"\n')
    config = load_tenant(tmp_path, "tiny")
    assert config is not None
    assert (config.plan, config.retention_days, config.carriers) == ("standard", 90, {})


def test_missing_tenant_is_none(tmp_path: Path) -> None:
    assert load_tenant(tmp_path, "nobody") is None
    assert load_tenant(tmp_path / "no-such-dir", "nobody") is None


@pytest.mark.parametrize("bad_id", ["../x", "..", "x", "Demo", "-x", "a/b", "a.b", "a" * 64, ""])
def test_bad_ids_never_touch_the_file_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_id: str
) -> None:
    write(tmp_path, "x", 'name = "outside"\n')  # what ../x would reach from tmp_path/inner
    touched: list[Path] = []

    def spy(self: Path) -> bool:
        touched.append(self)
        return True

    monkeypatch.setattr(Path, "is_file", spy)
    assert load_tenant(tmp_path / "inner", bad_id) is None
    assert touched == []
    assert not is_tenant_id(bad_id)


def test_extra_field_is_named_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "demo", 'name = "D"\n[carriers.easypost]\nenabld = true\n')
    with pytest.raises(TenantConfigError) as caught:
        load_tenant(tmp_path, "demo")
    assert str(caught.value) == f"{path}: carriers.easypost.enabld: extra inputs are not permitted"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('name = "D"\nretention_days = 0\n', "retention_days"),
        ('name = "D"\nretention_days = 3651\n', "retention_days"),
        ('name = "D"\nretention_days = "90"\n', "retention_days"),
        ("retention_days = 30\n", "name"),
        ('name = "D"\nplan = "Gold Plan"\n', "plan"),
        ('name = "D"\n[carriers.easypost]\nenabled = "yes"\n', "carriers.easypost.enabled"),
        ('name = "D"\n[carriers.easypost.options]\nratio = 1.5\n', "carriers.easypost.options"),
        ('name = "D"\n[carriers."Bad-Carrier"]\n', "carriers.Bad-Carrier"),
        ('name = "D"\napi_key = "wb_x"\n', "api_key"),
    ],
)
def test_invalid_values_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, "demo", text)
    with pytest.raises(TenantConfigError) as caught:
        load_tenant(tmp_path, "demo")
    assert str(caught.value).startswith(f"{path}: {field}")


def test_id_inside_the_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "demo", 'id = "other"\nname = "D"\n')
    with pytest.raises(TenantConfigError, match=r"demo\.toml: id: is taken from the file name"):
        load_tenant(tmp_path, "demo")


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, "demo", "name = \n")
    with pytest.raises(TenantConfigError, match=r"demo\.toml: invalid TOML"):
        load_tenant(tmp_path, "demo")


def test_load_tenants_reads_every_file_and_ignores_others(tmp_path: Path) -> None:
    write(tmp_path, "alpha", 'name = "A"\n')
    write(tmp_path, "beta", 'name = "B"\n')
    (tmp_path / "README.md").write_text("# not a tenant\n")
    assert sorted(load_tenants(tmp_path)) == ["alpha", "beta"]


def test_load_tenants_rejects_a_bad_file_name(tmp_path: Path) -> None:
    write(tmp_path, "Bad_Name", 'name = "A"\n')
    with pytest.raises(TenantConfigError, match=r"Bad_Name\.toml: file name is not a valid"):
        load_tenants(tmp_path)


def test_load_tenants_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(TenantConfigError, match="no such tenants directory"):
        load_tenants(tmp_path / "missing")


def test_model_is_frozen() -> None:
    config = TenantConfig(id="demo", name="D")
    with pytest.raises(ValidationError):
        config.name = "other"  # type: ignore[misc]


# --- the wildcard, and carriers nobody discovered ------------------------------------

WILDCARD = """
name = "Every carrier"

[carriers."*"]
enabled = true

[carriers.ups]
enabled = false

[carriers.aftership.options]
region = "eu"
"""


def test_the_wildcard_enables_every_discovered_adapter_and_explicit_tables_win(
    tmp_path: Path,
) -> None:
    from gateway.carriers.discovery import load_adapters

    write(tmp_path, "every", WILDCARD)
    config = load_tenant(tmp_path, "every")
    assert config is not None
    discovered = sorted(load_adapters().adapters)
    assert sorted(config.carriers) == discovered  # expanded: each carrier is named
    assert config.enabled_carriers() == [c for c in discovered if c != "ups"]
    assert not config.carrier_enabled("ups")  # an explicit table overrides the wildcard
    assert config.carriers["aftership"].options == {"region": "eu"}
    assert config.carriers["easypost"].options == {}  # default options
    assert not config.carrier_enabled("nosuch")
    bare = TenantConfig(id="bare", name="B", carriers={"*": {}})  # enabled is the default
    assert bare.enabled_carriers() == discovered


def test_the_wildcard_never_implies_a_generic_partner(tmp_path: Path) -> None:
    generic = (REPO_TENANTS.parent / "tests/fixtures/tenants/genericco.toml").read_text()
    write(tmp_path, "mixed", generic + '\n[carriers."*"]\n')
    config = load_tenant(tmp_path, "mixed")
    assert config is not None
    assert config.carriers["parcelpal"].generic is not None
    assert "parcelpal" not in TenantConfig(id="only", name="O", carriers={"*": {}}).carriers


@pytest.mark.parametrize(
    "table",
    [
        '[carriers."*"]\nenabled = false\n',
        '[carriers."*".options]\nregion = "eu"\n',
        '[carriers."*"]\nenabled = 1\n',
        '[carriers."*".generic]\nlabel = "x"\n',
    ],
)
def test_the_wildcard_takes_only_enabled_true(tmp_path: Path, table: str) -> None:
    path = write(tmp_path, "demo", 'name = "D"\n' + table)
    with pytest.raises(TenantConfigError) as caught:
        load_tenant(tmp_path, "demo")
    assert str(caught.value).startswith(f'{path}: carriers: value error, "*": the wildcard')


def test_a_carrier_nobody_discovered_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "demo", 'name = "D"\n[carriers.easypost]\n[carriers.easypots]\n')
    with pytest.raises(TenantConfigError) as caught:
        load_tenant(tmp_path, "demo")
    message = str(caught.value)
    assert message.startswith(f"{path}: carriers: value error, easypots: no adapter")
    assert "[carriers.easypots.generic]" in message
    disabled = 'name = "D"\n[carriers.easypots]\nenabled = false\n'  # a typo all the same
    write(tmp_path, "other", disabled)
    with pytest.raises(TenantConfigError, match="easypots: no adapter of that id"):
        load_tenant(tmp_path, "other")


def test_an_entry_point_adapter_counts_as_discovered(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from gateway.tenancy import tenants

    point = EntryPoint(name="outoftree", value="outoftree:ADAPTER", group="waybill.adapters")
    monkeypatch.setattr(tenants, "entry_points", lambda group: [point])
    tenants.discovered_carriers.cache_clear()
    try:
        config = TenantConfig(id="ep", name="E", carriers={"outoftree": {}})
        assert config.enabled_carriers() == ["outoftree"]
        assert "outoftree" in TenantConfig(id="ep", name="E", carriers={"*": {}}).carriers
    finally:
        tenants.discovered_carriers.cache_clear()
