"""What a stack's alarms and dashboard read, and what an AWS metric's dimensions may name.

:data:`DIMENSIONS` is the table for the AWS namespaces: one row per kind of dimension,
saying which recorded resources of the stack its value may name (a new namespace or
dimension kind is one row). A row ``within`` another dimension names a resource that
belongs to the one that dimension names (a stage of *that* API).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tests.infra.conftest import Recorded

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
LOG_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION = "aws:lambda/function:Function"


@dataclass(frozen=True)
class Watched:
    """One metric an alarm or a dashboard widget reads."""

    where: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]


def name_of(resource: Recorded) -> str:
    """A resource's ``name``: its input, else the mocks' default (the Pulumi name)."""
    return str(resource.inputs.get("name", resource.name))


def id_of(resource: Recorded) -> str:
    """A resource's ID as the mocks make it (``conftest.Mocks.new_resource``)."""
    return f"{resource.name}-id"


def _input(key: str) -> Callable[[Recorded], str]:
    return lambda resource: str(resource.inputs.get(key))


@dataclass(frozen=True)
class Dimension:
    """A dimension of an AWS namespace whose value names one of the stack's resources."""

    namespace: str
    key: str
    type: str
    value: Callable[[Recorded], str] = name_of
    within: tuple[str, str] | None = None  # (parent dimension, this resource's input naming it)


DIMENSIONS = (
    Dimension("AWS/Lambda", "FunctionName", FUNCTION),
    Dimension("AWS/ApiGateway", "ApiName", "aws:apigateway/restApi:RestApi"),
    Dimension(
        "AWS/ApiGateway",
        "Stage",
        "aws:apigateway/stage:Stage",
        _input("stageName"),
        within=("ApiName", "restApi"),
    ),
    Dimension("AWS/ApiGateway", "ApiId", "aws:apigatewayv2/api:Api", id_of),
    Dimension("AWS/ApiGateway", "Stage", "aws:apigatewayv2/stage:Stage", within=("ApiId", "apiId")),
    Dimension("AWS/DynamoDB", "TableName", "aws:dynamodb/table:Table"),
    Dimension("AWS/SQS", "QueueName", "aws:sqs/queue:Queue"),
    Dimension("AWS/Events", "RuleName", "aws:cloudwatch/eventRule:EventRule"),
)


def _of(resources: Iterable[Recorded], type_token: str) -> list[Recorded]:
    return [r for r in resources if r.type == type_token]


def _names(resource: Recorded, row: Dimension, value: str) -> bool:
    return resource.type == row.type and row.value(resource) == value


def _belongs(
    row: Dimension, resource: Recorded, dims: Mapping[str, str], resources: list[Recorded]
) -> bool:
    if row.within is None:
        return True
    parent_key, reference = row.within
    if parent_key not in dims:
        return False
    parents = [
        parent
        for parent_row in DIMENSIONS
        if (parent_row.namespace, parent_row.key) == (row.namespace, parent_key)
        for parent in resources
        if _names(parent, parent_row, dims[parent_key])
    ]
    return any(resource.inputs.get(reference) == id_of(parent) for parent in parents)


def aws_problems(metric: Watched, resources: list[Recorded]) -> Iterator[str]:
    """Why ``metric`` (in an AWS namespace) is not tied to this stack's resources, if it is not."""
    rows = [row for row in DIMENSIONS if row.namespace == metric.namespace]
    dims = dict(metric.dimensions)
    if not rows:
        yield f"{metric.where}: no row of DIMENSIONS for namespace {metric.namespace}"
    elif not dims:
        yield f"{metric.where}: {metric.namespace} {metric.name} for the whole account"
    for key, value in dims.items() if rows else ():
        candidates = [row for row in rows if row.key == key]
        if not candidates:
            yield f"{metric.where}: no row of DIMENSIONS for {metric.namespace} {key}"
        elif not any(
            _names(resource, row, value) and _belongs(row, resource, dims, resources)
            for row in candidates
            for resource in _of(resources, row.type)
        ):
            yield f"{metric.where}: {metric.name} {key}={value!r} names no resource of the stack"


def _pairs(dimensions: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (dimensions or {}).items()))


def alarm_metrics(resources: Iterable[Recorded]) -> Iterator[Watched]:
    """Every metric every alarm reads, directly or in its metric math."""
    for alarm in _of(resources, ALARM):
        inputs, where = alarm.inputs, f"alarm {name_of(alarm)}"
        if inputs.get("metricName"):
            dims = _pairs(inputs.get("dimensions"))
            yield Watched(where, inputs["namespace"], inputs["metricName"], dims)
        for query in inputs.get("metricQueries") or []:
            assert "SEARCH(" not in str(query.get("expression", "")), f"{where}: a SEARCH"
            if metric := query.get("metric"):
                dims = _pairs(metric.get("dimensions"))
                yield Watched(where, metric["namespace"], metric["metricName"], dims)


def dashboard_metrics(body: Mapping[str, Any], region: str) -> Iterator[Watched]:
    """Every metric of a dashboard body; ``"."`` repeats the row above, as CloudWatch reads
    it. A widget or metric of another region, or another account, fails."""
    for widget in body["widgets"]:
        properties = widget.get("properties", {})
        where = f"dashboard widget {properties.get('title')!r}"
        if "metrics" not in properties:  # text, a log query: reads no metric
            continue
        assert properties.get("region") == region, f"{where}: region {properties.get('region')}"
        previous: list[Any] = []
        for row in properties["metrics"]:
            options = row[-1] if isinstance(row[-1], dict) else {}
            assert "SEARCH(" not in str(options.get("expression", "")), f"{where}: a SEARCH"
            if "expression" in options:
                continue
            assert options.get("region", region) == region and "accountId" not in options, where
            values = [v for v in row if not isinstance(v, dict)]
            values = [previous[i] if v == "." else v for i, v in enumerate(values)]
            previous = values
            dims = tuple(sorted(zip(values[2::2], values[3::2], strict=True)))
            yield Watched(where, values[0], values[1], dims)


def filter_metrics(resources: Iterable[Recorded]) -> Iterator[tuple[str, str, Watched]]:
    """(filter, its log group, the metric) of every metric filter of the stack."""
    for log_filter in _of(resources, LOG_FILTER):
        out = log_filter.inputs["metricTransformation"]
        dims = _pairs(out.get("dimensions"))
        metric = Watched(f"filter {name_of(log_filter)}", out["namespace"], out["name"], dims)
        yield name_of(log_filter), log_filter.inputs["logGroupName"], metric


def functions(resources: Iterable[Recorded]) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(name, handler module, environment) of every Lambda function of the stack."""
    for function in _of(resources, FUNCTION):
        variables = (function.inputs.get("environment") or {}).get("variables") or {}
        module = str(function.inputs["handler"]).rsplit(".", 1)[0]
        yield name_of(function), module, {str(k): str(v) for k, v in variables.items()}
