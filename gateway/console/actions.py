"""The console's actions: each calls what its CLI twin calls (:mod:`gateway.ops`, the
notification and tracker services), so it is audited the same way; only the actor
differs. Each returns what the result page says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.errors import BadRequestError, GatewayError, NotFoundError
from gateway.models import normalise_tracking_number
from gateway.notify.endpoints import ENDPOINT_ID
from gateway.notify.messages import MESSAGE_ID
from gateway.ops import endpoints, parked, secrets, trackers
from gateway.ops.audit import Auditing
from gateway.ops.secrets import RotatingStore
from gateway.services import Services
from gateway.tenancy.keysets import KeySetError, generate_secret, mask
from gateway.tenancy.tenants import TenantConfig

GRACES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
MAX_REFRESH = 100  # as the CLI and POST /v1/trackers/refresh
MAX_REPLAY = 100  # parked deliveries one click replays (a page must answer within its timeout)


@dataclass(frozen=True)
class Done:
    """What an action did: a heading, lines of detail, and the page to go back to."""

    title: str
    lines: tuple[str, ...]
    back: str


@dataclass(frozen=True)
class Context:
    """What an action works with."""

    services: Services
    tenants: Mapping[str, TenantConfig]
    audit: Auditing
    secret_store: RotatingStore
    now: datetime


Form = Mapping[str, list[str]]


def _one(form: Form, name: str) -> str:
    values = form.get(name) or [""]
    return values[-1].strip()


def _tenant(ctx: Context, form: Form) -> TenantConfig:
    config = ctx.tenants.get(_one(form, "tenant"))
    if config is None:
        raise NotFoundError("no such tenant")
    return config


def _endpoint(form: Form) -> str:
    value = _one(form, "endpoint")
    if not ENDPOINT_ID.fullmatch(value):
        raise BadRequestError("not an endpoint id (ep_…)")
    return value


def replay(ctx: Context, form: Form) -> Done:
    """Replay one parked delivery (``id``) or every one of a ``reason``."""
    config = _tenant(ctx, form)
    pipeline = ctx.services.pipeline
    waiting = pipeline.parking.list(config.id)
    wanted, reason = _one(form, "id"), form.get("reason", [None])[-1]
    if wanted:
        if len(wanted) < 12 or not all(c in "0123456789abcdef" for c in wanted):
            raise BadRequestError("not a parked delivery id")
        chosen = parked.choose(waiting, [wanted])
    else:
        chosen = [p for p in waiting if reason is not None and p.reason == reason]
    if not chosen:
        raise NotFoundError("no such parked delivery (replayed already?)")
    done = parked.replay(pipeline, ctx.audit, config.id, chosen[:MAX_REPLAY])
    failed = [d for d in done if d.outcome is None]
    lines = [f"{d.parked.body_sha256[:12]}: still parked: {d.error}"[:300] for d in failed]
    if len(chosen) > MAX_REPLAY:
        lines.append(f"{len(chosen) - MAX_REPLAY} more of this reason: replay again")
    title = f"{len(done) - len(failed)} replayed, {len(failed)} still parked"
    return Done(title, tuple(lines), "/console/parked")


def toggle(ctx: Context, form: Form) -> Done:
    """Enable or disable an endpoint (``enabled`` = ``true`` or ``false``)."""
    config, endpoint_id = _tenant(ctx, form), _endpoint(form)
    enabled = _one(form, "enabled") == "true"
    notifications = ctx.services.notifications
    endpoint = endpoints.set_enabled(notifications, ctx.audit, config.id, endpoint_id, enabled)
    state = "enabled" if endpoint.enabled else "disabled"
    return Done(f"{endpoint.id} {state}", (), _endpoint_page(config.id, endpoint.id))


def recover(ctx: Context, form: Form) -> Done:
    """Queue every message of an endpoint that failed since ``since`` (ISO, UTC if naive)."""
    config, endpoint_id = _tenant(ctx, form), _endpoint(form)
    try:
        since = datetime.fromisoformat(_one(form, "since"))
    except ValueError:
        raise BadRequestError("since is a date and time, e.g. 2026-01-31T09:00") from None
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    endpoints.check_since(since, ctx.now, config.retention_days)
    notifications = ctx.services.notifications
    queued = endpoints.recover(notifications, ctx.audit, config.id, endpoint_id, since)
    return Done(f"queued {queued} failed messages", (), _endpoint_page(config.id, endpoint_id))


def resend(ctx: Context, form: Form) -> Done:
    """Send one message again now (as ``waybill endpoints resend``)."""
    config, endpoint_id = _tenant(ctx, form), _endpoint(form)
    message_id = _one(form, "message")
    if not MESSAGE_ID.fullmatch(message_id):
        raise BadRequestError("not a message id (msg_…)")
    notifications = ctx.services.notifications
    message = endpoints.resend(notifications, ctx.audit, config.id, endpoint_id, message_id)
    last = message.attempts[-1] if message.attempts else None
    what = f"HTTP {last.status}" if last and last.status else (last.error if last else None)
    lines = (f"attempt: {what or 'none'}; message {message.state}",)
    return Done(f"resent {message.id}", lines, _endpoint_page(config.id, endpoint_id))


def refresh(ctx: Context, form: Form) -> Done:
    """Refresh one tracker now, or queue several first (``number`` given more than once)."""
    config = _tenant(ctx, form)
    carrier = _one(form, "carrier")
    numbers = []
    for value in form.get("number", []):
        try:
            numbers.append(normalise_tracking_number(value))
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
    if not numbers or len(numbers) > MAX_REFRESH:
        raise BadRequestError(f"choose 1 to {MAX_REFRESH} trackers")
    done = trackers.refresh(ctx.services.trackers, ctx.audit, config.id, numbers, carrier)
    if done.done is None:
        lines = tuple(f"{t.tracking_number} {t.carrier}" for t in done.queued)
        return Done(f"queued {len(done.queued)} trackers first", lines, "/console/trackers")
    check = done.done.check
    if check is None:
        return Done("queued first: the carrier cannot answer now", (), "/console/trackers")
    line = f"HTTP {check.http_status or '-'}, +{check.events_added} events"
    line += f", error {check.error}" if check.error else ""
    return Done(f"checked {done.done.tracker.tracking_number}", (line,), "/console/trackers")


def rotate(ctx: Context, form: Form) -> Done:
    """Rotate a partner secret to a generated one; the old one stays valid for ``grace``."""
    config, target, grace_text = _tenant(ctx, form), _one(form, "target"), _one(form, "grace")
    grace = GRACES.get(grace_text)
    rule = secrets.rule_for(config, target)
    if grace is None or rule is None or not config.carrier_enabled(target.partition(".")[0]):
        raise BadRequestError("choose an enabled carrier's secret and a grace period")
    value = generate_secret(rule.form)
    if rule.problem(value) is not None:
        raise BadRequestError(f"{target}: a generated secret does not fit ({rule.expected})")
    try:
        secrets.rotate(
            ctx.secret_store,
            ctx.audit,
            config.id,
            target,
            value,
            grace=grace,
            grace_text=grace_text,
            generated=True,
            now=ctx.now,
        )
    except (KeySetError, ValueError) as exc:
        raise BadRequestError(str(exc)) from None
    lines = (
        f"current {mask(value)}; the old one stays valid for {grace_text}",
        f"give the carrier the new secret: waybill secrets list {config.id} --reveal",
    )
    return Done(f"rotated {config.id}/{target}", lines, f"/console/tenants/{config.id}")


def _endpoint_page(tenant: str, endpoint_id: str) -> str:
    return f"/console/tenants/{tenant}/endpoints/{endpoint_id}"


ACTIONS: dict[str, Callable[[Context, Form], Done]] = {
    "/console/parked/replay": replay,
    "/console/endpoints/toggle": toggle,
    "/console/endpoints/recover": recover,
    "/console/endpoints/resend": resend,
    "/console/trackers/refresh": refresh,
    "/console/secrets/rotate": rotate,
}


def run(path: str, ctx: Context, form: Form) -> Done | GatewayError:
    """Do the action of ``path``; a refusal is returned, not raised."""
    try:
        return ACTIONS[path](ctx, form)
    except GatewayError as exc:
        return exc
