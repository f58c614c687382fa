"""The Lambda entry point of the ops console: API Gateway REST proxy events in and out.

Infra names it as a string (``gateway.aws.console.console_handler``: the ``console``
function of :mod:`infra.functions`, behind ``ANY /console`` and ``ANY /console/{proxy+}``
on the tenant edge, :mod:`infra.routes`; ``docs/deploy.md``); nothing imports it.
The console itself is :class:`gateway.console.app.Console`, which the local edge serves
too; here it gets:

- services built once per container from the environment, as the API handler's
  (:func:`gateway.aws.handler.services_from_environment`);
- the credential's digest from the secret ``waybill/{stack}/ops_console/credential``
  (:func:`~gateway.aws.secrets.console_credential_secret_id`; set by
  ``waybill console credential --reset --stack NAME``), cached :data:`CREDENTIAL_CACHE_SECONDS`;
- a session key derived from the stack's cursor key (a random secret the stack makes),
  so sessions survive cold starts and every container checks them alike;
- the partner secrets of the tenant's carriers, read by name (no ``ListSecrets``) and
  rotated in the stack's Secrets Manager (:class:`StackSecrets`); no API keys on a
  tenant's page: they are stored by digest (listing a tenant's would take a Scan), and
  listing their API Gateway keys needs ``apigateway:GET`` on ``/apikeys``, which would
  also let this internet-facing function read every key's value (``includeValues``);
  ``waybill keys list TENANT --stack NAME`` lists them with the operator's credentials;
- its actions audited in the stack's table
  (:class:`~gateway.audit.change_table.TableChangeLog`), where ``waybill audit TENANT
  --stack NAME`` reads them beside the CLI's ``--stack`` changes.

Behind API Gateway the guarded route (:data:`GUARDED_ROUTE`) has the console's own
REQUEST authorizer, served by this same function (:func:`authorize`), and the function
sees a session only when that authorizer checked it (:func:`gate`).

Cookies are always ``Secure``. The stage's path (``/api``) is put back in front of every
link, redirect and cookie path: API Gateway sends the path without it.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from gateway.audit.change_table import TableChangeLog
from gateway.aws.secret_store import SecretsManagerStore, SecretStoreError
from gateway.aws.secrets import console_credential_secret_id
from gateway.console.app import Console, ConsoleConfig
from gateway.console.credential import Credential, digest_of_record
from gateway.console.http import Request, Response
from gateway.console.sessions import COOKIE
from gateway.errors import BadRequestError, GatewayError
from gateway.ops.secrets import targets_of
from gateway.services import PACKAGED_TENANTS_DIR
from gateway.tenancy.keysets import KeySet
from gateway.tenancy.tenants import TenantConfig

CREDENTIAL_CACHE_SECONDS = 30
"""How long a container keeps the credential's digest: a reset applies within this."""
STATE_DIR = Path("/waybill-console-has-no-state")  # never read: every store is injected


class SecretCredential(Credential):
    """The digest stored in a Secrets Manager secret, re-read every ``ttl`` seconds."""

    def __init__(
        self,
        client: Any,
        secret_id: str,
        *,
        ttl: float = CREDENTIAL_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.secret_id, self.ttl, self.monotonic = client, secret_id, ttl, monotonic
        self._cached: tuple[float, str | None] | None = None

    def digest(self) -> str | None:
        """The digest (None while the secret has no value: nobody can log in)."""
        now = self.monotonic()
        if self._cached is None or now - self._cached[0] >= self.ttl:
            self._cached = (now, self._load())
        return self._cached[1]

    def _load(self) -> str | None:
        try:
            answer = self.client.get_secret_value(
                SecretId=self.secret_id, VersionStage="AWSCURRENT"
            )
        except self.client.exceptions.ResourceNotFoundException:
            return None  # created by the stack without a value, or not at all
        return digest_of_record(answer.get("SecretString"))


class Unlisted:
    """The tenant page's API keys on AWS: none listed (see the module docstring)."""

    def list(self, tenant: str) -> list[Any]:
        """Nothing."""
        return []


class StackSecrets:
    """The tenant page's partner secrets on AWS: each target the tenant's carriers read
    (:func:`gateway.ops.secrets.targets_of`), read by its name; rotated in place."""

    def __init__(
        self, store: SecretsManagerStore, tenants: Callable[[], Mapping[str, TenantConfig]]
    ) -> None:
        self.store, self.tenants = store, tenants

    def list(self, tenant: str) -> list[tuple[str, KeySet]]:
        """The (target, key set) pairs that have a value, sorted."""
        config = self.tenants().get(tenant)
        if config is None:
            return []
        with _secrets_errors():
            found = [(target, self.store.get(tenant, target)) for target in targets_of(config)]
        return [(target, keyset) for target, keyset in found if keyset is not None]

    def rotate(
        self, tenant: str, carrier: str, value: str, *, now: datetime, grace: timedelta
    ) -> KeySet:
        """Rotate with the stack's store (a compare-and-swap on ``AWSCURRENT``). A secret
        with no value yet is refused: its first value is the carrier's or the operator's
        to give (``waybill secrets set … --stack``), and this role may not create one."""
        with _secrets_errors():
            if self.store.get(tenant, carrier) is None:
                raise BadRequestError(
                    f"{tenant}/{carrier} has no value yet: set its first one with "
                    f"`waybill secrets set {tenant} {carrier} --stack NAME`"
                )
            return self.store.rotate(tenant, carrier, value, now=now, grace=grace)


class SecretsUnavailableError(GatewayError):
    """Secrets Manager refused or failed a call (the message names the secret, no value)."""

    status, code = 503, "secrets_unavailable"


@contextmanager
def _secrets_errors() -> Iterator[None]:
    try:
        yield
    except SecretStoreError as exc:
        raise SecretsUnavailableError(str(exc)) from None


def session_key(cursor_key: bytes) -> bytes:
    """The console's session key, derived from the stack's cursor key (never the same key)."""
    return hmac.new(cursor_key, b"waybill console session", hashlib.sha256).digest()


def request_of(event: Mapping[str, Any]) -> tuple[Request, str]:
    """The console's request of a REST proxy event, and the stage's path before it.

    A REST API hands the path over as the browser sent it, percent-encoded; the console
    (as the local edge) takes it decoded.

    >>> event = {"path": "/console/x%20y", "requestContext": {"path": "/api/console/x%20y"}}
    >>> request, base = request_of(event)
    >>> request.path, base
    ('/console/x y', '/api')
    """
    multi: Mapping[str, list[str]] = event.get("multiValueHeaders") or {}
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    for name, values in multi.items():
        if values:
            headers[name.lower()] = "; ".join(values) if name.lower() == "cookie" else values[-1]
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    query = urlencode(event.get("multiValueQueryStringParameters") or {}, doseq=True)
    context = event.get("requestContext") or {}
    path = str(event.get("path") or "/")
    full = str(context.get("path") or path)
    base = full[: -len(path)] if full.endswith(path) else ""
    client = str((context.get("identity") or {}).get("sourceIp") or "-")
    method = str(event.get("httpMethod") or "GET")
    return Request(method, unquote(path), query, headers, body, client), base


def proxy_response(response: Response) -> dict[str, Any]:
    """A REST proxy response: every header's values (``Set-Cookie`` repeats) and the body."""
    headers: dict[str, list[str]] = {}
    for name, value in response.headers:
        headers.setdefault(name, []).append(value)
    try:
        body, encoded = response.body.decode("utf-8"), False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(response.body).decode(), True
    return {
        "statusCode": response.status,
        "multiValueHeaders": headers,
        "body": body,
        "isBase64Encoded": encoded,
    }


OPEN_ROUTES: tuple[tuple[str, str], ...] = (
    ("ANY", "/console"),
    ("ANY", "/console/login"),
    ("GET", "/console/static/{file}"),
)
"""The console's routes without its authorizer (:mod:`infra.routes`): the redirect to the
overview, the login form and the stylesheet, which need no session."""
GUARDED_ROUTE = ("ANY", "/console/{proxy+}")
"""Every other page and action: behind the console authorizer (:func:`authorize`)."""


def console_resource(path: str) -> str:
    """The REST resource of a console path, as API Gateway matches it.

    >>> [console_resource(p) for p in ("/console/login", "/console/static/a.css", "/console/")]
    ['/console/login', '/console/static/{file}', '/console/{proxy+}']
    """
    if path in ("/console", "/console/login"):
        return path
    head, _, name = path.rpartition("/")
    if head == "/console/static" and name:
        return "/console/static/{file}"
    return GUARDED_ROUTE[1]


AUTHORIZED = "session"
"""The console authorizer's context key: ``valid`` when the request carries a session it
checked, ``none`` otherwise (``requestContext.authorizer.session`` of the proxy event)."""
READS = ("GET", "HEAD")


def authorize(console: Console, event: Mapping[str, Any]) -> dict[str, Any]:
    """The REQUEST authorizer of ``/console/{proxy+}`` (no cache: TTL 0).

    A valid session: Allow, context ``session=valid``. None (or an expired or forged one):
    a read is allowed with ``session=none``, so the console answers it with its login
    redirect and nothing else (the proxy handler strips the session cookie of every request
    the authorizer did not call valid, see :func:`gate`); any other method is denied at the
    edge (API Gateway's 403), so no action reaches the function without a session.
    """
    request, _ = request_of(event)
    valid = console.session_of(request) is not None
    effect = "Allow" if valid or request.method in READS else "Deny"
    return {
        "principalId": "ops" if valid else "anonymous",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": effect,
                    "Resource": str(event.get("methodArn") or ""),
                }
            ],
        },
        "context": {AUTHORIZED: "valid" if valid else "none"},
    }


def gate(event: Mapping[str, Any], request: Request) -> Request:
    """``request`` without its session cookie unless the console authorizer checked it:
    behind API Gateway, a page needs both the authorizer's check and the console's own.
    Routes without the authorizer (login, the stylesheet) need no session anyway."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    if authorizer.get(AUTHORIZED) == "valid":
        return request
    kept = [c for c in (request.header("cookie") or "").split(";") if c.strip()]
    kept = [c for c in kept if c.strip().partition("=")[0] != COOKIE]
    headers = dict(request.headers) | {"cookie": "; ".join(kept)}
    return dataclasses.replace(request, headers=headers)


def make_console_handler(
    build: Callable[[str], Console],
) -> Callable[[Mapping[str, Any], Any], dict[str, Any]]:
    """A handler over the console ``build(base)`` makes for a stage path: the console
    authorizer's answer for an authorizer event, else a proxy response."""

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if event.get("type") == "REQUEST" and "methodArn" in event:
            return authorize(build(""), event)
        request, base = request_of(event)
        return proxy_response(build(base)(gate(event, request)))

    return handler


def console_from_environment(base: str) -> Console:
    """The console of this stack (see the module docstring), for pages under ``base``."""
    import boto3

    from gateway.aws.handler import shared_services

    services = shared_services()
    prefix = os.environ.get("SECRETS_PREFIX", "waybill/")
    client = boto3.client("secretsmanager")
    tenants_dir = Path(os.environ.get("TENANTS_DIR", str(PACKAGED_TENANTS_DIR)))
    config = ConsoleConfig(STATE_DIR, tenants_dir, secure_cookie=True, base=base)
    store = services.store
    console = Console(
        services,
        config,
        credential=SecretCredential(client, console_credential_secret_id(prefix)),
        key=session_key(services.cursor_key),
        api_keys=Unlisted(),
        changes=TableChangeLog(store.client, store.table),
    )
    console.secret_store = StackSecrets(SecretsManagerStore(prefix, client), console.tenants)
    return console


console_handler = make_console_handler(functools.cache(console_from_environment))
"""The AWS entry point: one console per container (and stage path)."""
