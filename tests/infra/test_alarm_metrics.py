"""Every alarm and dashboard metric of each stack is one the stack really produces.

Each stack (dev, staging, prod) is built whole, from its ``Pulumi.<stack>.yaml``. A metric
in the application's namespace must be one the code emits (names read off gateway/'s
source, :mod:`tests.infra.emitted`), from a function of the stack whose handler reaches
the emitting code, with exactly the dimensions that code writes under that function's
environment. A metric of a stack's own metric filter must be that filter's, over a log
group of the stack. A metric in an AWS namespace must name this stack's resources
(:data:`tests.infra.watched.DIMENSIONS`).
"""

from __future__ import annotations

import ast
import json
from functools import cache
from unittest import mock

import pulumi
import pytest
import yaml
from pulumi.runtime.config import CONFIG

from infra import program
from infra.settings import REPO_ROOT, StackSettings
from tests.infra import emitted, watched
from tests.infra.conftest import ACCOUNT, RESOURCES, Recorded
from tests.infra.source import Unresolved, error_codes, names_of
from tests.infra.watched import Watched

STACKS = ("dev", "staging", "prod")
CODE = pulumi.AssetArchive({"gateway/__init__.py": pulumi.StringAsset("")})
NAMESPACE_VARIABLE = "POWERTOOLS_METRICS_NAMESPACE"
ACCOUNTS = "aws:allowedAccountIds"


def stack_settings(stack: str) -> StackSettings:
    """The settings ``pulumi up`` would read for ``stack`` from its stack file (with the
    mocks' account where the file leaves ``aws:allowedAccountIds`` for ops to set)."""
    config = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    values = {key: str(value) for key, value in config.items()}
    values.setdefault(ACCOUNTS, json.dumps([ACCOUNT]))
    token = CONFIG.set(values)
    try:
        with mock.patch.object(pulumi, "get_stack", return_value=stack):
            return StackSettings.from_config()
    finally:
        CONFIG.reset(token)


@cache
def deployed(stack: str) -> tuple[tuple[Recorded, ...], StackSettings]:
    """Every resource ``stack`` registers, once every registration has finished."""
    settings = stack_settings(stack)
    RESOURCES.clear()
    pulumi.runtime.test(lambda: program.main(settings, CODE))()
    return tuple(RESOURCES), settings


def watched_metrics(resources: list[Recorded], region: str) -> list[Watched]:
    """What every alarm and the dashboard of the stack read."""
    boards = [r for r in resources if r.type == watched.DASHBOARD]
    assert len(boards) == 1
    body = json.loads(boards[0].inputs["dashboardBody"])
    return [*watched.alarm_metrics(resources), *watched.dashboard_metrics(body, region)]


def emitted_by(resources: list[Recorded]) -> set[emitted.Metric]:
    """What the stack's functions emit, each under its own handler and environment."""
    return emitted.metrics_of((m, env) for _, m, env in watched.functions(resources))


def from_filters(resources: list[Recorded]) -> set[emitted.Metric]:
    """What the stack's metric filters publish (each over a log group of the stack)."""
    groups = {watched.name_of(g) for g in resources if g.type == watched.LOG_GROUP}
    found = set()
    for name, group, metric in watched.filter_metrics(resources):
        assert group in groups, f"filter {name} reads {group}: no log group of the stack"
        found.add(emitted.Metric(metric.namespace, metric.name, frozenset(metric.dimensions)))
    return found


def problems(stack: str) -> list[str]:
    """Every metric read by an alarm or the dashboard of ``stack`` that it does not produce."""
    recorded, settings = deployed(stack)
    resources = list(recorded)
    produced = emitted_by(resources) | from_filters(resources)
    ours = {m.namespace for m in produced}
    found: list[str] = []
    for metric in watched_metrics(resources, settings.region):
        if metric.namespace not in ours:
            found += watched.aws_problems(metric, resources)
            continue
        wanted = emitted.Metric(metric.namespace, metric.name, frozenset(metric.dimensions))
        if wanted not in produced:
            same_name = sorted(
                str(dict(sorted(m.dimensions)))
                for m in produced
                if (m.namespace, m.name) == (wanted.namespace, wanted.name)
            )
            found.append(
                f"{metric.where}: {metric.namespace} {metric.name} {dict(metric.dimensions)} "
                f"is not emitted (emitted with: {same_name or 'never'})"
            )
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_alarm_and_dashboard_metric_is_one_the_stack_produces(stack: str) -> None:
    assert problems(stack) == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_check_sees_every_alarm_and_every_kind_of_metric(stack: str) -> None:
    """The check above is not vacuous: each alarm yields the metrics it reads (metric math
    included), and application, AWS and metric-filter metrics are all among them."""
    recorded, settings = deployed(stack)
    resources = list(recorded)
    metrics = watched_metrics(resources, settings.region)
    alarms = {f"alarm {watched.name_of(r)}" for r in resources if r.type == watched.ALARM}
    assert alarms and {m.where for m in metrics if m.where.startswith("alarm ")} == alarms
    math = [r for r in resources if r.type == watched.ALARM and r.inputs.get("metricQueries")]
    for alarm in math:
        queried = [q for q in alarm.inputs["metricQueries"] if q.get("metric")]
        assert len([m for m in metrics if m.where == f"alarm {watched.name_of(alarm)}"]) == len(
            queried
        )
    namespaces = {m.namespace for m in metrics}
    assert {"Waybill", "AWS/Lambda", "AWS/ApiGateway", "AWS/DynamoDB", "AWS/SQS"} <= namespaces
    assert f"Waybill/{stack}" in namespaces  # the access log's 429 filter


@pytest.mark.parametrize("stack", STACKS)
def test_a_namespace_set_in_a_function_environment_is_the_one_its_code_writes(stack: str) -> None:
    """Powertools ignores ``POWERTOOLS_METRICS_NAMESPACE`` when the code names one; the
    variable must then say what the code does, or it misleads whoever reads the stack."""
    recorded, _ = deployed(stack)
    checked = 0
    for name, module, environment in watched.functions(list(recorded)):
        written = {m.namespace for m in emitted.metrics_of([(module, environment)])}
        if NAMESPACE_VARIABLE in environment and written:
            assert written == {environment[NAMESPACE_VARIABLE]}, name
            checked += 1
    assert checked


def test_the_emitted_names_are_read_off_every_emission_path() -> None:
    sites = emitted.sites()
    kinds = {channel.kind for site in sites for channel in site.paths}
    assert kinds == {"powertools", "emf"}  # Powertools, and the authorizer's own EMF lines
    names = set().union(*(site.names for site in sites))
    codes = error_codes()
    assert "hard_cap_reached" in codes and "invalid_signature" in codes  # raised, declared
    assert {f"Rejected_{code}" for code in codes} <= names  # the f-string, enumerated
    assert "TrackersOverdue" in names and "NotificationLatency" in names  # injected counters
    assert "SubmitItemsRejected" in names  # a local name for one: count = ….pipeline.count


def test_an_unresolvable_metric_name_fails_rather_than_passes() -> None:
    with pytest.raises(Unresolved, match="some_variable"):
        names_of(ast.parse("some_variable", mode="eval").body, "gateway.observability")


# -- the AWS table, on resources the stacks do not create yet (the HTTP API) --

V2_API, V2_STAGE = "aws:apigatewayv2/api:Api", "aws:apigatewayv2/stage:Stage"
HTTP_APIS = [
    Recorded(V2_API, "hooks", {"name": "waybill-dev-hooks"}),
    Recorded(V2_STAGE, "hooks-stage", {"name": "$default", "apiId": "hooks-id"}),
    Recorded(V2_API, "other", {"name": "waybill-dev-other"}),
    Recorded(V2_STAGE, "other-stage", {"name": "live", "apiId": "other-id"}),
]
"""Two HTTP APIs (IDs as the mocks make them: ``{name}-id``), one stage each."""


@pytest.mark.parametrize(
    ("dimensions", "ok"),
    [
        ({"ApiId": "hooks-id", "Stage": "$default"}, True),
        ({"ApiId": "hooks-id"}, True),
        ({"ApiId": "other-id", "Stage": "live"}, True),
        ({"ApiId": "gone-id", "Stage": "$default"}, False),  # no API of the stack
        ({"ApiId": "hooks-id", "Stage": "live"}, False),  # the other API's stage
        ({"Stage": "$default"}, False),  # a stage of no named API
        ({"ApiId": "hooks-id", "Route": "POST /x"}, False),  # a kind without a row
        ({}, False),  # the whole account's
    ],
)
def test_an_http_api_metric_must_name_the_stacks_api_and_its_stage(
    dimensions: dict[str, str], ok: bool
) -> None:
    metric = Watched("test", "AWS/ApiGateway", "Count", tuple(sorted(dimensions.items())))
    assert (list(watched.aws_problems(metric, HTTP_APIS)) == []) is ok


def test_a_namespace_without_a_row_is_reported() -> None:
    metric = Watched("test", "AWS/Kinesis", "GetRecords.Bytes", (("StreamName", "s"),))
    found = list(watched.aws_problems(metric, []))
    assert found == ["test: no row of DIMENSIONS for namespace AWS/Kinesis"]
