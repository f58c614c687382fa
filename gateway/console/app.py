"""The console as one function: a :class:`~gateway.console.http.Request` in, a
:class:`~gateway.console.http.Response` out, over the services.

Routes (all under ``/console/``; none is part of the tenant API or its OpenAPI):
pages are GETs behind a session; actions are POSTs behind a session and a CSRF token,
each answered with a result page; ``login`` and ``static/`` need no session.

Example::

    console = Console(services, ConsoleConfig(state_dir, tenants_dir))
    response = console(Request("GET", "/console/"))  # 303 to /console/login
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from gateway.audit.changes import ChangeLog, FileChangeLog
from gateway.console import actions, pages
from gateway.console.credential import Credential, LocalCredential, console_key
from gateway.console.http import Request, Response, html, redirect, respond
from gateway.console.login_limits import TableLoginThrottle
from gateway.console.reads import Reads
from gateway.console.render import Renderer
from gateway.console.sessions import COOKIE, Session, SessionCodec
from gateway.errors import GatewayError, NotFoundError
from gateway.models import normalise_tracking_number
from gateway.notify.endpoints import ENDPOINT_ID
from gateway.ops.audit import Auditing
from gateway.ops.secrets import RotatingStore
from gateway.services import Services
from gateway.store.capacity import CapacityMeter
from gateway.tenancy.apikeys import ApiKeyRecord, LocalApiKeyStore
from gateway.tenancy.keysets import KeySet
from gateway.tenancy.local_secrets import LocalSecretStore
from gateway.tenancy.tenants import CARRIER_ID_PATTERN, TenantConfigError, load_tenants

LOGIN_COOKIE = "waybill_console_login"
ACTOR = "console"
STATIC = Path(__file__).resolve().parent / "static"
_CARRIER = re.compile(CARRIER_ID_PATTERN)


@dataclass(frozen=True)
class ConsoleConfig:
    """Where the console's state is, and whether its cookies are ``Secure`` (outside
    loopback)."""

    state_dir: Path
    tenants_dir: Path
    secure_cookie: bool = False
    base: str = ""
    """The path before ``/console`` in the browser's URLs (on AWS the stage's: ``/api``);
    requests arrive without it."""


class KeyLister(Protocol):
    """What the tenant page lists API keys with."""

    def list(self, tenant: str) -> list[ApiKeyRecord]:
        """A tenant's keys (their prefixes and dates)."""
        ...


class SecretLister(RotatingStore, Protocol):
    """What the tenant page lists partner secrets with (masked), and rotates them with."""

    def list(self, tenant: str) -> list[tuple[str, KeySet]]:
        """A tenant's (carrier, key set) pairs."""
        ...


@dataclass
class Page:
    """What a page handler gives back: the template and its context, or a response."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200


Handler = Callable[["Console", Request, dict[str, str], Reads], Page]


class Console:
    """The ops console over ``services`` (see the module docstring)."""

    def __init__(
        self,
        services: Services,
        config: ConsoleConfig,
        *,
        throttle: TableLoginThrottle | None = None,
        credential: Credential | None = None,
        key: bytes | None = None,
        secret_store: SecretLister | None = None,
        api_keys: KeyLister | None = None,
        changes: ChangeLog | None = None,
    ) -> None:
        """The stores default to the state dir's; the AWS entry point passes its own."""
        self.services, self.config = services, config
        self.changes: ChangeLog = changes or FileChangeLog(config.state_dir)
        self.credential = credential or LocalCredential(config.state_dir)
        self.secret_store: SecretLister = secret_store or LocalSecretStore(config.state_dir)
        self.api_keys: KeyLister = api_keys or LocalApiKeyStore(config.state_dir)
        store = services.store
        self.throttle = throttle or TableLoginThrottle(store.client, store.table)
        self.renderer = Renderer()
        self.key = key or console_key(config.state_dir)

    # -- the one entry point -------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        """Answer one request under ``/console``."""
        path = request.path
        if path == "/console":
            return self._redirect("/console/")
        if path.startswith("/console/static/"):
            return self._static(request)
        if path == "/console/login":
            return self._login(request)
        session = self.session_of(request)
        if session is None:
            if request.method == "GET":
                return self._redirect("/console/login")
            return self._page(Page("error.html", {"message": "log in first"}, 401), None, 0.0)
        if path == "/console/logout" and request.method == "POST":
            return self._logout(request, session)
        if request.method == "POST" and path in actions.ACTIONS:
            return self._action(request, session)
        if request.method == "GET":
            return self._get(request, session)
        allow = "POST" if path in actions.ACTIONS or path == "/console/logout" else "GET"
        return respond(405, b"method not allowed\n", "text/plain", (("allow", allow),))

    # -- sessions and login --------------------------------------------------------

    def session_of(self, request: Request) -> Session | None:
        """The request's valid session, if it carries one (what the AWS authorizer asks)."""
        return self._codec().open(request.cookie(COOKIE))

    def _codec(self, purpose: str | None = None) -> SessionCodec:
        digest = self.credential.digest() or "no credential"
        return SessionCodec(self.key, purpose or digest, clock=self.services.clock)

    def _cookie(self, name: str, value: str, max_age: int) -> tuple[str, str]:
        secure = "; Secure" if self.config.secure_cookie else ""
        path = f"{self.config.base}/console"
        text = f"{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}"
        return ("set-cookie", text + secure)

    def _redirect(self, location: str, extra: tuple[tuple[str, str], ...] = ()) -> Response:
        """303 to one of our paths, under :attr:`ConsoleConfig.base`."""
        response = redirect(location, extra)
        if not self.config.base:
            return response
        headers = tuple(
            (k, self.config.base + v if k == "location" else v) for k, v in response.headers
        )
        return Response(response.status, headers, response.body)

    def _login(self, request: Request) -> Response:
        codec = self._codec("login")
        if request.method == "GET":
            token = codec.issue()
            pre = codec.open(token)
            assert pre is not None
            page = Page("login.html", {"csrf": codec.csrf(pre)})
            return self._page(page, None, 0.0, (self._cookie(LOGIN_COOKIE, token, 3600),))
        if request.method != "POST":
            return respond(405, b"method not allowed\n", "text/plain", (("allow", "GET, POST"),))
        form = request.form()
        pre = codec.open(request.cookie(LOGIN_COOKIE))
        if pre is None or not codec.csrf_ok(pre, form.get("csrf")) or not _same_origin(request):
            return self._refused("the login form expired or did not come from here: reload it")
        wait = self.throttle.wait(request.client)
        if wait is not None:
            message = f"too many failed logins: try again in {wait} s"
            page = Page("login.html", {"csrf": codec.csrf(pre), "error": message}, 429)
            return self._page(page, None, 0.0, (("retry-after", str(wait)),))
        if not self.credential.verify(form.get("credential", "")):
            self.throttle.failed(request.client)
            error = "wrong credential (see docs/runbook.md to reset it)"
            page = Page("login.html", {"csrf": codec.csrf(pre), "error": error}, 401)
            return self._page(page, None, 0.0)
        self.throttle.succeeded(request.client)
        token = self._codec().issue()
        cookies = (self._cookie(COOKIE, token, 8 * 3600), self._cookie(LOGIN_COOKIE, "", 0))
        return self._redirect("/console/", cookies)

    def _logout(self, request: Request, session: Session) -> Response:
        if not self._codec().csrf_ok(session, request.form().get("csrf")):
            return self._refused("missing or wrong CSRF token")
        return self._redirect("/console/login", (self._cookie(COOKIE, "", 0),))

    def _refused(self, message: str) -> Response:
        return self._page(Page("error.html", {"message": message}, 403), None, 0.0)

    # -- pages and actions ---------------------------------------------------------

    def _reads(self) -> Reads:
        store = self.services.store
        sealer = self.services.notifications.notifier.endpoints.sealer
        return Reads(store.client, store.table, sealer, CapacityMeter())

    def _get(self, request: Request, session: Session) -> Response:
        reads = self._reads()
        for pattern, handler in ROUTES:
            found = pattern.fullmatch(request.path)
            if found:
                try:
                    page = handler(self, request, found.groupdict(), reads)
                except GatewayError as exc:
                    page = Page("error.html", {"message": exc.message}, exc.status)
                return self._page(page, session, reads.meter.read_units)
        return self._page(Page("error.html", {"message": "no such page"}, 404), session, 0.0)

    def _action(self, request: Request, session: Session) -> Response:
        form = request.form_lists()
        token = (form.get("csrf") or [""])[-1]
        if not self._codec().csrf_ok(session, token) or not _same_origin(request):
            return self._refused("missing or wrong CSRF token")
        context = actions.Context(
            services=self.services,
            tenants=self.tenants(),
            audit=Auditing(self.changes, ACTOR),
            secret_store=self.secret_store,
            now=self.services.clock(),
        )
        try:
            done = actions.run(request.path, context, form)
        finally:
            self.services.pipeline.audit.flush()
        if isinstance(done, GatewayError):
            page = Page("error.html", {"message": done.message}, done.status)
        else:
            page = Page("result.html", {"done": done})
        return self._page(page, session, 0.0)

    def _page(
        self,
        page: Page,
        session: Session | None,
        read_units: float,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        csrf = self._codec().csrf(session) if session is not None else None
        context = {
            "csrf": csrf,
            "read_units": read_units,
            "signed_in": session is not None,
            "base": self.config.base,
        }
        text = self.renderer.render(page.template, context | page.context)
        return html(page.status, text, extra)

    def _static(self, request: Request) -> Response:
        name = request.path.removeprefix("/console/static/")
        types = {"console.css": "text/css; charset=utf-8"}
        if name not in types or request.method != "GET":
            return respond(404, b"not found\n", "text/plain")
        return respond(200, (STATIC / name).read_bytes(), types[name])

    def tenants(self) -> dict[str, Any]:
        """Every tenant, read from the tenants dir (a broken file is a 503)."""
        try:
            return dict(load_tenants(self.config.tenants_dir))
        except TenantConfigError as exc:
            raise TenantsUnreadableError(str(exc)) from None

    def tenant(self, tenant: str) -> Any:
        """One tenant's config (404 when unknown)."""
        config = self.tenants().get(tenant)
        if config is None:
            raise NotFoundError("no such tenant")
        return config


class TenantsUnreadableError(GatewayError):
    """A tenant file is invalid: pages that list tenants cannot answer."""

    status, code = 503, "tenants_unreadable"


def _same_origin(request: Request) -> bool:
    """False when an ``Origin`` header names another host than ``Host`` (absent: True)."""
    origin = request.header("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == (request.header("host") or "")


def _now(console: Console) -> datetime:
    return console.services.clock().astimezone(UTC)


def _overview(console: Console, _: Request, __: dict[str, str], reads: Reads) -> Page:
    return Page("overview.html", pages.overview(reads, console.tenants(), _now(console)))


def _tenants(console: Console, _: Request, __: dict[str, str], reads: Reads) -> Page:
    return Page("tenants.html", pages.tenants_page(reads, console.tenants(), _now(console)))


def _tenant(console: Console, _: Request, params: dict[str, str], reads: Reads) -> Page:
    config = console.tenant(params["tenant"])
    context = pages.tenant_page(
        reads,
        console.tenants(),
        config,
        _now(console),
        console.secret_store.list(config.id),
        console.api_keys.list(config.id),
    )
    return Page("tenant.html", context)


def _number(value: str) -> str:
    try:
        return normalise_tracking_number(value)
    except ValueError:
        raise NotFoundError("no such shipment") from None


def _lookup(console: Console, request: Request, __: dict[str, str], reads: Reads) -> Page:
    params = request.params()
    config = console.tenant(params.get("tenant", ""))
    number = _number(params.get("number", ""))
    return _shipment(console, request, {"tenant": config.id, "number": number}, reads)


def _shipment(console: Console, _: Request, params: dict[str, str], reads: Reads) -> Page:
    config = console.tenant(params["tenant"])
    context = pages.shipment_page(reads, config.id, _number(params["number"]), _now(console))
    if not context["states"] and not context["events"]:
        return Page("shipment.html", context, 404)
    return Page("shipment.html", context)


def _parked(console: Console, _: Request, __: dict[str, str], reads: Reads) -> Page:
    return Page("parked.html", pages.parked_page(reads, console.tenants()))


def _notifications(console: Console, _: Request, __: dict[str, str], reads: Reads) -> Page:
    return Page("notifications.html", pages.notifications_page(reads, console.tenants()))


def _endpoint(console: Console, _: Request, params: dict[str, str], reads: Reads) -> Page:
    config = console.tenant(params["tenant"])
    if not ENDPOINT_ID.fullmatch(params["endpoint"]):
        raise NotFoundError("no such endpoint")
    context = pages.endpoint_page(reads, config.id, params["endpoint"])
    return Page("endpoint.html", context | {"tenant": config.id, "now": _now(console)})


def _trackers(console: Console, _: Request, __: dict[str, str], reads: Reads) -> Page:
    return Page("trackers.html", pages.trackers_page(reads, console.tenants(), _now(console)))


def _tracker(console: Console, _: Request, params: dict[str, str], reads: Reads) -> Page:
    config = console.tenant(params["tenant"])
    if not _CARRIER.fullmatch(params["carrier"]):
        raise NotFoundError("no such tracker")
    number = _number(params["number"])
    context = pages.tracker_page(reads, config.id, params["carrier"], number, _now(console))
    if context["tracker"] is None:
        raise NotFoundError("no such tracker")
    return Page("tracker.html", context)


_SEGMENT = r"[^/]+"
ROUTES: tuple[tuple[re.Pattern[str], Handler], ...] = tuple(
    (re.compile(pattern), handler)
    for pattern, handler in (
        (r"/console/", _overview),
        (r"/console/tenants", _tenants),
        (rf"/console/tenants/(?P<tenant>{_SEGMENT})", _tenant),
        (r"/console/shipment", _lookup),
        (rf"/console/tenants/(?P<tenant>{_SEGMENT})/shipments/(?P<number>{_SEGMENT})", _shipment),
        (r"/console/parked", _parked),
        (r"/console/notifications", _notifications),
        (rf"/console/tenants/(?P<tenant>{_SEGMENT})/endpoints/(?P<endpoint>{_SEGMENT})", _endpoint),
        (r"/console/trackers", _trackers),
        (
            rf"/console/tenants/(?P<tenant>{_SEGMENT})/trackers/(?P<carrier>{_SEGMENT})"
            rf"/(?P<number>{_SEGMENT})",
            _tracker,
        ),
    )
)
"""Every page: its path pattern (parameters are one whole segment) and its handler."""
