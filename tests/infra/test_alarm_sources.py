"""Alarms on what really fails: the failures Lambda's ``Errors`` misses or misreads are
counted by the code itself (issue 16, findings 2 and 4)."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from infra import dashboard
from infra.settings import StackSettings
from tests.infra.helpers import one
from tests.infra.test_observability import alarms, build, metric_names, ready


@pulumi.runtime.test
def test_the_authorizer_alarms_on_its_own_failures_not_on_lambda_errors() -> Any:
    """A 401 must raise ``Unauthorized``, a Lambda function error: an alarm on the
    authorizer's ``Errors`` fires on every bad key. It watches ``AuthorizerFailed``."""
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        found = alarms()
        authorizer = "waybill-dev-authorizer"
        on_errors = [
            key
            for key, alarm in found.items()
            if alarm.get("metricName") == "Errors"
            and alarm["dimensions"] == {"FunctionName": authorizer}
        ]
        assert on_errors == []
        failed = found["authorizer-failed"]
        assert (failed["namespace"], failed["metricName"]) == ("Waybill", "AuthorizerFailed")
        assert (failed["threshold"], failed["evaluationPeriods"]) == (0, 1)  # any, in 5 min
        refusals = {name for alarm in found.values() for name in metric_names(alarm)}
        assert "AuthorizerRefused" not in refusals  # refusals are normal: shown, not alarmed

    return ready(obs).apply(check)


@pulumi.runtime.test
def test_one_unhandled_500_in_five_minutes_alarms() -> Any:
    """The catch-all answers 500, so Lambda's Errors stays 0 and a lone 500 is below the
    rate alarm's floor: ``unhandled-errors`` watches the catch-all's own count."""
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        alarm = alarms()["unhandled-errors"]
        assert (alarm["namespace"], alarm["metricName"]) == ("Waybill", "UnhandledError")
        assert alarm["dimensions"] == {"service": "waybill-dev"}
        assert (alarm["statistic"], alarm["period"], alarm["evaluationPeriods"]) == ("Sum", 300, 1)
        assert (alarm["threshold"], alarm["comparisonOperator"]) == (0, "GreaterThanThreshold")
        body = json.loads(one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
        widgets = {w["properties"]["title"]: w["properties"] for w in body["widgets"]}
        shown = widgets["Failures: unhandled 500s and the authorizer"]["metrics"]
        assert [m[:4] for m in shown] == [
            ["Waybill", name, "service", "waybill-dev"] for name in dashboard.FAILURES
        ]

    return ready(obs).apply(check)
