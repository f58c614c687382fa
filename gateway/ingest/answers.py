"""What the webhook answers: one typed model per outcome (they are the OpenAPI schemas too).

Example:
    >>> WebhookIgnored(accepted=0, duplicates=0, events=[], ignored="not a tracker").model_dump()
    {'accepted': 0, 'duplicates': 0, 'events': [], 'ignored': 'not a tracker'}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

MAX_IGNORED_REASONS = 10
"""At most this many reasons in ``ignored_items`` (the last one says how many more)."""


Reasons = Annotated[list[str], Field(max_length=MAX_IGNORED_REASONS)]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookStored(_Answer):
    """The delivery's events were stored (or were already known)."""

    accepted: int = Field(ge=0, description="events stored now")
    duplicates: int = Field(ge=0, description="events already known")
    events: list[str] = Field(description="ids of the accepted, then the duplicate events")
    duplicate_delivery: bool = Field(description="the same delivery was seen before")
    ignored_items: Reasons | SkipJsonSchema[None] = Field(
        default=None,
        description="why items of a batch carried nothing to store (absent when none did)",
    )


class WebhookIgnored(_Answer):
    """An authentic delivery that carries no tracking event (e.g. a batch notice)."""

    accepted: Literal[0]
    duplicates: Literal[0]
    events: list[str] = Field(max_length=0)
    ignored: str = Field(description="why nothing was stored")


class WebhookPartlyParked(WebhookStored):
    """A batch with unreadable items: the good ones stored, the delivery parked too."""

    parked: Literal[True]
    already_parked: bool
    failed_items: int = Field(ge=1)


class WebhookParked(_Answer):
    """An authentic delivery that could not be parsed: kept for replay (202)."""

    parked: Literal[True]
    already_parked: bool


Answer = WebhookStored | WebhookIgnored | WebhookPartlyParked | WebhookParked


def reasons(found: list[str]) -> list[str]:
    """At most :data:`MAX_IGNORED_REASONS` reasons, the last one saying how many more.

    >>> reasons([f"item {n}" for n in range(12)])[-2:]
    ['item 8', 'and 3 more']
    """
    if len(found) <= MAX_IGNORED_REASONS:
        return found
    kept = MAX_IGNORED_REASONS - 1
    return [*found[:kept], f"and {len(found) - kept} more"]


def summary(found: list[str]) -> str | None:
    """One line for a delivery none of whose items carried anything to store.

    >>> summary(["data[0] has no time", "data[1] has no time"])
    'data[0] has no time (and 1 more)'
    """
    if not found:
        return None
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return found[0] + more
