"""Plan tiers: rate, burst, quota per day or month and a daily hard cap, from ``plans.toml``.

The tiers are defined once, in ``plans.toml`` at the repository root (or the file named
by ``WAYBILL_PLANS_FILE``); a tenant file names one with ``plan = "…"``. One pydantic
model validates the file: unknown keys are errors, and errors name the file and field.
The windows the limits count in (UTC days and calendar months) are defined here too.

Example:
    >>> plans = load_plans(PLANS_FILE)
    >>> sorted(plans)
    ['free', 'pro', 'standard']
    >>> plans["free"].quota_period, plans["free"].hard_cap >= plans["free"].quota
    ('day', True)
    >>> check_plan("gold")
    Traceback (most recent call last):
    ...
    ValueError: unknown plan 'gold' (known: free, pro, standard)
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    ValidationError,
    model_validator,
)

from gateway.errors import describe_errors

PLANS_FILE = Path(__file__).resolve().parents[2] / "plans.toml"
PLANS_FILE_ENV = "WAYBILL_PLANS_FILE"
DAYS_IN_LONGEST_MONTH = 31
DAY_SECONDS = 86_400

PlanId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class PlanConfigError(Exception):
    """``plans.toml`` is unreadable or invalid; the message names the file and the field."""


class Plan(BaseModel):
    """One tier's limits (requests; the quota window and the hard cap's day are UTC)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    rate: float = Field(gt=0, le=10_000)
    burst: int = Field(ge=1, le=1_000_000)
    quota: int = Field(ge=1)
    quota_period: Literal["day", "month"]
    hard_cap: int = Field(ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        if self.quota < self.burst:
            raise ValueError("quota must be at least burst")
        if self.hard_cap < self.burst:
            raise ValueError("hard_cap must be at least burst")
        days = 1 if self.quota_period == "day" else DAYS_IN_LONGEST_MONTH
        if self.hard_cap * days < self.quota:
            raise ValueError(f"hard_cap must let the quota be reached in one {self.quota_period}")
        return self

    def describe(self) -> str:
        """One line for the CLI.

        >>> Plan(rate=1, burst=5, quota=100, quota_period="day", hard_cap=200).describe()
        'rate=1/s burst=5 quota=100/day hard_cap=200/day'
        """
        return (
            f"rate={self.rate:g}/s burst={self.burst} quota={self.quota}/{self.quota_period}"
            f" hard_cap={self.hard_cap}/day"
        )


class _Plans(RootModel[dict[PlanId, Plan]]):
    model_config = ConfigDict(frozen=True, strict=True)


def day_window(now: float) -> tuple[str, float]:
    """The UTC day of ``now`` and the epoch second it ends.

    >>> day_window(86_400 * 3 + 5)
    ('1970-01-04', 345600.0)
    """
    start = now - now % DAY_SECONDS
    return datetime.fromtimestamp(start, UTC).date().isoformat(), float(start + DAY_SECONDS)


def retry_after(seconds: float) -> int:
    """Whole seconds for ``Retry-After``: rounded up, at least 1.

    >>> retry_after(0.2), retry_after(2.5), retry_after(60.0)
    (1, 3, 60)
    """
    return max(1, math.ceil(seconds))


def month_window(now: float) -> tuple[str, float]:
    """The UTC calendar month of ``now`` and the epoch second it ends.

    >>> month_window(datetime(2026, 12, 31, 23, 59, tzinfo=UTC).timestamp())
    ('2026-12', 1798761600.0)
    """
    day = datetime.fromtimestamp(now, UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return f"{day.year:04d}-{day.month:02d}", datetime(year, month, 1, tzinfo=UTC).timestamp()


def plans_file() -> Path:
    """The plans file in use: ``$WAYBILL_PLANS_FILE`` or ``plans.toml`` at the root."""
    return Path(os.environ.get(PLANS_FILE_ENV) or PLANS_FILE)


def load_plans(path: Path) -> dict[str, Plan]:
    """Read and validate a plans file; :class:`PlanConfigError` names the file and field."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise PlanConfigError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanConfigError(f"{path}: unreadable: {type(exc).__name__}") from None
    try:
        plans = _Plans.model_validate(data).root
    except ValidationError as exc:
        raise PlanConfigError(f"{path}: {describe_errors(exc)}") from None
    if not plans:
        raise PlanConfigError(f"{path}: (file): defines no plan")
    return plans


def current_plans() -> Mapping[str, Plan]:
    """The plans of :func:`plans_file`, re-read only when the file changes."""
    path = plans_file()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise PlanConfigError(f"{path}: unreadable: {type(exc).__name__}") from None
    return _cached(path, mtime)


@cache
def _cached(path: Path, mtime_ns: int) -> Mapping[str, Plan]:
    return load_plans(path)


def check_plan(plan: str) -> str:
    """``plan`` if it names a known tier, else a ``ValueError`` (for the tenant model)."""
    try:
        known = current_plans()
    except PlanConfigError as exc:
        raise ValueError(str(exc)) from None
    if plan not in known:
        raise ValueError(f"unknown plan {plan!r} (known: {', '.join(sorted(known))})")
    return plan


class HasPlan(Protocol):
    """What :func:`plan_of` reads of a tenant: the name of its tier."""

    @property
    def plan(self) -> str: ...


def plan_of(tenants: Callable[[str], HasPlan | None]) -> Callable[[str], Plan | None]:
    """``tenant id → Plan``, None for an unknown tenant (the handler answers its 404).

    >>> from gateway.tenancy.tenants import TenantConfig
    >>> lookup = plan_of({"acme": TenantConfig(id="acme", name="A", plan="free")}.get)
    >>> lookup("acme").quota_period, lookup("nobody")
    ('day', None)
    """

    def lookup(tenant: str) -> Plan | None:
        config = tenants(tenant)
        return None if config is None else current_plans().get(config.plan)

    return lookup
