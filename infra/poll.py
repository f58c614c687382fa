"""What makes polling run on AWS: the poller's schedule (the function and its role are
:mod:`infra.functions` and :mod:`infra.roles`, its credential slots :mod:`infra.secrets`).

**Schedule → poller.** An EventBridge rule (``rate(1 minute)``) with the ``poller`` alias as
its target and a Lambda permission for that rule only, as the sweeper's (and not
EventBridge Scheduler, for the same reasons: see :mod:`infra.notify`). Each invocation is
one pass of :func:`gateway.aws.poll.poll_handler` over the trackers that are due: it
takes them a due-index shard at a time (``POLL#n`` partitions, each under a lease),
checks them with their carriers within each tenant's daily budget, stores what the
carriers say through the webhooks' write path (so notifications follow from the table's
stream), and takes no more when the invocation's deadline is near; what is left is due
for the next minute's pass. At the end it counts the trackers overdue by more than five minutes
(``TrackersOverdue``).

The function's reserved concurrency is 1 (:mod:`infra.functions` says why): while a long
pass runs, the next minutes' invocations are throttled. EventBridge invokes
asynchronously: Lambda's own retries of a failed pass are turned off (the next minute's
pass does the same work, and a retry would only queue behind the running one), and an
event older than :data:`POLL_MAX_EVENT_AGE_SECONDS` is dropped, so a throttled
invocation never starts a pass late and never piles up behind a long one.

**Outbound policy.** Carrier calls go through the notifier's transport under the same
:class:`~gateway.notify.addresses.AddressPolicy`: https only, public addresses only,
unless ``waybill:allowInsecureEndpoints`` (test stacks only: never dev, staging or prod,
:mod:`infra.settings` refuses it). A tenant's ``api_base_url`` that the stack's policy
would refuse (a loopback demo URL, plain http) is reported when the stack is built
(:func:`refused_api_urls`): every check of that carrier would fail with
``url_invalid`` (the transport refuses the URL) until the tenant file is fixed.
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi
import pulumi_aws as aws

from gateway.errors import GatewayError
from gateway.notify.addresses import AddressPolicy
from gateway.tenancy.tenants import TenantConfig
from infra.functions import ALIAS, Functions
from infra.secrets import polled_carriers
from infra.settings import StackSettings

POLL_SCHEDULE = "rate(1 minute)"
POLL_MAX_EVENT_AGE_SECONDS = 60


def refused_api_urls(
    tenants: Iterable[TenantConfig], *, allow_insecure: bool
) -> list[tuple[str, str, str, str]]:
    """``(tenant, carrier, url, why)`` of every enabled polled carrier whose
    ``api_base_url`` the stack's address policy refuses (its checks would all fail).

    >>> demo = TenantConfig(id="demo", name="Demo", carriers={
    ...     "ups": {"polling": {"daily_budget": 10, "api_base_url": "http://127.0.0.1:8099/ups"}}})
    >>> [row[:2] for row in refused_api_urls([demo], allow_insecure=False)]
    [('demo', 'ups')]
    >>> refused_api_urls([demo], allow_insecure=True)
    []
    """
    policy = AddressPolicy(allow_insecure=allow_insecure)
    refused = []
    for tenant in sorted(tenants, key=lambda t: t.id):
        for carrier in polled_carriers(tenant):
            options = tenant.carriers[carrier]
            url = options.polling.api_base_url if options.polling else None
            if url is None or not tenant.carrier_enabled(carrier):
                continue
            try:
                policy.check_url(url)
            except GatewayError as exc:
                refused.append((tenant.id, carrier, url, str(exc)))
    return refused


class Poll(pulumi.ComponentResource):
    """The poller's one-minute schedule."""

    rule: aws.cloudwatch.EventRule
    target: aws.cloudwatch.EventTarget

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        functions: Functions,
        tenants: Iterable[TenantConfig] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("waybill:infra:Poll", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        poller = functions.poller
        for tenant, carrier, url, why in refused_api_urls(
            tenants, allow_insecure=settings.allow_insecure_endpoints
        ):
            pulumi.log.warn(
                f"tenant {tenant}: [carriers.{carrier}.polling] api_base_url {url} is refused "
                f"on stack {settings.stack} ({why}): every check of {carrier} will fail",
                self,
            )
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            name=f"waybill-{settings.stack}-poll",
            description=f"Waybill {settings.stack}: check the trackers that are due",
            schedule_expression=POLL_SCHEDULE,
            tags={"waybill:stack": settings.stack},
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=poller.function_name,
            qualifier=poller.name,
            principal="events.amazonaws.com",
            source_arn=self.rule.arn,
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=poller.function_name,
            qualifier=ALIAS,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=POLL_MAX_EVENT_AGE_SECONDS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[poller]),
        )
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=self.rule.name,
            target_id="poller",
            arn=poller.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        self.register_outputs({"rule_arn": self.rule.arn})
