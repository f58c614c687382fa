"""Status tables: a carrier's native codes → canonical status, as data, refinements included.

A :class:`StatusTable` maps each *main* code (AfterShip's ``tag``, EasyPost's ``status``…)
to a status. A :class:`Refine` row, keyed by ``(main code, second code)`` or by
``(ANY, second code)``, replaces that status and/or adds a ``detail`` when a second code
(a subtag, a ``status_detail``, a ``statusCode``…) comes with it; ``only_under`` limits
every refinement to some main codes. ``details`` gives a main code's detail when no
refinement gives one. :func:`status_of` is the one lookup: case-insensitive, and a code
the table does not name is ``unknown``, never a guess. Keys are lower-case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from gateway.models import Status

ANY = "*"
"""The main code of a refinement that applies whatever the main code is."""


class Refine(NamedTuple):
    """What a second code changes: the status (``None``: keep the main code's), the detail."""

    status: Status | None = None
    detail: str | None = None


class Mapped(NamedTuple):
    """The outcome of a lookup: a canonical status and, maybe, a detail."""

    status: Status
    detail: str | None = None


@dataclass(frozen=True)
class StatusTable:
    """Main codes → status, plus refinements by a second code (see the module docstring)."""

    main: Mapping[str, Status]
    refinements: Mapping[tuple[str, str], Refine] = field(default_factory=dict)
    details: Mapping[str, str] = field(default_factory=dict)
    only_under: frozenset[str] | None = None
    columns: tuple[str, str] = ("native", "second code")  # what the two codes are (docs)

    def __post_init__(self) -> None:
        codes = [*self.main, *self.details, *(self.only_under or ())]
        codes += [code for pair in self.refinements for code in pair]
        if wrong := [code for code in codes if code != code.lower()]:
            raise ValueError(f"native codes are lower-case: {wrong[0]!r}")
        if empty := [pair for pair, row in self.refinements.items() if row == Refine()]:
            raise ValueError(f"refinement {empty[0]} changes neither status nor detail")
        if self.only_under is not None and (
            stray := {main for main, _ in self.refinements} - self.only_under - {ANY}
        ):
            raise ValueError(f"refinements under {min(stray)!r} never apply (only_under)")
        for name in ("main", "refinements", "details"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def flat(self) -> Mapping[str, Status]:
        """Every code that maps on its own: each main code, then each second code whose
        refinement applies under any main code and sets a status (main codes win).

        >>> table = StatusTable({"i": Status.IN_TRANSIT}, {(ANY, "ot"): Refine(Status.DELIVERED)})
        >>> dict(table.flat)
        {'ot': <Status.DELIVERED: 'delivered'>, 'i': <Status.IN_TRANSIT: 'in_transit'>}
        """
        alone = {sub: status_of(self, None, sub).status for main, sub in self.refinements}
        known = {sub: s for sub, s in alone.items() if s is not Status.UNKNOWN}
        return MappingProxyType(known | dict(self.main))


WAYBILL_NAMES = StatusTable({s.value: s for s in Status} | {"failed": Status.EXCEPTION})
"""Waybill's own format (canonical submit, Standard Webhooks partners): every canonical
name maps to itself, and ``failed`` is an alias of ``exception``."""


def status_of(table: StatusTable, code: str | None, sub: str | None = None) -> Mapped:
    """The status and detail of a main ``code`` refined by a second code ``sub``.

    A refinement keyed by the exact pair wins over one keyed by ``ANY``; its status and
    detail replace the main code's where it sets them.

    >>> table = StatusTable(
    ...     {"exception": Status.EXCEPTION, "intransit": Status.IN_TRANSIT},
    ...     {("exception", "exception_010"): Refine(Status.RETURNED, "returning_to_sender"),
    ...      ("exception", "exception_013"): Refine(detail="lost")})
    >>> status_of(table, "Exception", "Exception_010")
    Mapped(status=<Status.RETURNED: 'returned'>, detail='returning_to_sender')
    >>> status_of(table, "Exception", "Exception_013")  # a detail, the status kept
    Mapped(status=<Status.EXCEPTION: 'exception'>, detail='lost')
    >>> status_of(table, "InTransit", "Exception_010")  # not a refinement of InTransit
    Mapped(status=<Status.IN_TRANSIT: 'in_transit'>, detail=None)
    >>> status_of(table, "teleported", "Exception_010")
    Mapped(status=<Status.UNKNOWN: 'unknown'>, detail=None)
    """
    main = (code or "").lower()
    status, detail = table.main.get(main, Status.UNKNOWN), table.details.get(main)
    if sub and (table.only_under is None or main in table.only_under):
        second = sub.lower()
        row = table.refinements.get((main, second)) or table.refinements.get((ANY, second))
        if row is not None:
            status, detail = row.status or status, row.detail or detail
    return Mapped(status, detail)


def map_status(status_map: Mapping[str, Status], code: str | None) -> Status:
    """Look one native code up in a flat map (case-insensitively); unmapped → ``unknown``.

    >>> map_status({"delivered": Status.DELIVERED}, "DELIVERED")
    <Status.DELIVERED: 'delivered'>
    >>> map_status({"delivered": Status.DELIVERED}, "teleported")
    <Status.UNKNOWN: 'unknown'>
    """
    if not code:
        return Status.UNKNOWN
    return status_map.get(code) or status_map.get(code.lower()) or Status.UNKNOWN
