"""The status table and its one lookup (:mod:`gateway.carriers.status`), on small tables.

The adapters' own tables are exercised through their fixtures (``test_adapters.py``) and
documented codes (``test_documented_codes.py``); here each rule is pinned on its own.
"""

from __future__ import annotations

import dataclasses

import pytest

from gateway.carriers import discovery
from gateway.carriers.adapter import Adapter, ParseResult, map_status
from gateway.carriers.docs import main_rows, refinement_rows
from gateway.carriers.status import ANY, Mapped, Refine, StatusTable, status_of
from gateway.models import Status as S
from gateway.signing.spec import SignatureSpec

PAIRS = StatusTable(
    main={"exception": S.EXCEPTION, "intransit": S.IN_TRANSIT, "returned": S.RETURNED},
    refinements={
        ("exception", "exception_010"): Refine(S.RETURNED, "returning_to_sender"),
        ("exception", "exception_013"): Refine(detail="lost"),
        (ANY, "exception_013"): Refine(S.EXCEPTION, "lost_anywhere"),
        (ANY, "ot"): Refine(S.OUT_FOR_DELIVERY),
    },
    details={"returned": "returned_to_sender"},
)
GUARDED = StatusTable(
    main={"transit": S.IN_TRANSIT, "delivered": S.DELIVERED},
    refinements={(ANY, "out_for_delivery"): Refine(S.OUT_FOR_DELIVERY)},
    only_under=frozenset({"transit"}),
)


def test_a_pair_refinement_applies_under_its_main_code() -> None:
    assert status_of(PAIRS, "exception", "exception_010") == (S.RETURNED, "returning_to_sender")


def test_a_pair_refinement_does_not_apply_outside_its_main_code() -> None:
    assert status_of(PAIRS, "intransit", "exception_010") == Mapped(S.IN_TRANSIT, None)
    assert status_of(PAIRS, None, "exception_010") == Mapped(S.UNKNOWN, None)


def test_a_detail_without_a_status_change_keeps_the_main_status() -> None:
    assert status_of(PAIRS, "exception", "exception_013") == (S.EXCEPTION, "lost")


def test_the_exact_pair_wins_over_any() -> None:
    assert status_of(PAIRS, "exception", "exception_013").detail == "lost"
    assert status_of(PAIRS, "intransit", "exception_013") == (S.EXCEPTION, "lost_anywhere")


def test_an_any_refinement_applies_with_or_without_a_main_code() -> None:
    assert status_of(PAIRS, "intransit", "ot").status is S.OUT_FOR_DELIVERY
    assert status_of(PAIRS, "", "OT").status is S.OUT_FOR_DELIVERY


def test_unknown_codes_are_unknown_never_a_guess() -> None:
    assert status_of(PAIRS, "teleported") == Mapped(S.UNKNOWN, None)
    assert status_of(PAIRS, "teleported", "exception_010") == Mapped(S.UNKNOWN, None)
    assert status_of(PAIRS, "exception", "exception_999") == Mapped(S.EXCEPTION, None)
    assert status_of(PAIRS, None) == status_of(PAIRS, "") == Mapped(S.UNKNOWN, None)


def test_lookups_are_case_insensitive() -> None:
    assert status_of(PAIRS, "EXCEPTION", "Exception_010") == status_of(
        PAIRS, "exception", "exception_010"
    )
    assert status_of(PAIRS, "InTransit").status is S.IN_TRANSIT


def test_a_main_code_detail_applies_unless_a_refinement_gives_one() -> None:
    assert status_of(PAIRS, "returned") == (S.RETURNED, "returned_to_sender")
    assert status_of(PAIRS, "returned", "ot") == (S.OUT_FOR_DELIVERY, "returned_to_sender")
    assert status_of(PAIRS, "returned", "exception_013") == (S.EXCEPTION, "lost_anywhere")


def test_only_under_limits_every_refinement_to_those_main_codes() -> None:
    assert status_of(GUARDED, "TRANSIT", "out_for_delivery").status is S.OUT_FOR_DELIVERY
    assert status_of(GUARDED, "delivered", "out_for_delivery").status is S.DELIVERED
    assert status_of(GUARDED, None, "out_for_delivery").status is S.UNKNOWN


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"main": {"DL": S.DELIVERED}}, "lower-case: 'DL'"),
        ({"main": {}, "refinements": {("a", "B"): Refine(S.DELIVERED)}}, "lower-case: 'B'"),
        ({"main": {}, "refinements": {("a", "b"): Refine()}}, "neither status nor detail"),
        (
            {
                "main": {"a": S.PENDING},
                "refinements": {("b", "c"): Refine(S.DELIVERED)},
                "only_under": frozenset({"a"}),
            },
            "under 'b' never apply",
        ),
    ],
)
def test_a_table_that_cannot_work_is_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StatusTable(**arguments)  # type: ignore[arg-type]


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        PAIRS.main["new"] = S.DELIVERED  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        PAIRS.only_under = None  # type: ignore[misc]


def test_the_flat_view_holds_each_code_that_maps_on_its_own() -> None:
    assert dict(PAIRS.flat) == {
        "exception": S.EXCEPTION,
        "intransit": S.IN_TRANSIT,
        "returned": S.RETURNED,
        "exception_013": S.EXCEPTION,  # under any main code
        "ot": S.OUT_FOR_DELIVERY,
    }
    assert dict(GUARDED.flat) == dict(GUARDED.main)  # guarded: needs its main code
    for code, status in PAIRS.flat.items():
        assert map_status(PAIRS.flat, code.upper()) is status


def _adapter(**statuses: object) -> Adapter:
    return Adapter(
        id="tiny",
        label="Tiny",
        docs_url="https://example.com",
        scheme=SignatureSpec(kind="token", header="x-token"),
        parse=lambda delivery: ParseResult(),
        **statuses,  # type: ignore[arg-type]
    )


def test_an_adapter_carries_the_table_and_its_flat_view() -> None:
    adapter = _adapter(statuses=PAIRS)
    assert adapter.statuses is PAIRS and dict(adapter.status_map) == dict(PAIRS.flat)
    plain = {"dl": S.DELIVERED}
    legacy = _adapter(status_map=plain)
    assert legacy.status_map is plain and dict(legacy.statuses.main) == plain
    assert dataclasses.replace(adapter, label="Again").statuses is PAIRS
    with pytest.raises(ValueError, match="disagree"):
        _adapter(statuses=PAIRS, status_map=plain)


def test_every_adapter_status_map_is_the_flat_view_of_its_table() -> None:
    for adapter in discovery.load_adapters().adapters.values():
        assert dict(adapter.status_map) == dict(adapter.statuses.flat), adapter.id


def test_adapters_md_rows_read_the_table_back() -> None:
    assert ("`returned`", "`returned`", "`returned_to_sender`") in main_rows(PAIRS)
    rows = refinement_rows(PAIRS)
    assert ("`exception`", "`exception_013`", "`exception`", "`lost`") in rows
    assert ("any", "`ot`", "`out_for_delivery`", "") in rows
    (guarded,) = refinement_rows(GUARDED)
    assert guarded[0] == "any of `transit`"
