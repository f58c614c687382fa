"""Shared helpers for the Pulumi mock tests: find what the program registered."""

from __future__ import annotations

import json
from typing import Any

from gateway.tenancy.tenants import TenantConfig
from tests.infra.conftest import RESOURCES, Recorded

TENANTS = [
    TenantConfig(id="acme", name="Acme", carriers={"easypost": {}, "shippo": {}}),
    TenantConfig(id="globex", name="Globex", carriers={"ups": {}, "fedex": {"enabled": False}}),
]
"""Two small tenants: an adapter with an optional slot each, and a disabled carrier."""


def resources_of(type_token: str) -> list[Recorded]:
    """Every recorded resource of ``type_token`` (e.g. ``aws:iam/role:Role``), in order."""
    return [r for r in RESOURCES if r.type == type_token]


def one(type_token: str) -> Recorded:
    """The single recorded resource of ``type_token``; fails if there are none or several."""
    found = resources_of(type_token)
    assert len(found) == 1, f"expected one {type_token}, found {[r.name for r in found]}"
    return found[0]


def named(type_token: str, name: str) -> Recorded:
    """The recorded resource of ``type_token`` whose Pulumi name is ``name``."""
    found = [r for r in resources_of(type_token) if r.name == name]
    assert len(found) == 1, f"no single {type_token} named {name!r}"
    return found[0]


def as_json(value: Any) -> Any:
    """A JSON document input (e.g. a policy) as Python data, whether text or already parsed."""
    return json.loads(value) if isinstance(value, str) else value
