"""bench/pipeline_cpu.py: every fixture is signed, verified and timed; rows are sane.

No timing is asserted here (targets live in bench/): only that the measurement runs the
real verification and produces one positive ratio per fixture.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.pipeline_cpu import build, measure, prepare
from gateway.carriers.discovery import load_adapters
from gateway.errors import SignatureError
from gateway.testkit.fixtures import body_paths


def fixture_names() -> set[str]:
    registry = load_adapters()
    return {
        f"{adapter.id}/{path.name.removesuffix('.json')}"
        for adapter in registry.adapters.values()
        if adapter.webhook
        for path in body_paths(adapter.id)
    }


def test_every_webhook_fixture_is_a_case_that_verifies() -> None:
    pipeline, cases = build()
    assert {case.name for case in cases} == fixture_names()
    assert all(prepare(pipeline, case.delivery) == case.parses for case in cases)
    assert any(case.parses for case in cases)


def test_the_timed_step_really_verifies_the_signature() -> None:
    pipeline, cases = build()
    bound = next(case for case in cases if case.name.startswith("easypost/"))
    tampered = replace(bound.delivery, body=bound.delivery.body + b" ")
    with pytest.raises(SignatureError):
        prepare(pipeline, tampered)


def test_measure_gives_one_positive_ratio_per_fixture_and_a_summary() -> None:
    rows = measure(rounds=1, budget_ns=20_000)
    names = [row.name for row in rows]
    assert set(names[:-3]) == fixture_names()
    assert names[-3:] == [
        "all fixtures: max",
        "all fixtures: median",
        "floor: event models alone, median",
    ]
    assert all(row.value > 0 and row.section == "pipeline_cpu" for row in rows)
    assert all(row.target == 3.0 for row in rows[:-1])
    assert rows[-1].target is None
