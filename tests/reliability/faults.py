"""Fault-injecting wrappers around the DynamoDB client and the secrets provider.

A :class:`FaultPlan` decides, from a seeded random sequence, what goes wrong with each
call (so a run is reproducible, and the test can assert that every kind happened):

- ``throughput`` / ``throttling``: DynamoDB refuses the call
  (``ProvisionedThroughputExceededException`` / ``ThrottlingException``); nothing applied;
- ``timeout_before``: ``ReadTimeoutError`` before the request reached the table;
- ``timeout_after``: the call was applied, then its response was lost (``ReadTimeoutError``);
- ``crash``: the process dies right after an event's ``PutItem`` was applied, before the
  state's ``UpdateItem`` (:class:`SimulatedCrash`, a ``BaseException``: no ``except
  Exception`` in the code under test may swallow a crash);
- ``secrets_down``: the secrets provider raises.

:class:`FaultyDynamoDB` wraps the client above the SDK (the SDK has already given up);
:class:`LostResponses` loses responses *below* it, so the SDK's own retry resends a write
that was already applied.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

from gateway.store.keys import EVENT_PREFIX
from gateway.tenancy.keysets import SecretsProvider


class Fault(StrEnum):
    """What can go wrong with one call."""

    THROUGHPUT = "throughput"
    THROTTLING = "throttling"
    TIMEOUT_BEFORE = "timeout_before"
    TIMEOUT_AFTER = "timeout_after"
    CRASH = "crash"
    SECRETS_DOWN = "secrets_down"


CALL_FAULTS = (Fault.THROUGHPUT, Fault.THROTTLING, Fault.TIMEOUT_BEFORE, Fault.TIMEOUT_AFTER)
_ERROR_CODES = {
    Fault.THROUGHPUT: "ProvisionedThroughputExceededException",
    Fault.THROTTLING: "ThrottlingException",
}
WRITE_PATH = ("get_item", "put_item", "update_item", "batch_write_item")


class SimulatedCrash(BaseException):
    """The process died mid-request: the carrier sees no response."""


@dataclass
class FaultPlan:
    """Seeded decisions: ``rate`` per call (one of ``kinds``), ``crash_rate`` per event put."""

    seed: int
    rate: float
    crash_rate: float = 0.0
    secrets_rate: float = 0.0
    kinds: tuple[Fault, ...] = CALL_FAULTS
    enabled: bool = True
    injected: Counter[Fault] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def _hit(self, rate: float, fault: Fault) -> bool:
        if self.enabled and self._random.random() < rate:
            self.injected[fault] += 1
            return True
        return False

    def call_fault(self) -> Fault | None:
        """The fault for the next call, if any."""
        if not (self.enabled and self._random.random() < self.rate):
            return None
        fault = self._random.choice(self.kinds)
        self.injected[fault] += 1
        return fault

    def crash(self) -> bool:
        """Whether the process dies after this event put."""
        return self._hit(self.crash_rate, Fault.CRASH)

    def secrets_down(self) -> bool:
        """Whether this secrets lookup fails."""
        return self._hit(self.secrets_rate, Fault.SECRETS_DOWN)


def refusal(fault: Fault, operation: str) -> Exception:
    """The exception botocore raises for ``fault`` (before or after the call)."""
    if fault in _ERROR_CODES:
        code = _ERROR_CODES[fault]
        response = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {}}
        return ClientError(response, operation)  # type: ignore[arg-type]
    return ReadTimeoutError(endpoint_url=f"injected://{operation}")


class FaultyDynamoDB:
    """The client, with ``plan``'s faults on ``operations``; everything else passes through."""

    def __init__(self, client: Any, plan: FaultPlan, operations: Iterable[str] = WRITE_PATH):
        self._client = client
        self._plan = plan
        self._operations = frozenset(operations)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in self._operations:
            return method

        def call(**kwargs: Any) -> Any:
            return self._call(name, method, kwargs)

        return call

    def _call(self, name: str, method: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        fault = self._plan.call_fault()
        if fault is not None and fault is not Fault.TIMEOUT_AFTER:
            raise refusal(fault, name)
        response = method(**kwargs)
        if fault is Fault.TIMEOUT_AFTER:
            raise refusal(fault, name)
        if name == "put_item" and _is_event(kwargs) and self._plan.crash():
            raise SimulatedCrash(name)
        return response


def _is_event(kwargs: dict[str, Any]) -> bool:
    return str(kwargs.get("Item", {}).get("sk", {}).get("S", "")).startswith(EVENT_PREFIX)


@dataclass
class FaultySecrets:
    """A secrets provider that is down whenever ``plan`` says so."""

    inner: SecretsProvider
    plan: FaultPlan

    def valid_secrets(self, tenant: str, carrier: str, now: datetime) -> list[str]:
        """The inner provider's answer, unless the plan takes the backend down."""
        if self.plan.secrets_down():
            raise ConnectionError("injected: secrets backend unreachable")
        return self.inner.valid_secrets(tenant, carrier, now)


class LostResponses:
    """Applies some writes on the wire, then loses their response, below the SDK's retry.

    Registered on a client's ``before-send`` events for ``operations``: a chosen request is
    sent for real, then ``ReadTimeoutError`` is raised, which botocore's standard retry
    mode resends. The same request (same bytes) is never chosen twice, so the SDK's retry
    always gets an answer. ``lost`` counts the responses lost per operation.
    """

    def __init__(self, client: Any, plan: FaultPlan, operations: Iterable[str]) -> None:
        self._plan = plan
        self._http = URLLib3Session()
        self._seen: set[bytes] = set()
        self.lost: Counter[str] = Counter()
        for operation in operations:
            client.meta.events.register(f"before-send.dynamodb.{operation}", self._before_send)

    def _before_send(self, request: Any, event_name: str, **_: Any) -> None:
        body = bytes(request.body or b"")
        if body in self._seen or self._plan.call_fault() is None:
            return None
        self._seen.add(body)
        self._http.send(request)  # applied...
        self.lost[event_name.rsplit(".", 1)[-1]] += 1
        raise ReadTimeoutError(endpoint_url=request.url)  # ...and the answer never came
