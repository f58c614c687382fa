"""Observability policies: every alarm exists, with its threshold, reporting to the topic
(whether each metric is one the code emits is ``test_alarm_metrics.py``'s)."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pytest

from gateway.costs.model import StackShape
from gateway.tenancy.plans import load_plans, plans_file
from infra import dashboard
from infra.alarms import API_5XX_PERCENT, POLLS_FAILED_PERCENT, THROTTLED_PER_5_MIN
from infra.functions import SPECS
from infra.notify import Notify
from infra.observability import Observability
from infra.settings import StackSettings
from infra.stage import STAGE
from infra.webhook_edge import WebhookEdge
from tests.infra.helpers import as_json, one, resources_of
from tests.infra.log_filters import matches, render_access_log
from tests.infra.test_api import TENANTS, build_stack

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def build(settings: StackSettings) -> Observability:
    api, functions, table = build_stack(settings)
    webhooks = WebhookEdge("webhooks", settings, functions, TENANTS, load_plans(plans_file()))
    notify = Notify("notify", settings, table, functions)
    return Observability("obs", settings, api, webhooks, functions, table, notify)


def ready(obs: Observability) -> pulumi.Output[list[Any]]:
    alarms = [a.id for a in obs.alarms.values()]
    return pulumi.Output.all(obs.topic.arn, obs.budget.id, obs.dashboard.id, *alarms)


def alarms() -> dict[str, dict[str, Any]]:
    return {a.inputs["name"].removeprefix("waybill-dev-"): a.inputs for a in resources_of(ALARM)}


def metric_names(alarm: dict[str, Any]) -> set[str]:
    """The metric names an alarm reads, directly or in its metric math."""
    names = {alarm["metricName"]} if alarm.get("metricName") else set()
    queries = alarm.get("metricQueries") or []
    return names | {q["metric"]["metricName"] for q in queries if q.get("metric")}


@pulumi.runtime.test
def test_every_alarm_exists_with_its_threshold_and_notifies_the_topic() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(values: list[Any]) -> None:
        topic = values[0]
        found = alarms()
        expected = {
            "api-5xx-rate": (API_5XX_PERCENT, {"5XXError", "Count"}),
            "webhooks-5xx-rate": (API_5XX_PERCENT, {"5xx", "Count"}),
            "api-throttled": (THROTTLED_PER_5_MIN, {"Http429"}),
            "hard-cap": (0, {"Rejected_hard_cap_reached"}),
            "parked": (0, {"DeliveriesParked"}),
            "dynamodb-throttles": (0, {"ReadThrottleEvents", "WriteThrottleEvents"}),
            "notify-dlq": (0, {"ApproximateNumberOfMessagesVisible"}),
            "endpoints-disabled": (0, {"EndpointsDisabled"}),
            "trackers-overdue": (0, {"TrackersOverdue"}),
            "poll-budget-exhausted": (0, {"PollBudgetExhausted"}),
            "polls-failed-rate": (POLLS_FAILED_PERCENT, {"PollsMade", "PollsFailed"}),
            "lambda-errors-poller": (0, {"Errors"}),  # throttled by design: no such alarm
            "unhandled-errors": (0, {"UnhandledError"}),
            "authorizer-failed": (0, {"AuthorizerFailed"}),
            "lambda-throttles-authorizer": (0, {"Throttles"}),  # its Errors include every 401
        }
        for function in ("ingest", "query", "notify", "sweeper", "console"):
            expected[f"lambda-errors-{function}"] = (0, {"Errors"})
            expected[f"lambda-throttles-{function}"] = (0, {"Throttles"})
        assert set(found) == set(expected)
        assert set(obs.alarms) == set(expected)
        assert len(obs.alarms) == StackShape().alarms  # what the cost model prices
        for key, (threshold, metrics) in expected.items():
            alarm = found[key]
            assert alarm["threshold"] == threshold, key
            assert alarm["comparisonOperator"] == "GreaterThanThreshold", key
            assert metric_names(alarm) == metrics, key
            assert alarm["alarmActions"] == [topic] and alarm["okActions"] == [topic], key
            assert alarm["treatMissingData"] == "notBreaching", key

    return ready(obs).apply(check)


@pulumi.runtime.test
def test_the_5xx_alarm_is_a_rate_over_five_minutes() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        alarm = alarms()["api-5xx-rate"]
        queries = {q["id"]: q for q in alarm["metricQueries"]}
        assert "100 * errors / requests" in queries["rate"]["expression"]
        assert queries["rate"]["returnData"] is True
        for qid in ("errors", "requests"):
            metric = queries[qid]["metric"]
            assert (metric["period"], metric["stat"]) == (300, "Sum")
            assert metric["dimensions"] == {"ApiName": "waybill-dev", "Stage": STAGE}

    return ready(obs).apply(check)


@pulumi.runtime.test
def test_app_alarms_read_the_powertools_namespace_and_lambda_alarms_each_function() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        found = alarms()
        for key in (
            "parked",
            "hard-cap",
            "endpoints-disabled",
            "unhandled-errors",
            "authorizer-failed",
        ):
            assert found[key]["namespace"] == "Waybill"
            assert found[key]["dimensions"] == {"service": "waybill-dev"}  # per stack
            assert (found[key]["statistic"], found[key]["period"]) == ("Sum", 300)
        for function in ("ingest", "query", "notify", "sweeper", "poller"):
            dimensions = found[f"lambda-errors-{function}"]["dimensions"]
            assert dimensions == {"FunctionName": f"waybill-dev-{function}"}

    return ready(obs).apply(check)


@pulumi.runtime.test
def test_throttling_is_counted_from_the_access_log_429s() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        filters = {
            f.inputs["logGroupName"]: f.inputs
            for f in resources_of("aws:cloudwatch/logMetricFilter:LogMetricFilter")
        }
        assert set(filters) == {  # both edges' access logs count into one metric
            "/aws/apigateway/waybill-dev/access",
            "/aws/apigateway/waybill-dev/webhooks",
        }
        namespace, name = dashboard.throttled_metric("dev")
        for log_filter in filters.values():
            assert log_filter["pattern"] == '{ $.status = "429" }'
            transformation = log_filter["metricTransformation"]
            assert (transformation["namespace"], transformation["name"]) == (namespace, name)
        alarm = alarms()["api-throttled"]
        assert (alarm["namespace"], alarm["metricName"]) == (namespace, name)
        assert alarm["evaluationPeriods"] == alarm["datapointsToAlarm"] == 3

    return ready(obs).apply(check)


EXAMPLE_CONTEXT = {
    "$context.requestId": "c0ffee00-1111-2222-3333-444455556666",
    "$context.identity.sourceIp": "203.0.113.7",
    "$context.httpMethod": "POST",
    "$context.path": "/api/webhooks/acme/easypost",
    "$context.resourcePath": "/webhooks/{tenant}/{carrier}",
    "$context.responseLatency": "12",
    "$context.integrationLatency": "9",
    "$context.authorizer.tenant": "acme",
    "$context.identity.apiKeyId": "k1a2b3",
    "$context.error.message": "Too Many Requests",
    "$context.routeKey": "POST /webhooks/acme/{carrier}",
    "$context.integrationErrorMessage": "-",
}
"""Example values of the access log's variables (the others are written ``-``)."""


def access_line(log_format: str, status: int) -> str:
    line = render_access_log(log_format, {**EXAMPLE_CONTEXT, "$context.status": str(status)})
    assert json.loads(line)["status"] in (status, str(status))  # the status really is in it
    return line


@pytest.mark.parametrize(
    ("stage_type", "log_group"),
    [
        ("aws:apigateway/stage:Stage", "/aws/apigateway/waybill-dev/access"),
        ("aws:apigatewayv2/stage:Stage", "/aws/apigateway/waybill-dev/webhooks"),
    ],
)
@pulumi.runtime.test
def test_every_access_log_filter_matches_the_lines_the_stage_writes(
    stage_type: str, log_group: str
) -> Any:
    settings = StackSettings.for_stack("dev")
    api, functions, table = build_stack(settings)
    webhooks = WebhookEdge("webhooks", settings, functions, TENANTS, load_plans(plans_file()))
    notify = Notify("notify", settings, table, functions)
    obs = Observability("obs", settings, api, webhooks, functions, table, notify)

    def check(_: Any) -> None:
        log_format = one(stage_type).inputs["accessLogSettings"]["format"]
        filters = [
            f.inputs
            for f in resources_of("aws:cloudwatch/logMetricFilter:LogMetricFilter")
            if f.inputs["logGroupName"] == log_group
        ]
        assert filters, "no metric filter over the access log"
        for log_filter in filters:
            found = re.search(r"http-(\d{3})$", log_filter["name"])
            assert found, f"{log_filter['name']}: which status does it count?"
            status = int(found.group(1))
            pattern = log_filter["pattern"]
            assert matches(pattern, access_line(log_format, status)), (pattern, status)
            for other in (200, 202, 401, 403, 404, 500, 503):
                if other != status:
                    assert not matches(pattern, access_line(log_format, other)), (pattern, other)

    return pulumi.Output.all(ready(obs), api.stage.id, webhooks.stage.id).apply(check)


@pytest.mark.parametrize(
    ("pattern", "line", "expected"),
    [
        ("{ $.status = 429 }", '{"status":429}', True),
        ("{ $.status = 429 }", '{"status":"429"}', False),  # a number never equals a string
        ('{ $.status = "429" }', '{"status":"429"}', True),
        ('{ $.status = "429" }', '{"status":429}', False),
        ('{ $.status = "4*" }', '{"status":"404"}', True),
        ('{ $.status = "4*" }', '{"status":"500"}', False),
        ("{ $.status = * }", '{"status":"500"}', True),
        ("{ $.status = * }", '{"code":"500"}', False),
        ('{ $.status != "429" }', '{"status":"200"}', True),
        ('{ $.status != "429" }', '{"code":"200"}', False),
        ('{ $.status = "429" && $.tenant = "acme" }', '{"status":"429","tenant":"acme"}', True),
        ('{ $.status = "429" && $.tenant = "acme" }', '{"status":"429","tenant":"-"}', False),
        ('{ $.status = "429" || $.status = "503" }', '{"status":"503"}', True),
        ('{ ($.a = 1 || $.b = 2) && $.c = "x" }', '{"a":1,"c":"y"}', False),
        ('{ $.a = 1 || $.b = 2 && $.c = "x" }', '{"a":1,"c":"y"}', True),  # && first
        ('{ $.a.b = "x" }', '{"a":{"b":"x"}}', True),
        ('{ $.status = "429" }', "not json", False),
    ],
)
def test_the_filter_evaluator_follows_cloudwatch_types(
    pattern: str, line: str, expected: bool
) -> None:
    assert matches(pattern, line) is expected


@pytest.mark.parametrize("pattern", ["$.status = 429", "{ $.status > 429 }", "{ $.s = x }", "{}"])
def test_the_filter_evaluator_refuses_what_it_does_not_know(pattern: str) -> None:
    with pytest.raises(ValueError):
        matches(pattern, '{"status":"429"}')


def test_a_quoted_variable_renders_as_a_string_and_a_bare_one_as_a_number() -> None:
    quoted = render_access_log('{"status":"$context.status"}', {"$context.status": "429"})
    bare = render_access_log('{"status":$context.status}', {"$context.status": "429"})
    assert json.loads(quoted) == {"status": "429"} and json.loads(bare) == {"status": 429}


@pulumi.runtime.test
def test_email_subscription_iff_an_alarm_email_is_set() -> Any:
    obs = build(StackSettings.for_stack("dev", alarm_email="ops@example.com"))

    def check(values: list[Any]) -> None:
        subscription = one("aws:sns/topicSubscription:TopicSubscription").inputs
        assert subscription["protocol"] == "email" and subscription["endpoint"] == "ops@example.com"
        assert subscription["topic"] == values[0]
        policy = as_json(one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
        principals = policy["Statement"][0]["Principal"]["Service"]
        assert set(principals) == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}

    return ready(obs).apply(check)


@pulumi.runtime.test
def test_no_email_subscription_without_an_alarm_email() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        assert resources_of("aws:sns/topicSubscription:TopicSubscription") == []
        budget = one("aws:budgets/budget:Budget").inputs
        assert all(not n.get("subscriberEmailAddresses") for n in budget["notifications"])

    return ready(obs).apply(check)


@pulumi.runtime.test
def test_the_budget_is_monthly_with_the_configured_amount_and_both_notifications() -> Any:
    settings = StackSettings.for_stack("dev", monthly_budget_usd=123.5, alarm_email="o@example.com")
    obs = build(settings)

    def check(values: list[Any]) -> None:
        budget = one("aws:budgets/budget:Budget").inputs
        assert (budget["budgetType"], budget["timeUnit"], budget["limitUnit"]) == (
            "COST",
            "MONTHLY",
            "USD",
        )
        assert float(budget["limitAmount"]) == 123.5
        notes = {(n["notificationType"], n["threshold"]) for n in budget["notifications"]}
        assert notes == {("ACTUAL", 80.0), ("FORECASTED", 100.0)}
        for note in budget["notifications"]:
            assert note["subscriberSnsTopicArns"] == [values[0]]
            assert note["subscriberEmailAddresses"] == ["o@example.com"]

    return ready(obs).apply(check)


@pulumi.runtime.test
def test_the_dashboard_shows_outcomes_latency_throttles_and_modeled_cost() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(values: list[Any]) -> None:
        body = json.loads(one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
        widgets = {w["properties"]["title"]: w["properties"] for w in body["widgets"]}
        text = json.dumps(body)
        for metric in (*dashboard.OUTCOMES, "SignatureFailures", "Rejected_hard_cap_reached"):
            assert f'"{metric}"' in text, metric
        latency = widgets["API latency (ms)"]["metrics"]
        assert {m[-1]["stat"] for m in latency} == {"p50", "p99"}
        cost = next(w for title, w in widgets.items() if title.startswith("Modeled cost"))
        expressions = [m[0]["expression"] for m in cost["metrics"] if "expression" in m[0]]
        assert any(str(dashboard.API_REQUEST_USD) in e for e in expressions)
        assert all(w["region"] == "us-west-2" for w in widgets.values())
        assert values[-1].endswith("#dashboards/dashboard/waybill-dev")

    return pulumi.Output.all(ready(obs), obs.dashboard_url).apply(check)


@pulumi.runtime.test
def test_the_dead_letter_queue_alarms_as_soon_as_it_holds_a_message() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        alarm = alarms()["notify-dlq"]
        assert (alarm["namespace"], alarm["metricName"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
        )
        assert alarm["dimensions"] == {"QueueName": "waybill-dev-notify-dlq"}
        assert alarm["statistic"] == "Maximum"  # a depth: its largest value, not a sum
        assert (alarm["threshold"], alarm["comparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["evaluationPeriods"] == 1
        assert "runbook" in alarm["alarmDescription"]

    return ready(obs).apply(check)


@pulumi.runtime.test
def test_the_dashboard_shows_notifications_latency_the_queue_and_the_background_functions() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        body = json.loads(one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
        widgets = {w["properties"]["title"]: w["properties"] for w in body["widgets"]}
        counts = widgets["Notifications"]["metrics"]
        assert {m[1] for m in counts} == set(dashboard.NOTIFICATIONS)
        assert all(m[0] == "Waybill" and m[3] == "waybill-dev" for m in counts)
        latency = next(w for t, w in widgets.items() if t.startswith("Notification latency"))
        assert [(m[1], m[-1]["stat"]) for m in latency["metrics"]] == [
            ("NotificationLatency", "p50"),
            ("NotificationLatency", "p99"),
        ]
        queue = widgets["Notify dead-letter queue (messages)"]
        assert queue["metrics"] == [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "waybill-dev-notify-dlq"]
        ]
        errors = widgets["Notify and sweeper errors"]["metrics"]
        assert [m[3] for m in errors] == ["waybill-dev-notify", "waybill-dev-sweeper"]
        durations = next(w for t, w in widgets.items() if t.startswith("Notify and sweeper dur"))
        shown = {(m[1], m[3], m[-1]["stat"]) for m in durations["metrics"]}
        assert ("Duration", "waybill-dev-sweeper", "p99") in shown
        assert ("IteratorAge", "waybill-dev-notify", "Maximum") in shown
        cost = next(w for title, w in widgets.items() if title.startswith("Modeled cost"))
        assert "waybill-dev-notify" in json.dumps(cost)  # the new functions are paid for too

    return ready(obs).apply(check)


@pulumi.runtime.test
def test_the_poll_alarms_say_behind_for_15_minutes_a_budget_spent_today_and_failing_checks() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        found = alarms()
        overdue = found["trackers-overdue"]
        assert (overdue["namespace"], overdue["metricName"]) == ("Waybill", "TrackersOverdue")
        assert overdue["statistic"] == "Maximum"  # a count taken at the end of a pass
        assert overdue["period"] * overdue["evaluationPeriods"] == 15 * 60
        assert overdue["datapointsToAlarm"] == overdue["evaluationPeriods"]  # consecutive
        assert overdue["period"] >= SPECS["poller"].timeout  # a report in every period
        budget = found["poll-budget-exhausted"]
        assert (budget["statistic"], budget["threshold"]) == ("Sum", 0)  # at least one
        assert budget["period"] * budget["evaluationPeriods"] == 86_400  # in a day
        assert budget["datapointsToAlarm"] == 1
        assert budget["alarmDescription"].startswith("warning")
        failed = found["polls-failed-rate"]
        queries = {q["id"]: q for q in failed["metricQueries"]}
        assert [q["id"] for q in failed["metricQueries"] if q.get("returnData")] == ["rate"]
        # a period with every check failed has no PollsMade: missing must count as 0
        assert queries["made"]["expression"] == "FILL(polls_made, 0)"
        assert queries["failed"]["expression"] == "FILL(polls_failed, 0)"
        assert "100 * failed / (made + failed)" in queries["rate"]["expression"]
        assert failed["evaluationPeriods"] == failed["datapointsToAlarm"] == 3
        poller = found["lambda-errors-poller"]
        assert poller["dimensions"] == {"FunctionName": "waybill-dev-poller"}
        assert "lambda-throttles-poller" not in found  # throttled by design
        for key in ("trackers-overdue", "poll-budget-exhausted", "polls-failed-rate"):
            assert "runbook" in found[key]["alarmDescription"], key

    return ready(obs).apply(check)


@pulumi.runtime.test
def test_the_dashboard_shows_polling_overdue_trackers_and_the_poller() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        body = json.loads(one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
        widgets = {w["properties"]["title"]: w["properties"] for w in body["widgets"]}
        counts = next(w for t, w in widgets.items() if t.startswith("Polling:"))
        assert {m[1] for m in counts["metrics"]} == set(dashboard.POLLING)
        overdue = next(w for t, w in widgets.items() if t.startswith("Trackers overdue"))
        assert overdue["stat"] == "Maximum"
        errors = next(w for t, w in widgets.items() if t.startswith("Poller errors"))
        assert {(m[1], m[3]) for m in errors["metrics"]} == {
            ("Errors", "waybill-dev-poller"),
            ("Throttles", "waybill-dev-poller"),
        }
        cost = next(w for title, w in widgets.items() if title.startswith("Modeled cost"))
        assert "waybill-dev-poller" in json.dumps(cost)  # its GB-seconds are paid for too

    return ready(obs).apply(check)
