"""``waybill adapters new``: the skeleton is complete, fails its own test until filled in,
and once filled in is served by the gateway like any adapter.

Scaffolding targets a temporary root (``--root``) holding the ``adapters`` package; the
generated test runs there in a child pytest, with that root first on ``sys.path``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from gateway.carriers.adapter import Delivery
from gateway.cli import main
from gateway.ingest.normalise import to_canonical
from gateway.tenancy.directory import TenantDirectory
from gateway.testkit.harness import moto_harness

REPO = Path(__file__).resolve().parents[2]
NAME = "acme_post"
FILES = (
    f"adapters/{NAME}.py",
    f"tests/fixtures/{NAME}/example.json",
    f"tests/fixtures/{NAME}/example.meta.json",
    f"tests/fixtures/{NAME}/example.expected.json",
    f"tests/adapters/test_{NAME}.py",
)
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
BODY = (
    b'{"id": "dlv_1", "tracking": "AP123", "code": "DELIVERED",'
    b' "at": "2024-12-31T16:00:00-05:00", "text": "Left at front door"}'
)
FILLED_PARSE = '''def parse(delivery: Delivery) -> ParseResult:
    """Read one scan: ``{id, tracking, code, at, text}``."""
    body = load_object(delivery.body)
    code = required_text(body, "code", "body")
    occurred_at, tz_source, local = parse_instant(required_text(body, "at", "body"))
    event = ParsedEvent(
        tracking_number=required_text(body, "tracking", "body"),
        status=map_status(STATUS_MAP, code),
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=code,
        carrier_text=text(body.get("text")),
    )
    return ParseResult(events=[event], delivery_id=text(body.get("id")))


'''


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A temporary checkout: just the ``adapters`` package."""
    (tmp_path / "adapters").mkdir()
    shutil.copy(REPO / "adapters" / "__init__.py", tmp_path / "adapters" / "__init__.py")
    return tmp_path


def new(capsys: pytest.CaptureFixture[str], root: Path, name: str) -> tuple[int, str]:
    code = main(["adapters", "new", name, "--root", str(root)])
    out, err = capsys.readouterr()
    return code, out + err


def generated_test(root: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(root), str(REPO)])}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--rootdir", str(root), f"tests/adapters/test_{NAME}.py"]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"waybill_scaffolded_{NAME}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_skeleton_is_complete_and_lint_clean(
    capsys: pytest.CaptureFixture[str], root: Path
) -> None:
    code, out = new(capsys, root, NAME)
    assert code == 0, out
    assert f"you edit adapters/{NAME}.py and tests/fixtures/{NAME}/ only" in out  # next steps
    assert "waybill adapters docs" in out and '[carriers."*"]' in out
    for relative in FILES:
        path = root / relative
        assert path.is_file() and relative in out
        if path.suffix == ".py":
            compile(path.read_text("utf-8"), str(path), "exec")
        else:
            json.loads(path.read_text("utf-8"))
    module = load(root / FILES[0])
    assert module.ADAPTER.id == NAME and module.ADAPTER.status_map is module.STATUS_MAP
    assert module.ADAPTER.scheme.kind == "hmac"
    ruff = str(Path(sys.executable).parent / "ruff")
    config = ["--config", str(REPO / "pyproject.toml")]
    config += ["--config", "lint.isort.known-first-party = ['adapters', 'gateway']"]
    generated = [str(root / "adapters"), str(root / "tests")]
    for action in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        lint = subprocess.run([ruff, *action, *config, *generated], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_generated_test_fails_until_filled_in(
    capsys: pytest.CaptureFixture[str], root: Path
) -> None:
    assert new(capsys, root, NAME)[0] == 0
    run = generated_test(root)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "3 failed" in run.stdout  # TODOs left, no tracking fixture, example not parsed
    assert "has TODOs" in run.stdout and "TODO: parse is not written yet" in run.stdout


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("AcmePost", "not a valid adapter name"),
        ("1post", "not a valid adapter name"),
        ("acme-post", "not a valid adapter name"),
        ("_helper", "not a valid adapter name"),
        ("x", "too short for an adapter name: at least 2 characters"),
        ("acme_", "no trailing or double _"),
        ("acme__post", "no trailing or double _"),
        ("class", "Python keyword"),
        ("easypost", "already loaded"),
    ],
)
def test_invalid_or_taken_names_are_refused(
    capsys: pytest.CaptureFixture[str], root: Path, name: str, why: str
) -> None:
    code, out = new(capsys, root, name)
    assert code == 2 and why in out
    assert sorted(p.name for p in root.rglob("*")) == ["__init__.py", "adapters"]


def test_an_existing_adapter_is_never_overwritten(
    capsys: pytest.CaptureFixture[str], root: Path
) -> None:
    assert new(capsys, root, NAME)[0] == 0
    module = root / FILES[0]
    module.write_text("# my work\n")
    code, out = new(capsys, root, NAME)
    assert code == 2 and "is taken" in out and f"adapters/{NAME}.py" in out
    assert module.read_text() == "# my work\n"


def test_a_root_without_the_adapters_package_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = new(capsys, tmp_path, NAME)
    assert code == 2 and "not a Waybill checkout" in out
    assert list(tmp_path.iterdir()) == []


def fill_in(root: Path) -> ModuleType:
    """What the engineer does: a real parse and scheme, a real body, its expected events."""
    path = root / FILES[0]
    source = re.sub(r"def parse\(.*?\n\n\n", lambda _: FILLED_PARSE, path.read_text(), flags=re.S)
    source = source.replace(
        "from gateway.carriers.adapter import Adapter, Delivery, ParseResult\n",
        "from gateway.carriers.adapter import (\n"
        "    Adapter, Delivery, ParsedEvent, ParseResult, map_status,\n"
        ")\n"
        "from gateway.carriers.payload import load_object, required_text, text\n"
        "from gateway.carriers.timeparse import parse_instant\n",
    )
    source = source.replace("X-TODO-Signature", "X-Acme-Signature").replace("TODO", "Done")
    path.write_text(source)
    fixtures = root / "tests" / "fixtures" / NAME
    (fixtures / "example.json").write_bytes(BODY)
    meta = {"source": "synthetic, for the scaffold test", "synthetic": True, "test_vector": None}
    (fixtures / "example.meta.json").write_text(json.dumps(meta))
    module = load(path)
    (fixtures / "example.expected.json").write_text(json.dumps(expected_of(module, BODY)))
    return module


def expected_of(module: ModuleType, body: bytes) -> dict[str, object]:
    """What the filled-in adapter makes of ``body``: the ``.expected.json`` an engineer writes."""
    result = module.ADAPTER.parse(Delivery("acme", NAME, body, {}, NOW))
    events = [
        to_canonical(
            e, tenant="acme", carrier=NAME, received_at=NOW, delivery_id=result.delivery_id
        )
        for e in result.events
    ]
    return {
        "delivery_id": result.delivery_id,
        "ignored": None,
        "events": [
            e.model_dump(mode="json", exclude={"received_at", "delivery_id"}) for e in events
        ],
    }


def test_once_filled_in_its_test_passes_and_the_gateway_serves_it(
    capsys: pytest.CaptureFixture[str], root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert new(capsys, root, NAME)[0] == 0
    module = fill_in(root)
    fixtures = root / "tests" / "fixtures" / NAME
    second = BODY.replace(b"dlv_1", b"dlv_2").replace(b"DELIVERED", b"LOST")  # unmapped
    (fixtures / "lost.json").write_bytes(second)
    (fixtures / "lost.meta.json").write_text('{"source": "synthetic"}')
    expected = expected_of(module, second)
    (fixtures / "lost.expected.json").write_text(json.dumps({**expected, "events": []}))
    run = generated_test(root)  # every fixture is checked, not only example.json
    assert run.returncode == 1 and "1 failed, 3 passed" in run.stdout, run.stdout
    assert "test_each_fixture_parses_to_its_expected_events[lost]" in run.stdout
    (fixtures / "lost.expected.json").write_text(json.dumps(expected))
    run = generated_test(root)
    assert run.returncode == 0 and "4 passed" in run.stdout, run.stdout + run.stderr
    # Served like any discovered adapter: its module is not on this process's path, so
    # tenant validation is told it was discovered.
    from gateway.tenancy import tenants as tenancy

    found = tenancy.discovered_carriers() | {NAME}
    monkeypatch.setattr(tenancy, "discovered_carriers", lambda: found)
    tenants = root / "tenants"
    tenants.mkdir()
    (tenants / "scaffoldco.toml").write_text(f'name = "Scaffold Co"\n[carriers.{NAME}]\n')
    with moto_harness(lambda: NOW) as gw:
        directory = gw.services.pipeline.tenants
        assert isinstance(directory, TenantDirectory)
        monkeypatch.setattr(directory, "directory", tenants)
        gw.services.pipeline.adapters.adapters[NAME] = module.ADAPTER
        gw.secrets.values[("scaffoldco", NAME)] = ["acme-post-test-secret"]
        headers = module.ADAPTER.sign(BODY, "acme-post-test-secret", NOW.timestamp())
        headers["content-type"] = "application/json"
        reply = gw.call("POST", f"/webhooks/scaffoldco/{NAME}", body=BODY, headers=headers)
        assert reply.status == 200 and reply.body["accepted"] == 1, reply.body
        unsigned = {"content-type": "application/json"}
        forged = gw.call("POST", f"/webhooks/scaffoldco/{NAME}", body=BODY, headers=unsigned)
        assert forged.status == 401
        shipment = gw.call("GET", "/v1/shipments/ap123", tenant="scaffoldco").body
    [state] = shipment["shipments"]
    assert (state["carrier"], state["status"]) == (NAME, "delivered")
    assert state["last_event_at"].startswith("2024-12-31T21:00:00")
