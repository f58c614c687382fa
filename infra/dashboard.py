"""The CloudWatch dashboard body: volume, outcomes, latency, throttles, notifications,
polling and modeled cost.

Modeled cost is metric math over the day: request counts, Lambda GB-seconds and DynamoDB
capacity units times the per-unit prices of the one price table
(``gateway/costs/prices.toml``, dated :data:`PRICES_AS_OF`; free tiers ignored).
Storage, logs, X-Ray, Secrets Manager and KMS are not in that widget.

"Top tenants by modeled cost" is a Logs Insights query over the ingest and query
functions' log groups: requests per tenant and outcome (the fields :data:`TENANT_FIELD`
and :data:`OUTCOME_FIELD` of a request's log line), each weighted by what one request of
that outcome costs on the deployed edge (:func:`gateway.costs.attribution.outcome_weights`,
from the cost shape and the price table), summed, top 10. ``waybill costs`` attributes
the same month from the counted windows, with shared and fixed costs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pulumi

from gateway.costs.attribution import outcome_weights
from gateway.costs.prices import load_price_table
from infra.settings import StackSettings
from infra.stage import STAGE

if TYPE_CHECKING:
    from infra.api import Api
    from infra.functions import Functions
    from infra.notify import Notify
    from infra.table import Table

_TABLE = load_price_table()
PRICES_AS_OF = _TABLE.as_of
API_REQUEST_USD = _TABLE.price("api_gateway", "rest_per_million") / 1e6  # first tier
LAMBDA_REQUEST_USD = _TABLE.price("lambda", "per_million_requests") / 1e6
LAMBDA_GB_SECOND_USD = _TABLE.price("lambda", "arm_gb_second")  # arm64
DYNAMODB_WRITE_UNIT_USD = _TABLE.price("dynamodb", "wru_per_million") / 1e6  # on-demand
DYNAMODB_READ_UNIT_USD = _TABLE.price("dynamodb", "rru_per_million") / 1e6
TENANT_FIELD, OUTCOME_FIELD = "tenant", "outcome"
"""The fields of a request's structured log line the top-tenants query reads."""
COST_LOG_FUNCTIONS = ("ingest", "query")
TOP_TENANTS = 10
OUTCOMES = (
    "EventsAccepted",
    "EventsDuplicate",
    "DeliveriesDuplicate",
    "DeliveriesParked",
    "DeliveriesIgnored",
    "SubmitItemsRejected",
    "UnmappedStatus",
)
NOTIFICATIONS = ("NotificationsDelivered", "NotificationAttemptsFailed", "EndpointsDisabled")
BACKGROUND = ("notify", "sweeper")
POLLING = ("PollsMade", "PollsFailed", "PollBudgetExhausted")
POLLER = "poller"
DAY, FIVE_MINUTES = 86_400, 300


FAILURES = ("UnhandledError", "AuthorizerFailed", "AuthorizerRefused")
"""The catch-all's 500s, the authorizer's own failures (both alarmed) and its 401s."""


def throttled_metric(stack: str) -> tuple[str, str]:
    """Namespace and name of the access-log metric counting HTTP 429 answers of ``stack``."""
    return f"Waybill/{stack}", "Http429"


def _widget(title: str, region: str, metrics: list[list[Any]], **options: Any) -> dict[str, Any]:
    properties = {"view": "timeSeries", "period": FIVE_MINUTES, "stat": "Sum", **options}
    return {
        "type": "metric",
        "width": 12,
        "height": 6,
        "properties": {"title": title, "region": region, "metrics": metrics, **properties},
    }


def _app(stack: str, name: str, *options: dict[str, Any]) -> list[Any]:
    """An application metric (Powertools EMF: namespace ``Waybill``, ``service`` per stack)."""
    return ["Waybill", name, "service", StackSettings.for_stack(stack).service, *options]


def top_tenants_query(log_groups: list[str], weights: dict[str, float]) -> str:
    """Logs Insights: requests and modeled USD per tenant, most expensive first.

    ``strcontains`` is 1 or 0 and no outcome name contains another, so the weighted sum
    picks each line's own weight.
    """
    sources = " | ".join(f"SOURCE '{group}'" for group in log_groups)
    usd = " + ".join(
        f'strcontains({OUTCOME_FIELD}, "{outcome}") * {weight:.12f}'
        for outcome, weight in weights.items()
    )
    return (
        f"{sources} | fields {TENANT_FIELD}, {usd} as usd"
        f" | filter ispresent({TENANT_FIELD}) and ispresent({OUTCOME_FIELD})"
        f" | stats count(*) as requests, sum(usd) as modeled_usd by {TENANT_FIELD}"
        f" | sort modeled_usd desc | limit {TOP_TENANTS}"
    )


def _top_tenants(region: str, functions: dict[str, tuple[str, int]]) -> dict[str, Any]:
    groups = [f"/aws/lambda/{functions[n][0]}" for n in COST_LOG_FUNCTIONS if n in functions]
    query = top_tenants_query(groups, outcome_weights(_TABLE.prices))
    title = f"Top {TOP_TENANTS} tenants by modeled cost, USD (list prices of {PRICES_AS_OF})"
    return {
        "type": "log",
        "width": 12,
        "height": 6,
        "properties": {"title": title, "region": region, "query": query, "view": "table"},
    }


def _hidden(qid: str) -> dict[str, Any]:
    return {"id": qid, "visible": False}


def _widgets(
    stack: str,
    region: str,
    api_name: str,
    table: str,
    functions: dict[str, tuple[str, int]],
    dead_letter_queue: str,
) -> list[dict[str, Any]]:
    stage = ["ApiName", api_name, "Stage", STAGE]
    names = sorted(functions)
    lam = [["AWS/Lambda", "Duration", "FunctionName", functions[n][0]] for n in names]
    cost: list[list[Any]] = [
        ["AWS/ApiGateway", "Count", *stage, _hidden("api")],
        ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", table, _hidden("wcu")],
        ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", table, _hidden("rcu")],
    ]
    gb_seconds = []
    for i, n in enumerate(names):
        fn, memory = functions[n]
        cost.append(["AWS/Lambda", "Invocations", "FunctionName", fn, _hidden(f"inv{i}")])
        cost.append(["AWS/Lambda", "Duration", "FunctionName", fn, _hidden(f"dur{i}")])
        gb_seconds.append(f"dur{i} / 1000 * {memory / 1024}")
    invocations = " + ".join(f"inv{i}" for i in range(len(names)))
    cost += [
        [{"expression": f"api * {API_REQUEST_USD}", "label": "API Gateway $", "id": "c_api"}],
        [
            {
                "expression": f"({invocations}) * {LAMBDA_REQUEST_USD}"
                f" + ({' + '.join(gb_seconds)}) * {LAMBDA_GB_SECOND_USD}",
                "label": "Lambda $",
                "id": "c_lambda",
            }
        ],
        [
            {
                "expression": f"wcu * {DYNAMODB_WRITE_UNIT_USD} + rcu * {DYNAMODB_READ_UNIT_USD}",
                "label": "DynamoDB $",
                "id": "c_ddb",
            }
        ],
    ]
    throttled = throttled_metric(stack)
    return [
        _widget(
            "Requests and errors",
            region,
            [
                ["AWS/ApiGateway", "Count", *stage],
                ["AWS/ApiGateway", "4XXError", *stage],
                ["AWS/ApiGateway", "5XXError", *stage],
            ],
        ),
        _widget("Outcomes", region, [_app(stack, name) for name in OUTCOMES]),
        _widget("Signature failures", region, [_app(stack, "SignatureFailures")]),
        _widget(
            "Failures: unhandled 500s and the authorizer",
            region,
            [_app(stack, name) for name in FAILURES],
        ),
        _widget(
            "API latency (ms)",
            region,
            [
                ["AWS/ApiGateway", "Latency", *stage, {"stat": "p50"}],
                ["AWS/ApiGateway", "Latency", *stage, {"stat": "p99"}],
                ["AWS/ApiGateway", "IntegrationLatency", *stage, {"stat": "p99"}],
            ],
        ),
        _widget(
            "Lambda duration (ms)",
            region,
            [[*m, {"stat": s}] for m in lam for s in ("p50", "p99")],
        ),
        _widget(
            "Throttles",
            region,
            [
                [*throttled, {"label": "HTTP 429 (access log)"}],
                _app(stack, "Rejected_hard_cap_reached", {"label": "hard cap"}),
                *[["AWS/Lambda", "Throttles", "FunctionName", functions[n][0]] for n in names],
                ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", table],
                ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", table],
            ],
        ),
        *_notification_widgets(stack, region, functions, dead_letter_queue),
        *_polling_widgets(stack, region, functions),
        _widget(
            f"Modeled cost per day, USD (list prices of {PRICES_AS_OF})",
            region,
            cost,
            period=DAY,
            view="bar",
        ),
        _top_tenants(region, functions),
    ]


def _notification_widgets(
    stack: str, region: str, functions: dict[str, tuple[str, int]], dead_letter_queue: str
) -> list[dict[str, Any]]:
    """Deliveries, failed attempts, disabled endpoints, latency, the DLQ, notify and sweeper."""
    background = [functions[n][0] for n in BACKGROUND if n in functions]
    return [
        _widget("Notifications", region, [_app(stack, name) for name in NOTIFICATIONS]),
        _widget(
            "Notification latency (ms): event received to delivered",
            region,
            [_app(stack, "NotificationLatency", {"stat": s}) for s in ("p50", "p99")],
        ),
        _widget(
            "Notify dead-letter queue (messages)",
            region,
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dead_letter_queue]],
            stat="Maximum",
        ),
        _widget(
            "Notify and sweeper errors",
            region,
            [["AWS/Lambda", "Errors", "FunctionName", fn] for fn in background],
        ),
        _widget(
            "Notify and sweeper duration, stream iterator age (ms)",
            region,
            [
                *[
                    ["AWS/Lambda", "Duration", "FunctionName", fn, {"stat": s}]
                    for fn in background
                    for s in ("p50", "p99")
                ],
                *[
                    [
                        "AWS/Lambda",
                        "IteratorAge",
                        "FunctionName",
                        functions[n][0],
                        {"stat": "Maximum"},
                    ]
                    for n in ("notify",)
                    if n in functions
                ],
            ],
        ),
    ]


def _polling_widgets(
    stack: str, region: str, functions: dict[str, tuple[str, int]]
) -> list[dict[str, Any]]:
    """Checks made and failed, spent budgets, trackers overdue, and the poller itself."""
    if POLLER not in functions:
        return []
    poller = functions[POLLER][0]
    return [
        _widget(
            "Polling: requests made, trackers whose check failed, budgets spent",
            region,
            [_app(stack, name) for name in POLLING],
        ),
        _widget(
            "Trackers overdue by more than 5 minutes (end of each pass)",
            region,
            [_app(stack, "TrackersOverdue")],
            stat="Maximum",
        ),
        _widget(
            "Poller duration (ms)",
            region,
            [
                ["AWS/Lambda", "Duration", "FunctionName", poller, {"stat": s}]
                for s in ("p50", "p99", "Maximum")
            ],
        ),
        _widget(
            "Poller errors and throttles (throttled: a pass ran past the minute)",
            region,
            [["AWS/Lambda", m, "FunctionName", poller] for m in ("Errors", "Throttles")],
        ),
    ]


def body(
    settings: StackSettings, api: Api, functions: Functions, table: Table, notify: Notify
) -> pulumi.Output[str]:
    """The dashboard JSON, once the API, function, table and queue names are known."""
    names = sorted(functions.functions)
    return pulumi.Output.all(
        api.rest_api.name,
        table.name,
        notify.dead_letter_queue.name,
        *[functions.functions[n].name for n in names],
        *[functions.functions[n].memory_size for n in names],
    ).apply(
        lambda values: json.dumps(
            {
                "widgets": _widgets(
                    settings.stack,
                    settings.region,
                    values[0],
                    values[1],
                    {
                        n: (values[3 + i], int(values[3 + len(names) + i]))
                        for i, n in enumerate(names)
                    },
                    values[2],
                ),
            }
        )
    )
