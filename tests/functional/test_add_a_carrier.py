"""The promise, proven: a carrier is one adapter module plus its fixtures, and nothing else.

On a copy of the repository (``git ls-files``: the working tree as it is, minus ``.git``,
``.venv``, ``.cache``, ``.waybill``, caches), an engineer's whole job is replayed:

1. ``waybill adapters new pulsetrack``, the real console script, in the copy;
2. the generated module filled in with a small real scheme none of the in-tree adapters
   has (TrackingMore-style: an HMAC of the timestamp header alone, so
   ``SignatureSpec.binds_body`` is False), a status map and a parse; the scaffolded
   fixture replaced by a real body with its ``.headers.json``, ``.meta.json`` and
   ``.expected.json``;
3. the shared suites run in the copy (a child pytest): ``tests/adapters`` with the
   generated test, the signature-bypass catalogue, the isolation matrix, the fuzz run
   (one seed) and its seed check, and the hostile-content suite on DynamoDB Local. They
   must pass, and each must have run cases of ``pulsetrack`` (by test id);
4. ``git status`` of the copy against its starting point lists only
   ``adapters/pulsetrack.py``, ``tests/fixtures/pulsetrack/`` and the generated, unedited
   ``tests/adapters/test_pulsetrack.py``: no tenant file, test list or catalogue was edited.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

import pytest

from gateway.local.dynamodb_local import ENV_INSTALL_DIR, find_install
from tests.reliability.fuzz_support import report_line

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NAME = "pulsetrack"
SKIPPED = {".git", ".venv", ".cache", ".waybill", "__pycache__", ".mypy_cache", ".ruff_cache"}
SKIPPED |= {".pytest_cache", ".hypothesis", "waybill.egg-info"}
GENERATED_TEST = f"tests/adapters/test_{NAME}.py"
ALLOWED = (f"adapters/{NAME}.py", f"tests/fixtures/{NAME}/", GENERATED_TEST)
SUITES = {  # what the child pytest runs: path -> the part of it that must exercise NAME
    "tests/adapters": "tests.adapters.test_adapters",
    GENERATED_TEST: f"tests.adapters.test_{NAME}",
    "tests/reliability/test_signature_bypass.py": "test_signature_bypass",
    "tests/functional/test_isolation_matrix.py": "test_isolation_matrix",
    "tests/reliability/test_fuzz_requests.py": "test_fuzz_requests",
    "tests/reliability/test_hostile_content.py": "test_hostile_content",
}
FUZZ_SMOKE = "tests/reliability/test_fuzz_requests.py::" + (
    "test_fuzzed_requests_never_5xx_and_refuse_with_a_known_code[2]"  # one fuzz seed of two
)
CHILD_SECONDS = 240

BODY = (
    b'{"delivery":"dlv_pt_0001","shipment":{"number":"PT20250601FR","eta":"2025-06-05"},'
    b'"scans":[{"code":"ACC","at":"2025-06-01T08:00:00+02:00","text":"Accepted at origin",'
    b'"city":"Lyon","country":"FR"},{"code":"HUB","at":"2025-06-01T21:30:00+02:00",'
    b'"text":"Departed hub","city":"Lyon","country":"FR"},{"code":"OUT",'
    b'"at":"2025-06-02T07:10:00+02:00","text":"Out for delivery","city":"Paris",'
    b'"country":"FR"}]}'
)
DOCSTRING = '''"""PulseTrack webhooks: a synthetic carrier, the proof that a carrier is a module.

Signature: HMAC-SHA256 (hex) of the ``X-Pulse-Timestamp`` header's value alone, in
``X-Pulse-Signature``, 300 s tolerance: the body is not signed (TrackingMore-style).

Payload: ``{delivery, shipment: {number, eta}, scans: [{code, at, text, city, country}]}``.
"""'''
IMPORTS = """from gateway.carriers.adapter import (
    Adapter,
    Delivery,
    ParsedEvent,
    ParseResult,
    map_status,
)
from gateway.carriers.payload import (
    as_list,
    as_object,
    country_code,
    load_object,
    location,
    required_text,
    text,
)
from gateway.carriers.timeparse import parse_instant
"""
STATUS_MAP = """STATUS_MAP: dict[str, Status] = {
    "acc": Status.INFO_RECEIVED,
    "hub": Status.IN_TRANSIT,
    "out": Status.OUT_FOR_DELIVERY,
    "dlv": Status.DELIVERED,
}
"""
PARSE = '''def _event(raw: object, number: str, eta: str | None) -> ParsedEvent:
    scan = as_object(raw, "scan")
    code = required_text(scan, "code", "scan")
    stamp = required_text(scan, "at", "scan")
    occurred_at, tz_source, local = parse_instant(stamp, "at", where="scan")
    metadata: dict[str, str] = {}
    country = country_code(scan.get("country"), metadata)
    place = {"city": text(scan.get("city")), "country": country}
    return ParsedEvent(
        tracking_number=number,
        status=map_status(STATUS_MAP, code),
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=code,
        carrier_text=text(scan.get("text")),
        location=location(place),
        estimated_delivery=eta,
        metadata=metadata,
    )


def parse(delivery: Delivery) -> ParseResult:
    """Every scan is an event of the shipment; no scan: ignored, with the reason."""
    body = load_object(delivery.body)
    shipment = as_object(body.get("shipment"), "shipment")
    number = required_text(shipment, "number", "shipment")
    scans = as_list(body.get("scans"), "scans", required=True)
    delivery_id = text(body.get("delivery"))
    if not scans:
        return ParseResult(delivery_id=delivery_id, ignored="the delivery carries no scan")
    eta = text(shipment.get("eta"))
    return ParseResult(events=[_event(s, number, eta) for s in scans], delivery_id=delivery_id)


'''
SCHEME = """scheme=SignatureSpec(
        kind="hmac",
        header="X-Pulse-Signature",
        signed_content="{timestamp}",
        timestamp_header="X-Pulse-Timestamp",
        tolerance_seconds=300,
        encoding="hex",
    ),
"""
FIELDS = {
    "docs_url": "https://example.com/pulsetrack/webhooks",
    "identity": "`delivery` (kept across retries) for the delivery; each scan by content",
    "time_handling": "`at` is ISO 8601 with the local offset (`carrier_offset`)",
    "notes": "Synthetic: written by tests/functional/test_add_a_carrier.py.",
}


def repository_files() -> list[str]:
    """The working tree's files as git lists them (tracked and untracked, not ignored), or
    every file outside ``SKIPPED`` when the tree is not a git checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
    )
    if listed.returncode == 0:
        return [f for f in listed.stdout.decode().split("\0") if f]
    return [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file()]


def copy_repository(target: Path) -> None:
    """A copy of the working tree, without ``.git``, the venv and the caches."""
    for relative in repository_files():
        source = REPO / relative
        if SKIPPED & set(Path(relative).parts) or not source.is_file():  # or deleted meanwhile
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / relative)


def git(copy: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", *args],
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def child_env(copy: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(copy)  # the copy's packages, before the editable install's
    env[ENV_INSTALL_DIR] = str(find_install())  # the jar is in .cache, not copied
    return env


def substitute(source: str, pattern: str, new: str, what: str) -> str:
    changed, count = re.subn(pattern, lambda _: new, source, count=1, flags=re.S)
    assert count == 1, f"the generated module has no {what} to fill in (template changed?)"
    return changed


def fill_in_module(path: Path) -> None:
    """What the engineer does to the generated module: every TODO filled in."""
    source = path.read_text("utf-8")
    source = substitute(source, r'\A""".*?"""', DOCSTRING, "docstring")
    source = substitute(
        source, r"from gateway\.carriers\.adapter import [^\n]*\n", IMPORTS, "import"
    )
    source = substitute(source, r"(#[^\n]*\n)*STATUS_MAP: .*?\n}\n", STATUS_MAP, "map")
    source = substitute(source, r"def parse\(.*?\n\n\n", PARSE, "parse")
    scheme = r"(    #[^\n]*\n)?    scheme=SignatureSpec\(.*?\),\n"
    source = substitute(source, scheme, "    " + SCHEME, "scheme")
    for name, value in FIELDS.items():
        source = substitute(source, rf'{name}="[^"]*",\n', f"{name}={value!r},\n", name)
    assert "TODO" not in source, "a TODO is left"
    path.write_text(source, "utf-8")


def expected_events(copy: Path, env: dict[str, str]) -> dict[str, object]:
    """The ``.expected.json`` of the body, as the filled-in adapter reads it (in the copy)."""
    script = (
        "import json, sys\n"
        "from datetime import UTC, datetime\n"
        f"from adapters.{NAME} import ADAPTER\n"
        "from gateway.carriers.adapter import Delivery\n"
        "from gateway.ingest.normalise import to_canonical\n"
        "at = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)\n"
        "body = sys.stdin.buffer.read()\n"
        "result = ADAPTER.parse(Delivery('acme', ADAPTER.id, body, {}, at))\n"
        "events = [to_canonical(e, tenant='acme', carrier=ADAPTER.id, received_at=at,\n"
        "          delivery_id=result.delivery_id).model_dump(mode='json',\n"
        "          exclude={'received_at', 'delivery_id'}) for e in result.events]\n"
        "print(json.dumps({'delivery_id': result.delivery_id, 'ignored': result.ignored,\n"
        "                  'events': events}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=copy,
        env=env,
        input=BODY,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(done.stdout))


def fill_in_fixtures(copy: Path, env: dict[str, str]) -> None:
    """The scaffolded example replaced by a real body and its sidecars."""
    fixtures = copy / "tests" / "fixtures" / NAME
    (fixtures / "example.json").write_bytes(BODY)
    meta = {
        "source": "synthetic, written by tests/functional/test_add_a_carrier.py",
        "synthetic": True,
        "purpose": "three scans of one shipment: the carrier's history",
        "test_vector": None,
    }
    (fixtures / "example.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    headers = {"Content-Type": "application/json", "User-Agent": "PulseTrack-Webhooks/1.0"}
    (fixtures / "example.headers.json").write_text(json.dumps(headers, indent=2) + "\n")
    expected = expected_events(copy, env)
    assert len(expected["events"]) == 3, expected  # type: ignore[arg-type]
    (fixtures / "example.expected.json").write_text(json.dumps(expected, indent=2) + "\n")


def run_suites(copy: Path, env: dict[str, str], report: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--junitxml", str(report), "--deselect", FUZZ_SMOKE]
    command += sorted(set(SUITES))
    return subprocess.run(
        command, cwd=copy, env=env, capture_output=True, text=True, timeout=CHILD_SECONDS
    )


def test_a_new_carrier_is_one_module_plus_fixtures(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    copy = tmp_path / "repo"
    copy_repository(copy)
    git(copy, "init", "-q")
    git(copy, "add", "-A")  # the starting point: the index
    env = child_env(copy)

    waybill = Path(sys.executable).with_name("waybill")
    new = subprocess.run(
        [str(waybill), "adapters", "new", NAME],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert new.returncode == 0, new.stdout + new.stderr
    assert f"you edit adapters/{NAME}.py and tests/fixtures/{NAME}/ only" in new.stdout
    generated = (copy / GENERATED_TEST).read_text("utf-8")

    fill_in_module(copy / "adapters" / f"{NAME}.py")
    fill_in_fixtures(copy, env)
    report = tmp_path / "report.xml"
    run = run_suites(copy, env, report)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]

    cases = ElementTree.parse(report).getroot().iter("testcase")  # noqa: S314 - our own report
    exercised: Counter[str] = Counter()
    for case in cases:
        classname = case.get("classname", "")
        if NAME in case.get("name", "") or classname.endswith(f"test_{NAME}"):
            exercised[classname] += 1
    for suite, module in SUITES.items():
        assert any(module in c for c in exercised), f"{suite} ran no {NAME} case: {exercised}"
    counts = ", ".join(f"{c.rsplit('.', 1)[-1]} {n}" for c, n in sorted(exercised.items()))
    report_line(request, "new_carrier", f"{NAME} cases passed in the copy: {counts}")

    changed = git(copy, "diff", "--name-only").split()
    changed += git(copy, "ls-files", "--others", "--exclude-standard").split()
    outside = sorted(p for p in changed if not p.startswith(ALLOWED))
    assert not outside, f"adding {NAME} took edits outside its module and fixtures: {outside}"
    assert (copy / GENERATED_TEST).read_text("utf-8") == generated, "the generated test was edited"
    fixtures = sorted(p for p in changed if p.startswith(f"tests/fixtures/{NAME}/"))
    kinds = ("", "expected.", "headers.", "meta.")
    assert fixtures == sorted(f"tests/fixtures/{NAME}/example.{kind}json" for kind in kinds)
