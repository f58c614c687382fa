"""``waybill trackers …`` and ``waybill pollers …`` (moto DynamoDB, the loopback carrier
API): the commands reach the services of a running server (here built over moto, in
place of ``serve.json``'s), print one line per tracker and per check, refresh one now
or queue several first, audit changes, report polling per tenant and carrier, and fail
with one clean line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from gateway.cli import main, pollers_cmd, trackers_cmd
from gateway.notify.addresses import AddressPolicy
from gateway.services import Services, build_services
from gateway.store.table import ensure_table
from gateway.testkit.carrier_api import CarrierApi, SimEvent
from gateway.testkit.harness import DictSecrets

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
UPS1, UPS2 = "1Z999AA10123456784", "1Z999AA10123456785"
BUDGET = 6
Run = Callable[..., tuple[int, str, str]]
INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture
def api() -> Iterator[CarrierApi]:
    with CarrierApi(clock=NOW.timestamp) as api:
        for number in (UPS1, UPS2):
            api.add("ups", number, [SimEvent("in_transit", NOW - timedelta(hours=5))])
        yield api


@pytest.fixture
def tenants(tmp_path: Path, api: CarrierApi) -> Path:
    directory = tmp_path / "tenants"
    directory.mkdir()
    (directory / "acme.toml").write_text(
        'name = "Acme (trackers CLI test)"\nretention_days = 30\n'
        f'[carriers.ups.polling]\ndaily_budget = {BUDGET}\napi_base_url = "{api.base_url("ups")}"\n'
    )
    (directory / "globex.toml").write_text('name = "Globex"\n[carriers.ups]\n')
    return directory


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch, tenants: Path, api: CarrierApi) -> Iterator[Services]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        ensure_table(client, "waybill-test")
        built = build_services(
            dynamodb=client,
            table_name="waybill-test",
            tenants_dir=tenants,
            secrets=DictSecrets({("acme", "ups.api"): [api.slot_value("ups")]}),
            count=lambda name, value=1: None,
            clock=lambda: NOW,
            address_policy=AddressPolicy(allow_insecure=True),
        )
        for module in (trackers_cmd, pollers_cmd):
            monkeypatch.setattr(module, "running", lambda args: built)
        yield built


@pytest.fixture
def run(
    services: Services, tmp_path: Path, tenants: Path, capsys: pytest.CaptureFixture[str]
) -> Run:
    def invoke(*argv: str) -> tuple[int, str, str]:
        common = ["--state-dir", str(tmp_path), "--tenants-dir", str(tenants)]
        code = main([*argv, *common])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_add_list_show_and_the_audit(run: Run, tmp_path: Path) -> None:
    code, out, _ = run("trackers", "add", "acme", "1z999aa1012345678 4", "--carrier", "ups")
    line = f"{UPS1} ups  active  unknown  checks=0  next=2025-06-02T12:00:00Z"
    assert (code, out) == (0, f"added {line}\n")
    assert (
        run("trackers", "add", "acme", UPS1, "--carrier", "ups")[1] == f"already tracked {line}\n"
    )
    run("trackers", "add", "acme", UPS2, "--carrier", "ups")
    assert run("trackers", "list", "acme")[1].splitlines() == [
        line,
        line.replace(UPS1, UPS2),
    ]
    code, _, err = run("trackers", "list", "acme", "--carrier", "upss")
    assert code == 2 and "unknown_carrier" in err  # a typo is not "no trackers"
    code, out, _ = run("trackers", "list", "acme", "--carrier", "ups", "--limit", "1")
    assert code == 0 and out.splitlines()[0] == line
    (position,) = re.findall(r"\(more: --after (\S+)\)", out)
    code, out, _ = run("trackers", "list", "acme", "--limit", "1", "--after", position)
    assert out.splitlines()[0] == line.replace(UPS1, UPS2)
    assert (
        run("trackers", "list", "acme", "--state", "retired")[1] == "no retired trackers for acme\n"
    )
    code, out, _ = run("trackers", "show", "acme", UPS1, "--carrier", "ups")
    assert (code, out) == (0, f"{line}\ncreated 2025-06-02T12:00:00Z\nno checks yet\n")
    entries = [json.loads(e) for e in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(e["action"], e["tenant"], e["target"]) for e in entries] == [
        ("tracker.add", "acme", UPS1),
        ("tracker.add", "acme", UPS2),
    ]


def test_refresh_one_now_and_several_first(run: Run, api: CarrierApi) -> None:
    for number in (UPS1, UPS2):
        run("trackers", "add", "acme", number, "--carrier", "ups")
    code, out, _ = run("trackers", "refresh", "acme", UPS1, "--carrier", "ups")
    checked, tracker = out.splitlines()
    assert code == 0
    assert re.fullmatch(
        rf"checked: {INSTANT}  refresh  http=200  \d+ms  \+1 events  status changed", checked
    ), checked
    assert tracker.startswith(
        f"{UPS1} ups  active  in_transit  checks=1  last=2025-06-02T12:00:00Z (poll)"
    )
    code, out, _ = run("trackers", "show", "acme", UPS1, "--carrier", "ups")
    assert out.splitlines()[2:] == ["recent checks (1):", "  " + checked.removeprefix("checked: ")]
    api.wrong("ups", kind="shape", endpoint="/api/track")
    code, out, _ = run("trackers", "refresh", "acme", UPS1, "--carrier", "ups")
    assert code == 1 and "  error=" in out.splitlines()[0] and "failures=1" in out
    code, out, _ = run("trackers", "refresh", "acme", UPS1, UPS2.lower(), UPS1, "--carrier", "ups")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "queued 2 trackers first for the next pass:"
    assert [line.split()[0] for line in lines[1:]] == [UPS1, UPS2]
    assert all("next=2025-06-02T12:00:00Z" in line for line in lines[1:])


def test_remove_then_refresh_is_refused_and_a_spent_budget_says_when(run: Run) -> None:
    run("trackers", "add", "acme", UPS1, "--carrier", "ups")
    code, out, _ = run("trackers", "remove", "acme", UPS1, "--carrier", "ups")
    assert code == 0 and out.startswith(f"removed {UPS1} ups  retired  unknown")
    assert out.rstrip().endswith("retired: removed")
    code, out, err = run("trackers", "refresh", "acme", UPS1, "--carrier", "ups")
    assert (code, out) == (2, "")
    assert err == "waybill: the tracker is retired; add it again to poll it (tracker_retired)\n"
    run("trackers", "add", "acme", UPS2, "--carrier", "ups")
    for _ in range(BUDGET):
        code, out, err = run("trackers", "refresh", "acme", UPS2, "--carrier", "ups")
        if code == 2:
            break
    assert err == (
        "waybill: today's poll budget is spent (poll_budget_spent): it renews at 00:00 UTC, "
        "in 12.0h\n"
    )


def test_pollers_status_and_log(run: Run, tenants: Path) -> None:
    code, out, _ = run("pollers", "status")
    assert (code, out) == (0, f"acme  ups  due=0 overdue=0 failing=0  budget=0/{BUDGET} today\n")
    run("trackers", "add", "acme", UPS1, "--carrier", "ups")
    run("trackers", "add", "acme", UPS2, "--carrier", "ups")
    run("trackers", "refresh", "acme", UPS1, "--carrier", "ups")
    code, out, _ = run("pollers", "status", "acme")
    assert re.fullmatch(rf"acme  ups  due=1 overdue=0 failing=0  budget=[12]/{BUDGET} today\n", out)
    assert run("pollers", "status", "globex")[1] == "globex  polls no carrier\n"
    (tenants / "broken.toml").write_text('name = "B"\nretention = 30\n')  # one bad file
    code, out, err = run("pollers", "status")
    assert code == 0 and out.startswith("acme  ups  due=1 ")  # the others still reported
    assert "broken.toml: retention: extra inputs are not permitted" in err
    code, out, _ = run("pollers", "log", "acme", UPS1.lower(), "--carrier", "ups")
    assert code == 0 and re.fullmatch(
        rf"{INSTANT}  refresh  http=200  \d+ms  \+1 events  status changed\n", out
    )
    assert run("pollers", "log", "acme", UPS2, "--carrier", "ups")[1] == (
        f"no checks of {UPS2} ups for acme on 2025-06-02\n"
    )
    code, out, _ = run("pollers", "log", "acme", UPS1, "--carrier", "ups", "--day", "2025-06-01")
    assert out == f"no checks of {UPS1} ups for acme on 2025-06-01\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("trackers", "add", "nobody", UPS1, "--carrier", "ups"), "unknown tenant 'nobody'"),
        (
            ("trackers", "add", "acme", "1Z#1", "--carrier", "ups"),
            "'1Z#1': tracking number may hold only",
        ),
        (("trackers", "add", "acme", UPS1, "--carrier", "UPS"), "'UPS' is not a carrier id"),
        (("trackers", "add", "globex", UPS1, "--carrier", "ups"), "(polling_not_configured)"),
        (
            ("trackers", "show", "acme", UPS1, "--carrier", "ups"),
            "no such tracker (tracker_not_found)",
        ),
        (("trackers", "remove", "acme", UPS1, "--carrier", "ups"), "(tracker_not_found)"),
        (("trackers", "refresh", "acme", UPS1, UPS2, "--carrier", "ups"), "(tracker_not_found)"),
        (("trackers", "list", "acme", "--limit", "0"), "--limit is 1..100"),
        (("trackers", "list", "acme", "--after", "nope"), "--after 'nope' is not a position"),
        (
            ("pollers", "log", "acme", UPS1, "--carrier", "ups", "--limit", "101"),
            "--limit is 1..100",
        ),
        (("pollers", "log", "acme", UPS1, "--carrier", "ups", "--day", "June"), "is not a date"),
        (("pollers", "status", "nobody"), "unknown tenant 'nobody'"),
    ],
)
def test_errors_are_one_clean_line(run: Run, argv: tuple[str, ...], message: str) -> None:
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("waybill: ") and message in err, err


def test_without_a_running_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenants = Path(__file__).resolve().parents[1] / "fixtures" / "tenants"
    for argv in (["trackers", "list", "acme"], ["pollers", "status"]):
        assert main([*argv, "--state-dir", str(tmp_path), "--tenants-dir", str(tenants)]) == 2
        assert capsys.readouterr().err == (
            f"waybill: no running `waybill serve` with --state-dir {tmp_path}: start it with "
            f"`waybill serve --state-dir {tmp_path}` (`make run` serves .waybill)\n"
        )
