"""Tenant configuration: one ``tenants/<id>.toml`` file per tenant, one pydantic model.

The same model is read by the Lambda, the local server and Pulumi. Tenant files
hold no secrets and no key values; the id is the file name.

``[carriers."*"]`` (the wildcard, for demo and test tenants) enables every discovered
adapter with default options; an explicit ``[carriers.<id>]`` still overrides it (options,
``enabled = false``). The wildcard is expanded when the file is read, so ``carriers``
always names each carrier. A carrier that is neither discovered (a module of the
``adapters`` package or a ``waybill.adapters`` entry point) nor declared as a generic
partner is refused, naming the file and the field.

Example:
    >>> config = TenantConfig(id="demo", name="Demo", carriers={"easypost": {}})
    >>> config.carrier_enabled("easypost"), config.carrier_enabled("ups")
    (True, False)
    >>> every = TenantConfig(id="demo", name="Demo", carriers={"*": {}, "ups": {"enabled": False}})
    >>> every.carrier_enabled("easypost"), every.carrier_enabled("ups")
    (True, False)
    >>> load_tenant(Path("tenants"), "../etc/passwd") is None
    True
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from difflib import get_close_matches
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
)

from gateway.carriers.discovery import ENTRY_POINT_GROUP, IN_TREE_PACKAGE
from gateway.carriers.generic import GenericPartner, in_tree_ids
from gateway.errors import describe_errors
from gateway.tenancy.plans import check_plan

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
CARRIER_ID_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
WILDCARD = "*"
"""``[carriers."*"]``: every discovered adapter, with default options."""
_TENANT_ID = re.compile(TENANT_ID_PATTERN)

CarrierId = Annotated[str, StringConstraints(pattern=CARRIER_ID_PATTERN)]
OptionValue = StrictStr | StrictInt | StrictBool


@cache
def discovered_carriers() -> frozenset[str]:
    """The ids :func:`gateway.carriers.discovery.load_adapters` discovers, found by name:
    the modules of the ``adapters`` package (``_`` helpers excluded) and the names of the
    ``waybill.adapters`` entry points. Nothing is imported (tenant files are read on the
    request path, by the authorizer too), and an adapter that fails to load keeps its
    id: discovery reports and skips it, and its route answers 404 like any disabled one,
    while the tenant's other carriers keep working. Read once per process.

    >>> {"easypost", "canonical"} <= discovered_carriers()
    True
    """
    modules = {name for name in in_tree_ids() if not name.startswith("_")}
    points = {point.name for point in entry_points(group=ENTRY_POINT_GROUP)}
    return frozenset(modules | points)


class TenantConfigError(Exception):
    """A tenant file is unreadable or invalid; the message names the file and the field."""


POLLABLE_STATUSES = frozenset(
    {"unknown", "pending", "info_received", "in_transit", "available_for_pickup"}
    | {"attempt_fail", "out_for_delivery", "exception"}
)
MAX_DAILY_BUDGET = 10_000_000


class PollingOptions(BaseModel):
    """``[carriers.<id>.polling]``: poll the carrier's tracking API for this tenant.

    ``daily_budget``: requests per UTC day, never exceeded (manual refreshes count too);
    ``api_base_url``: the API's base URL when not the carrier's production one (a sandbox,
    the loopback carrier API of the tests); ``intervals``: seconds between checks by
    status, overriding the defaults of ``gateway/poll/schedule.py``; ``concurrency``:
    requests in flight to this carrier at once. The API's credentials live in the secret
    slot ``<id>.api`` (``waybill secrets set TENANT <id>.api …``), never here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    daily_budget: int = Field(ge=0, le=MAX_DAILY_BUDGET)
    api_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]{1,500}$")
    intervals: dict[str, Annotated[int, Field(ge=60, le=30 * 86_400)]] = Field(default_factory=dict)
    concurrency: int = Field(default=4, ge=1, le=64)

    @field_validator("intervals")
    @classmethod
    def _pollable(cls, intervals: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(intervals) - POLLABLE_STATUSES)
        if unknown:
            raise ValueError(
                f"intervals: {unknown[0]} is not a status that is polled "
                f"({', '.join(sorted(POLLABLE_STATUSES))})"
            )
        return intervals


class CarrierOptions(BaseModel):
    """One carrier as configured for a tenant.

    ``generic`` declares a partner that has no adapter module (see :mod:`gateway.carriers.generic`);
    ``polling`` turns on trackers for the carrier (:class:`PollingOptions`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    enabled: bool = True
    options: dict[str, OptionValue] = Field(default_factory=dict)
    generic: GenericPartner | None = None
    polling: PollingOptions | None = None


class TenantConfig(BaseModel):
    """A tenant: display name, plan tier, retention and enabled carriers."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    id: str = Field(pattern=TENANT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    plan: str = Field(default="standard", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    retention_days: int = Field(default=90, ge=1, le=3650)
    carriers: dict[CarrierId, CarrierOptions] = Field(default_factory=dict)

    @field_validator("carriers", mode="before")
    @classmethod
    def _expand_wildcard(cls, carriers: Any) -> Any:
        """``"*"`` becomes one default entry per discovered adapter; explicit entries win."""
        if not isinstance(carriers, dict) or WILDCARD not in carriers:
            return carriers
        wildcard = carriers[WILDCARD]
        if isinstance(wildcard, CarrierOptions):
            wildcard = wildcard.model_dump(exclude_defaults=True)
        if (
            not isinstance(wildcard, dict)
            or set(wildcard) - {"enabled"}
            or (wildcard.get("enabled", True) is not True)
        ):
            raise ValueError(
                f'"{WILDCARD}": the wildcard enables every discovered adapter with default '
                "options: it takes only `enabled = true` (options, `enabled = false` and "
                "generic partners go in their own [carriers.<id>] table)"
            )
        explicit = {c: o for c, o in carriers.items() if c != WILDCARD}
        return {c: {} for c in sorted(discovered_carriers())} | explicit

    @field_validator("plan")
    @classmethod
    def _known_plan(cls, plan: str) -> str:
        return check_plan(plan)  # a tier of plans.toml

    @field_validator("carriers")
    @classmethod
    def _generic_never_shadows(
        cls, carriers: dict[str, CarrierOptions]
    ) -> dict[str, CarrierOptions]:
        taken = sorted(c for c, o in carriers.items() if o.generic and c in in_tree_ids())
        if taken:
            raise ValueError(
                f"{taken[0]}.generic: a generic partner cannot shadow an in-tree adapter"
            )
        return carriers

    @field_validator("carriers")
    @classmethod
    def _discovered_or_generic(
        cls, carriers: dict[str, CarrierOptions]
    ) -> dict[str, CarrierOptions]:
        known = discovered_carriers() | {c for c, o in carriers.items() if o.generic}
        unknown = sorted(set(carriers) - known)
        if unknown:
            raise ValueError("; ".join(_unknown_carrier(c, known) for c in unknown))
        return carriers

    def carrier_enabled(self, carrier_id: str) -> bool:
        """True when the carrier is configured for this tenant and not disabled.

        >>> config = TenantConfig(id="ab", name="A", carriers={"ups": {"enabled": False}})
        >>> config.carrier_enabled("ups")
        False
        """
        options = self.carriers.get(carrier_id)
        return options is not None and options.enabled

    def enabled_carriers(self) -> list[str]:
        """The ids of the enabled carriers, sorted."""
        return sorted(c for c in self.carriers if self.carrier_enabled(c))


def _unknown_carrier(carrier: str, known: Collection[str]) -> str:
    """Why ``carrier`` is refused, with the closest known id and every known one.

    >>> _unknown_carrier("easypst", {"easypost", "ups"}).split("; ")[1]
    'did you mean easypost? (known: easypost, ups)'
    """
    close = get_close_matches(carrier, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return (
        f"{carrier}: no adapter of that id is discovered ({IN_TREE_PACKAGE}/{carrier}.py or "
        f"the entry point group {ENTRY_POINT_GROUP}) and no generic partner is declared "
        f"([carriers.{carrier}.generic]); {hint}(known: {', '.join(sorted(known))})"
    )


def is_tenant_id(value: str) -> bool:
    """True when ``value`` is a well-formed tenant id (and so safe as a file name).

    >>> is_tenant_id("acme-eu"), is_tenant_id("../x"), is_tenant_id("A")
    (True, False, False)
    """
    return _TENANT_ID.fullmatch(value) is not None


def load_tenant_file(path: Path) -> TenantConfig:
    """Read and validate one tenant file; the tenant id is the file's stem.

    Raises :class:`TenantConfigError` naming the file and the field(s).
    """
    tenant_id = path.stem
    if not is_tenant_id(tenant_id):
        raise TenantConfigError(f"{path}: file name is not a valid tenant id ({TENANT_ID_PATTERN})")
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise TenantConfigError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TenantConfigError(f"{path}: unreadable: {type(exc).__name__}") from None
    if "id" in data:
        raise TenantConfigError(f"{path}: id: is taken from the file name; remove it")
    try:
        return TenantConfig.model_validate({**data, "id": tenant_id})
    except ValidationError as exc:
        raise TenantConfigError(f"{path}: {describe_errors(exc)}") from None


def load_tenant(directory: Path, tenant_id: str) -> TenantConfig | None:
    """The tenant ``tenant_id`` from ``directory``, or ``None`` when there is no such tenant.

    The id is checked before the file system is touched, so ``../x`` is never read.
    """
    if not is_tenant_id(tenant_id):
        return None
    path = directory / f"{tenant_id}.toml"
    if not path.is_file():
        return None
    return load_tenant_file(path)


def tenant_files(directory: Path) -> list[Path]:
    """Every ``*.toml`` file in ``directory``, sorted; an error if it is not a directory."""
    if not directory.is_dir():
        raise TenantConfigError(f"{directory}: no such tenants directory")
    return sorted(p for p in directory.glob("*.toml") if p.is_file())


def load_tenants(directory: Path) -> dict[str, TenantConfig]:
    """All tenants in ``directory`` by id; the first invalid file raises."""
    tenants = {}
    for path in tenant_files(directory):
        config = load_tenant_file(path)
        tenants[config.id] = config
    return tenants
