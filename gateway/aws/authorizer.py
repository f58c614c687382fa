"""The tenant edge on AWS: the REST API's Lambda REQUEST authorizer that resolves the tenant.

Only ``/v1/*`` reaches it: the tenant owns the ``x-api-key`` presented, looked up by its
SHA-256 digest (:class:`~gateway.aws.api_keys.DynamoApiKeys`); unknown or revoked:
refused. Carrier webhooks and the OAuth token endpoint are on the webhook edge (an HTTP
API with no authorizer: the carrier's signature is the authentication, checked by
ingest); a request for any other resource is refused.

The answer allows every ``/v1`` method of the stage (``…/{stage}/*/v1/*``: it does not
depend on the route), names the tenant as ``principalId`` and in the context
(``requestContext.authorizer.tenant`` for the Lambda behind), and returns the tenant's
usage-plan key as ``usageIdentifierKey`` (API key source ``AUTHORIZER``), so the call is
metered and throttled under the tenant's plan. A refusal raises
``Exception("Unauthorized")``, which API Gateway turns into a bare 401; a failure of our
own (DynamoDB, Secrets Manager, a missing plan key) raises anything else, which API
Gateway answers with a 500.

Both are Lambda function errors, so Lambda's ``Errors`` cannot tell a 401 from an
outage. The handler counts them apart, as EMF metrics in the application's namespace
with its one ``service`` dimension: ``AuthorizerRefused`` (a 401: normal) and
``AuthorizerFailed`` (ours: the ``authorizer-failed`` alarm watches it). Each count is
written as its own EMF line *before* the exception leaves the handler, so it is never
lost to the raise; and it is written by hand rather than through Powertools, which the
authorizer does not import (7 to 13 ms more cold start for two counters).

Caching: API Gateway caches the answer per ``x-api-key`` value for
:data:`infra.api.AUTHORIZER_TTL_SECONDS` (300 s; the identity source carries the
tenant, so a cached answer never serves another tenant). A revoked key is therefore
refused within 300 s plus our own lookup cache
(:data:`~gateway.aws.api_keys.KEY_CACHE_SECONDS`, 5 s); ``docs/runbook.md`` says so
where it describes revocation.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gateway.api.http import request_headers
from gateway.routes import paths_with
from gateway.tenancy.tenants import TenantConfig

API_RESOURCES = paths_with("key")

logger = logging.getLogger("waybill.authorizer")

NAMESPACE = "Waybill"
""":data:`gateway.observability.NAMESPACE` (a test holds them equal)."""

Tenants = Callable[[str], TenantConfig | None]
AuthorizerHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]


class Unauthorized(Exception):
    """The one refusal API Gateway understands: its message must be exactly ``Unauthorized``."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def count(name: str) -> None:
    """One EMF counter, written at once as its own line (what Powertools' ``Metrics`` would
    flush: namespace ``Waybill``, the single ``service`` dimension, unit ``Count``)."""
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "waybill")
    metrics = [{"Name": name, "Unit": "Count"}]
    directive = {"Namespace": NAMESPACE, "Dimensions": [["service"]], "Metrics": metrics}
    document = {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [directive]}
    print(json.dumps({"_aws": document, "service": service, name: 1.0}), flush=True)


def _refuse(reason: str, route: str) -> Unauthorized:
    logger.info("refused route=%s reason=%s", route, reason)
    return Unauthorized()


def _api_key(event: Mapping[str, Any]) -> str:
    """The one ``x-api-key`` value; several different ones are refused, not guessed."""
    values = set(request_headers(event).get("x-api-key", ()))
    if len(values) != 1:
        raise _refuse("missing_api_key" if not values else "ambiguous_api_key", "v1")
    return values.pop()


def _v1_resource(method_arn: str) -> str:
    """Every ``/v1`` method of the stage: the answer for a key does not depend on the route.

    >>> _v1_resource("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/prod/GET/v1/x")
    'arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/prod/*/v1/*'
    """
    api, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    if not api.startswith("arn:") or not stage:
        raise _refuse("malformed_method_arn", "v1")
    return f"{api}/{stage}/*/v1/*"


def make_authorizer(
    *,
    tenants: Tenants,
    api_keys: Callable[[str], str | None],
    plan_keys: Callable[[str], str | None],
) -> AuthorizerHandler:
    """An authorizer handler from its lookups (tests inject fakes or moto-backed ones).

    ``tenants``: id → config or ``None``; ``api_keys``: presented key → tenant or ``None``;
    ``plan_keys``: tenant → usage-plan key value or ``None``.
    """

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        try:
            return decide(event)
        except Unauthorized:
            count("AuthorizerRefused")  # a 401: API Gateway's answer, not our failure
            raise
        except Exception as error:
            count("AuthorizerFailed")  # storage unreachable, no plan key, a bug: a 500
            logger.error("authorizer failed error_type=%s", type(error).__name__)
            raise

    def decide(event: Mapping[str, Any]) -> dict[str, Any]:
        method_arn = str(event.get("methodArn") or "")
        resource = str(event.get("resource") or "")
        if event.get("type") != "REQUEST" or not method_arn.startswith("arn:"):
            raise _refuse("not_a_request_authorization", "other")
        if resource not in API_RESOURCES:
            raise _refuse("no_tenant_route", "other")
        route, allowed = "v1", _v1_resource(method_arn)
        tenant = api_keys(_api_key(event)) or ""
        if not tenant:
            raise _refuse("unknown_api_key", route)
        if tenants(tenant) is None:
            raise _refuse("unknown_tenant", route)
        plan_key = plan_keys(tenant)
        if plan_key is None:
            logger.error("no usage-plan key route=%s tenant=%s", route, tenant)
            raise RuntimeError(f"no usage-plan key for tenant {tenant!r}")
        logger.info("allowed route=%s tenant=%s", route, tenant)
        return {
            "principalId": tenant,
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": allowed}
                ],
            },
            "context": {"tenant": tenant},
            "usageIdentifierKey": plan_key,
        }

    return handler


def authorizer_from_environment() -> AuthorizerHandler:
    """The AWS wiring: ``TABLE_NAME``, ``SECRETS_PREFIX`` and ``TENANTS_DIR``, as the handler."""
    import boto3
    from botocore.config import Config

    from gateway.aws.api_keys import DynamoApiKeys, PlanKeys
    from gateway.tenancy.directory import TenantDirectory

    config = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard"})
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL"), config=config
    )
    secrets = boto3.client("secretsmanager", config=config)
    packaged = Path(__file__).resolve().parents[2] / "tenants"
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
    for sdk in ("boto3", "botocore", "urllib3"):  # at DEBUG they log request and response
        logging.getLogger(sdk).setLevel(logging.WARNING)  # bodies: plan key values included
    return make_authorizer(
        tenants=TenantDirectory(Path(os.environ.get("TENANTS_DIR", str(packaged)))),
        api_keys=DynamoApiKeys(dynamodb, os.environ["TABLE_NAME"]),
        plan_keys=PlanKeys(secrets, os.environ.get("SECRETS_PREFIX", "waybill/")),
    )


_handler: AuthorizerHandler | None = None


def authorizer_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The AWS entry point; its dependencies are built once per container."""
    global _handler
    if _handler is None:
        _handler = authorizer_from_environment()
    return _handler(event, context)
