"""Pruning a stack's old Lambda versions (``waybill versions prune``).

Every deployment that changes a function publishes a version (``publish=True`` in
``infra/functions.py``), and nothing deletes them: they pile up, one per deployment,
against the account's code storage quota. A version is deleted when no alias refers to
it (neither as the alias's version nor as a routing config's additional, canary version)
and it is not among the ``keep`` newest; ``$LATEST`` is never touched. Waybill invokes
its functions only through their ``live`` alias, so an unreferenced old version runs
nothing; the newest are kept for a rollback (``waybill:stableVersion``).

Example:
    >>> doomed(["1", "2", "3", "4", "5", "6"], referenced={"2", "6"}, keep=3)
    ['1', '3']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.aws.functions import FUNCTIONS, function_name

LATEST = "$LATEST"
DEFAULT_KEEP = 3


@dataclass(frozen=True)
class Pruned:
    """What pruning did (or, in a dry run, would do) to one function's versions."""

    function: str
    found: bool = True
    referenced: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    in_use: tuple[str, ...] = ()  # refused by Lambda: an alias came to refer to it meanwhile

    def as_json(self) -> dict[str, Any]:
        """The JSON form ``waybill versions prune --json`` prints."""
        return {
            "function": self.function,
            "found": self.found,
            "referenced": list(self.referenced),
            "kept": list(self.kept),
            "deleted": list(self.deleted),
            "in_use": list(self.in_use),
        }


def doomed(published: Iterable[str], referenced: set[str], keep: int) -> list[str]:
    """The versions to delete, oldest first: neither referenced nor among the ``keep`` newest.

    >>> doomed(["10", "9", "2"], referenced=set(), keep=1)
    ['2', '9']
    """
    if keep < 1:
        raise ValueError("keep at least the newest version (keep >= 1)")
    numbered = sorted((v for v in published if v != LATEST), key=int)
    old = numbered[:-keep]
    return [v for v in old if v not in referenced]


def referenced_versions(client: Any, function: str) -> set[str]:
    """Every version an alias of ``function`` refers to, canary weights included."""
    found: set[str] = set()
    for page in client.get_paginator("list_aliases").paginate(FunctionName=function):
        for alias in page["Aliases"]:
            found.add(alias["FunctionVersion"])
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            found |= set(weights)
    return found


def published_versions(client: Any, function: str) -> list[str]:
    """The published versions of ``function``, oldest first (``$LATEST`` left out)."""
    paginator = client.get_paginator("list_versions_by_function")
    versions = [
        v["Version"]
        for page in paginator.paginate(FunctionName=function)
        for v in page["Versions"]
        if v["Version"] != LATEST
    ]
    return sorted(versions, key=int)


def prune_function(client: Any, function: str, *, keep: int, dry_run: bool) -> Pruned:
    """Delete (unless ``dry_run``) the versions of ``function`` that :func:`doomed` names."""
    try:
        published = published_versions(client, function)
        referenced = referenced_versions(client, function)
    except client.exceptions.ResourceNotFoundException:
        return Pruned(function, found=False)
    delete = doomed(published, referenced, keep)
    deleted: list[str] = []
    in_use: list[str] = []
    for version in delete:
        if not dry_run:
            try:
                client.delete_function(FunctionName=function, Qualifier=version)
            except client.exceptions.ResourceConflictException:
                in_use.append(version)
                continue
        deleted.append(version)
    kept = [v for v in published if v not in deleted]
    aliased = tuple(sorted(referenced, key=_order))
    return Pruned(function, True, aliased, tuple(kept), tuple(deleted), tuple(in_use))


def prune_stack(
    client: Any, stack: str, *, keep: int = DEFAULT_KEEP, dry_run: bool = False
) -> list[Pruned]:
    """Prune every function of ``stack`` (:data:`~gateway.aws.functions.FUNCTIONS`)."""
    doomed([], set(), keep)  # refuse a bad ``keep`` before touching anything
    return [
        prune_function(client, function_name(stack, f), keep=keep, dry_run=dry_run)
        for f in FUNCTIONS
    ]


def _order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)
