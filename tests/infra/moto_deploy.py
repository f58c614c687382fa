"""A "deploy" into moto: Pulumi mocks that create every resource in moto and pass real IDs.

:class:`MotoMocks` answers each registration by creating the resource in moto (inside
``mock_aws``) with boto3 and its real inputs, and returns the real id and computed state
(ARNs, invoke ARNs, URLs, stream ARNs, versions), so every dependent resource receives
what AWS would give it. Moto refuses a reference to something that does not exist: a
missing dependency or a wrong ID fails the deploy, as it would fail ``pulumi up``.

Table-driven: :data:`CREATORS` maps a type token to one small function; a new type is one
entry. A type with no creator fails the deploy (:attr:`MotoMocks.missing` lists it),
except the few in :data:`PLAIN`, each with why, whose state is computed the plain way.

Where moto is more lenient than AWS, a creator checks what AWS checks (``# AWS:`` notes):
a usage plan's stages, a stage's deployment, a WAF association's resource, an event source
mapping's execution role. Where AWS itself accepts a dangling reference that would fail at
run time (an integration URI naming no function, an alarm action naming no topic, an
event target or a permission's source naming nothing), the creator refuses it too
(``# strict:`` notes): this harness exists to catch wiring errors before a first deploy.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import io
import json
import re
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pulumi
from botocore.config import Config
from moto import mock_aws
from moto.core.config import DefaultConfig
from pulumi.runtime.settings import SETTINGS

from tests.infra.iam import Request, allowed

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-west-2"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # how the mocks see a Pulumi secret
MOTO_CONFIG: DefaultConfig = {"iam": {"load_aws_managed_policies": True}}  # the bootstrap's
Inputs = dict[str, Any]
State = dict[str, Any]
Creator = Callable[["MotoMocks", str, Inputs], tuple[str, State]]

CREATORS: dict[str, Creator] = {}
"""Type token → the function that creates the resource in moto: ``(mocks, name, inputs) ->
(id, computed state)``."""
PLAIN: dict[str, str] = {
    # Components: no cloud resource of their own; their children are registered apart.
    "waybill:": "a component resource: nothing in AWS",
    # Providers: explicit provider instances are engine objects, not AWS resources.
    "pulumi:providers:": "a provider instance: nothing in AWS",
    # Random values are computed by the random provider on the machine running Pulumi.
    "random:index/randomPassword:RandomPassword": "generated locally by the random provider",
}
"""Type tokens (or ``prefix:`` for a family) that moto cannot hold because AWS does not hold
them either; their state is computed the plain way (:func:`plain_state`)."""


def creates(*types: str) -> Callable[[Creator], Creator]:
    """Register the decorated function as the creator of ``types``."""

    def register(function: Creator) -> Creator:
        for token in types:
            CREATORS[token] = function
        return function

    return register


def plain_of(token: str) -> str | None:
    """Why ``token`` is in :data:`PLAIN` (``None``: it is not)."""
    for key, why in PLAIN.items():
        if token == key or (key.endswith(":") and token.startswith(key)):
            return why
    return None


def unsecret(value: Any) -> Any:
    """Inputs as plain data: a Pulumi secret (``{SECRET_SIG: …, "value": v}``) becomes ``v``."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return unsecret(value.get("value"))
        return {k: unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsecret(v) for v in value]
    return value


def autoname(name: str, limit: int = 64) -> str:
    """What pulumi-aws names a resource given no ``name``: its Pulumi name and a suffix."""
    suffix = hashlib.sha256(name.encode()).hexdigest()[:7]
    return f"{name.replace('/', '-')[: limit - 8]}-{suffix}"


def fake_password(resource_name: str, length: int) -> str:
    """A RandomPassword's result: URL-safe characters, fixed per name (as the plain mocks)."""
    import base64

    raw = hashlib.sha256(resource_name.encode()).digest() * 4
    return base64.urlsafe_b64encode(raw).decode()[:length]


def plain_state(token: str, name: str, inputs: Inputs) -> tuple[str, State]:
    """The state of a :data:`PLAIN` type: its inputs, and a password's result."""
    state: State = dict(inputs)
    if token == "random:index/randomPassword:RandomPassword":
        state["result"] = fake_password(name, int(inputs.get("length", 43)))
    return f"{name}-id", state


def tiny_zip() -> bytes:
    """The code of every function: moto stores it, nothing runs it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


class MissingCreatorError(RuntimeError):
    """A resource type with no creator and not in :data:`PLAIN`."""


class DanglingReferenceError(RuntimeError):
    """A reference AWS (or this harness, strictly) refuses: the named resource does not exist."""


@dataclass(frozen=True)
class Created:
    """One resource as moto made it."""

    type: str
    name: str
    id: str
    inputs: Inputs
    state: State


@dataclass
class Outcome:
    """What a deploy did: each resource created, each failure, each type with no creator."""

    created: list[Created] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # type, name, error
    missing: set[str] = field(default_factory=set)
    error: BaseException | None = None
    seconds: float = 0.0

    def of(self, token: str) -> list[Created]:
        """Every created resource of ``token``, in order."""
        return [c for c in self.created if c.type == token]

    def named(self, token: str, name: str) -> Created:
        """The created resource of ``token`` whose Pulumi name is ``name``."""
        found = [c for c in self.of(token) if c.name == name]
        assert len(found) == 1, f"no single {token} named {name!r}"
        return found[0]

    def counts(self) -> Counter[str]:
        """Resources created per type."""
        return Counter(c.type for c in self.created)

    def cloud_resources(self) -> int:
        """Resources that exist in AWS (not components, providers or random values)."""
        return sum(1 for c in self.created if plain_of(c.type) is None)

    def report(self) -> str:
        """The failures and missing types, one a line (empty when the deploy succeeded)."""
        lines = [f"no creator for {token} (add one to CREATORS)" for token in sorted(self.missing)]
        lines += [f"{token} {name}: {error}" for token, name, error in self.failures]
        if self.error is not None and not lines:
            lines.append(f"the program raised: {self.error!r}")
        return "\n".join(lines)


class MotoMocks(pulumi.runtime.Mocks):
    """Creates each registered resource in moto; see the module docstring."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self.outcome = Outcome()
        self._clients: dict[str, Any] = {}
        # The engine registers resources from several threads; moto's backends are not
        # thread-safe (and it is faster): one creator at a time.
        self._lock = threading.RLock()
        self.deployed_methods: dict[str, set[str]] = {}
        """Per REST deployment id: the methods (``"GET /v1/x"``) that existed when it was made."""

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` in the deploy's region (inside ``mock_aws``)."""
        if service not in self._clients:
            config = (
                Config(account_id_endpoint_mode="disabled")
                if service in ("dynamodb", "dynamodbstreams")
                else None
            )
            factory: Any = boto3.client  # its overloads want a literal service name
            self._clients[service] = factory(service, region_name=self.region, config=config)
        return self._clients[service]

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, State]:
        with self._lock:
            return self._new_resource(args)

    def _new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, State]:
        inputs = unsecret(dict(args.inputs))
        creator = CREATORS.get(args.typ)
        if creator is None:
            if plain_of(args.typ) is None:
                self.outcome.missing.add(args.typ)
                raise MissingCreatorError(f"no moto creator for {args.typ} ({args.name})")
            resource_id, state = plain_state(args.typ, args.name, inputs)
        else:
            try:
                resource_id, computed = creator(self, args.name, inputs)
            except Exception as exc:
                self.outcome.failures.append((args.typ, args.name, f"{type(exc).__name__}: {exc}"))
                raise
            state = {**inputs, **computed}
        self.outcome.created.append(Created(args.typ, args.name, resource_id, inputs, state))
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        with self._lock:
            return self._call(args)

    def _call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            who = self.client("sts").get_caller_identity()
            return {
                "accountId": who["Account"],
                "arn": who["Arn"],
                "userId": who["UserId"],
                "id": who["Account"],
            }, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        self.outcome.failures.append(("call", args.token, "no moto answer for this invoke"))
        raise MissingCreatorError(f"no moto answer for the invoke {args.token}")

    # -- lookups shared by the creators ------------------------------------------------

    def role_name(self, arn: str) -> str:
        """The name of the role ``arn`` names; raises when moto has no such role."""
        name = arn.rsplit("/", 1)[-1]
        role = self.client("iam").get_role(RoleName=name)["Role"]
        if role["Arn"] != arn:
            raise DanglingReferenceError(f"role ARN {arn} is not {role['Arn']}")
        return name

    def role_document(self, role: str) -> dict[str, Any]:
        """All inline policies of ``role`` as one document (the harness's roles use no other)."""
        iam = self.client("iam")
        statements: list[Any] = []
        for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
            document = json.loads(document) if isinstance(document, str) else document
            found = document["Statement"]
            statements += found if isinstance(found, list) else [found]
        return {"Version": "2012-10-17", "Statement": statements}

    def lambda_target(self, arn: str) -> dict[str, Any]:
        """The function (or alias) a Lambda ARN names; raises when moto has none."""
        match = re.fullmatch(r"arn:aws:lambda:[^:]+:\d{12}:function:([^:]+)(?::([^:]+))?", arn)
        if not match:
            raise DanglingReferenceError(f"{arn} is not a Lambda function ARN")
        function, qualifier = match.groups()
        lam = self.client("lambda")
        if qualifier and not qualifier.isdigit() and qualifier != "$LATEST":
            return dict(lam.get_alias(FunctionName=function, Name=qualifier))
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        return dict(lam.get_function(FunctionName=function, **kwargs)["Configuration"])

    def invoke_target(self, uri: str) -> dict[str, Any]:
        """The function an API Gateway Lambda integration URI invokes."""
        match = re.fullmatch(
            r"arn:aws:apigateway:[^:]+:lambda:path/2015-03-31/functions/(.+)/invocations", uri
        )
        if not match:
            raise DanglingReferenceError(f"{uri} is not a Lambda invocation URI")
        return self.lambda_target(match.group(1))

    def topic(self, arn: str) -> None:
        """Raises unless ``arn`` is an SNS topic moto holds."""
        self.client("sns").get_topic_attributes(TopicArn=arn)

    def stage(self, api_id: str, stage: str) -> dict[str, Any]:
        """A REST API stage; raises when there is none."""
        return dict(self.client("apigateway").get_stage(restApiId=api_id, stageName=stage))

    def execute_api(self, arn: str) -> str:
        """The API id an ``execute-api`` ARN names; raises unless it is a REST or HTTP API."""
        match = re.fullmatch(rf"arn:aws:execute-api:{self.region}:{ACCOUNT}:([a-z0-9]+)(/.*)?", arn)
        if not match:
            raise DanglingReferenceError(f"{arn} is not an execute-api ARN of this account")
        api_id = match.group(1)
        rest = {a["id"] for a in self.client("apigateway").get_rest_apis()["items"]}
        http = {a["ApiId"] for a in self.client("apigatewayv2").get_apis()["Items"]}
        if api_id not in rest | http:
            raise DanglingReferenceError(f"{arn}: no API {api_id}")
        return api_id


def _tags_list(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _drop_none(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def invocation_uri(region: str, arn: str) -> str:
    """API Gateway's URI invoking the Lambda ARN ``arn`` (a function's or alias's invoke ARN)."""
    return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"


# -- KMS -------------------------------------------------------------------------------


@creates("aws:kms/key:Key")
def kms_key(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    window = int(inp.get("deletionWindowInDays", 30))
    if not 7 <= window <= 30:  # AWS: ScheduleKeyDeletion's bounds, checked by the provider
        raise ValueError(f"deletion window {window} not in [7, 30]")
    kms = m.client("kms")
    key = kms.create_key(
        **_drop_none(
            Description=inp.get("description"),
            KeyUsage=inp.get("keyUsage", "ENCRYPT_DECRYPT"),
            KeySpec=inp.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT"),
            Policy=inp.get("policy"),
            Tags=[{"TagKey": k, "TagValue": v} for k, v in (inp.get("tags") or {}).items()],
        )
    )["KeyMetadata"]
    if inp.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    return key["KeyId"], {"keyId": key["KeyId"], "arn": key["Arn"]}


@creates("aws:kms/alias:Alias")
def kms_alias(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    kms = m.client("kms")
    alias = inp.get("name") or f"alias/{autoname(name)}"
    kms.create_alias(AliasName=alias, TargetKeyId=inp["targetKeyId"])
    key = kms.describe_key(KeyId=inp["targetKeyId"])["KeyMetadata"]
    arn = f"arn:aws:kms:{m.region}:{ACCOUNT}:{alias}"
    return alias, {"name": alias, "arn": arn, "targetKeyArn": key["Arn"]}


# -- IAM -------------------------------------------------------------------------------


@creates("aws:iam/role:Role")
def iam_role(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    iam = m.client("iam")
    role_name = inp.get("name") or autoname(name)
    role = iam.create_role(
        **_drop_none(
            RoleName=role_name,
            Path=inp.get("path"),
            AssumeRolePolicyDocument=inp["assumeRolePolicy"],
            Description=inp.get("description"),
            MaxSessionDuration=_int(inp.get("maxSessionDuration")),
            Tags=_tags_list(inp.get("tags")) or None,
        )
    )["Role"]
    for policy in inp.get("inlinePolicies") or []:
        iam.put_role_policy(
            RoleName=role_name, PolicyName=policy["name"], PolicyDocument=policy["policy"]
        )
    for arn in inp.get("managedPolicyArns") or []:
        iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
    return role_name, {"name": role_name, "arn": role["Arn"], "uniqueId": role["RoleId"]}


@creates("aws:iam/rolePolicy:RolePolicy")
def iam_role_policy(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    policy_name = inp.get("name") or autoname(name, 128)
    m.client("iam").put_role_policy(
        RoleName=inp["role"], PolicyName=policy_name, PolicyDocument=inp["policy"]
    )
    return f"{inp['role']}:{policy_name}", {"name": policy_name}


@creates("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def iam_role_policy_attachment(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    m.client("iam").attach_role_policy(RoleName=inp["role"], PolicyArn=inp["policyArn"])
    return f"{inp['role']}-{autoname(name)}", {}


# -- DynamoDB --------------------------------------------------------------------------


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _index(spec: Inputs) -> dict[str, Any]:
    keys = spec.get("keySchemas") or [
        {"attributeName": a, "keyType": t}
        for a, t in ((spec.get("hashKey"), "HASH"), (spec.get("rangeKey"), "RANGE"))
        if a
    ]
    projection: dict[str, Any] = {"ProjectionType": spec["projectionType"]}
    if spec.get("nonKeyAttributes"):
        projection["NonKeyAttributes"] = spec["nonKeyAttributes"]
    return {
        "IndexName": spec["name"],
        "KeySchema": [{"AttributeName": k["attributeName"], "KeyType": k["keyType"]} for k in keys],
        "Projection": projection,
    }


@creates("aws:dynamodb/table:Table")
def dynamodb_table(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    ddb = m.client("dynamodb")
    table_name = inp.get("name") or autoname(name, 255)
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inp["attributes"]
        ],
        "KeySchema": _key_schema(inp["hashKey"], inp.get("rangeKey")),
        "BillingMode": inp.get("billingMode", "PROVISIONED"),
        "DeletionProtectionEnabled": bool(inp.get("deletionProtectionEnabled")),
    }
    if inp.get("globalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = [_index(i) for i in inp["globalSecondaryIndexes"]]
    if inp.get("streamEnabled"):
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": inp["streamViewType"],
        }
    sse = inp.get("serverSideEncryption") or {}
    if sse.get("enabled"):
        key = sse.get("kmsKeyArn")
        if key:  # AWS: the table's key must exist
            m.client("kms").describe_key(KeyId=key)
        kwargs["SSESpecification"] = _drop_none(Enabled=True, SSEType="KMS", KMSMasterKeyId=key)
    if inp.get("tags"):
        kwargs["Tags"] = _tags_list(inp["tags"])
    table = ddb.create_table(**kwargs)["TableDescription"]
    ttl = inp.get("ttl") or {}
    if ttl.get("enabled"):
        ddb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]},
        )
    if (inp.get("pointInTimeRecovery") or {}).get("enabled"):
        ddb.update_continuous_backups(
            TableName=table_name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    state = {"name": table_name, "arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        state |= {"streamArn": table["LatestStreamArn"], "streamLabel": table["LatestStreamLabel"]}
    return table_name, state


@creates("aws:dynamodb/tableItem:TableItem")
def dynamodb_table_item(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    item = json.loads(inp["item"])
    schema = m.client("dynamodb").describe_table(TableName=inp["tableName"])["Table"]["KeySchema"]
    declared = [inp["hashKey"], *([inp["rangeKey"]] if inp.get("rangeKey") else [])]
    if declared != [k["AttributeName"] for k in schema]:  # AWS (the provider): keys must match
        raise ValueError(f"item keys {declared} are not the table's {schema}")
    m.client("dynamodb").put_item(TableName=inp["tableName"], Item=item)
    key = "|".join(next(iter(item[k].values())) for k in declared)
    return f"{inp['tableName']}|{key}", {}


# -- Secrets Manager -------------------------------------------------------------------


@creates("aws:secretsmanager/secret:Secret")
def secret(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    window = inp.get("recoveryWindowInDays")
    if window is not None and not (int(window) == 0 or 7 <= int(window) <= 30):
        raise ValueError(f"recovery window {window}: 0 or 7-30 days")  # AWS: DeleteSecret's
    if inp.get("kmsKeyId"):  # AWS: the key is checked when a value is first encrypted
        m.client("kms").describe_key(KeyId=inp["kmsKeyId"])
    made = m.client("secretsmanager").create_secret(
        **_drop_none(
            Name=inp.get("name") or autoname(name, 512),
            Description=inp.get("description"),
            KmsKeyId=inp.get("kmsKeyId"),
            Tags=_tags_list(inp.get("tags")) or None,
        )
    )
    return made["ARN"], {"arn": made["ARN"], "name": made["Name"]}


@creates("aws:secretsmanager/secretVersion:SecretVersion")
def secret_version(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    put = m.client("secretsmanager").put_secret_value(
        SecretId=inp["secretId"], SecretString=inp["secretString"]
    )
    return f"{put['ARN']}|{put['VersionId']}", {"arn": put["ARN"], "versionId": put["VersionId"]}


# -- CloudWatch Logs, metrics, dashboards ----------------------------------------------


@creates("aws:cloudwatch/logGroup:LogGroup")
def log_group(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    logs = m.client("logs")
    group = inp.get("name") or autoname(name, 512)
    logs.create_log_group(**_drop_none(logGroupName=group, tags=inp.get("tags") or None))
    if inp.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=group, retentionInDays=int(inp["retentionInDays"]))
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["arn"]
    return group, {"name": group, "arn": arn.removesuffix(":*")}  # the provider trims ":*"


@creates("aws:cloudwatch/logMetricFilter:LogMetricFilter")
def log_metric_filter(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    logs = m.client("logs")
    group = inp["logGroupName"]
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        raise DanglingReferenceError(f"no log group {group}")  # AWS: ResourceNotFound
    transformations = []
    for t in [inp["metricTransformation"]]:
        transformations.append(
            _drop_none(
                metricName=t["name"],
                metricNamespace=t["namespace"],
                metricValue=t["value"],
                defaultValue=None if t.get("defaultValue") is None else float(t["defaultValue"]),
                dimensions=t.get("dimensions") or None,
                unit=t.get("unit"),
            )
        )
    logs.put_metric_filter(
        logGroupName=group,
        filterName=inp["name"],
        filterPattern=inp["pattern"],
        metricTransformations=transformations,
    )
    return inp["name"], {}


def _metric_query(q: Inputs) -> dict[str, Any]:
    query: dict[str, Any] = _drop_none(
        Id=q["id"],
        Expression=q.get("expression"),
        Label=q.get("label"),
        ReturnData=q.get("returnData"),
        Period=_int(q.get("period")),
        AccountId=q.get("accountId"),
    )
    metric = q.get("metric")
    if metric:
        query["MetricStat"] = _drop_none(
            Metric={
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": [
                    {"Name": k, "Value": v} for k, v in (metric.get("dimensions") or {}).items()
                ],
            },
            Period=int(metric["period"]),
            Stat=metric["stat"],
            Unit=metric.get("unit"),
        )
    return query


@creates("aws:cloudwatch/metricAlarm:MetricAlarm")
def metric_alarm(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    actions = {
        key: inp.get(field) or []
        for key, field in (
            ("AlarmActions", "alarmActions"),
            ("OKActions", "okActions"),
            ("InsufficientDataActions", "insufficientDataActions"),
        )
    }
    for arn in {a for values in actions.values() for a in values}:
        m.topic(arn)  # strict: AWS accepts an action naming no topic, then never notifies
    alarm = inp.get("name") or autoname(name, 255)
    kwargs = _drop_none(
        AlarmName=alarm,
        AlarmDescription=inp.get("alarmDescription"),
        ActionsEnabled=inp.get("actionsEnabled", True),
        ComparisonOperator=inp["comparisonOperator"],
        EvaluationPeriods=int(inp["evaluationPeriods"]),
        DatapointsToAlarm=_int(inp.get("datapointsToAlarm")),
        Threshold=None if inp.get("threshold") is None else float(inp["threshold"]),
        TreatMissingData=inp.get("treatMissingData"),
        Namespace=inp.get("namespace"),
        MetricName=inp.get("metricName"),
        Period=_int(inp.get("period")),
        Statistic=inp.get("statistic"),
        ExtendedStatistic=inp.get("extendedStatistic"),
        Unit=inp.get("unit"),
        **{k: v for k, v in actions.items() if v},
    )
    if inp.get("dimensions"):
        kwargs["Dimensions"] = [{"Name": k, "Value": v} for k, v in inp["dimensions"].items()]
    if inp.get("metricQueries"):
        kwargs["Metrics"] = [_metric_query(q) for q in inp["metricQueries"]]
    cloudwatch = m.client("cloudwatch")
    cloudwatch.put_metric_alarm(**kwargs)
    arn = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]
    return alarm, {"name": alarm, "arn": arn}


@creates("aws:cloudwatch/dashboard:Dashboard")
def dashboard(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    cloudwatch = m.client("cloudwatch")
    cloudwatch.put_dashboard(DashboardName=inp["dashboardName"], DashboardBody=inp["dashboardBody"])
    arn = cloudwatch.get_dashboard(DashboardName=inp["dashboardName"])["DashboardArn"]
    return inp["dashboardName"], {"dashboardArn": arn}


# -- EventBridge -----------------------------------------------------------------------


@creates("aws:cloudwatch/eventRule:EventRule")
def event_rule(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    rule = inp.get("name") or autoname(name)
    made = m.client("events").put_rule(
        **_drop_none(
            Name=rule,
            ScheduleExpression=inp.get("scheduleExpression"),
            EventPattern=inp.get("eventPattern"),
            Description=inp.get("description"),
            State=inp.get("state", "ENABLED"),
            EventBusName=inp.get("eventBusName"),
            RoleArn=inp.get("roleArn"),
            Tags=_tags_list(inp.get("tags")) or None,
        )
    )
    return rule, {"name": rule, "arn": made["RuleArn"]}


@creates("aws:cloudwatch/eventTarget:EventTarget")
def event_target(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    events = m.client("events")
    events.describe_rule(Name=inp["rule"])  # AWS: ResourceNotFoundException
    if inp["arn"].startswith("arn:aws:lambda:"):
        m.lambda_target(inp["arn"])  # strict: AWS accepts a target naming no function
    target_id = inp.get("targetId") or autoname(name)
    events.put_targets(
        Rule=inp["rule"],
        Targets=[_drop_none(Id=target_id, Arn=inp["arn"], Input=inp.get("input"))],
    )
    return f"{inp['rule']}-{target_id}", {"targetId": target_id}


# -- SQS, SNS --------------------------------------------------------------------------

QUEUE_ATTRIBUTES = {
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "redrivePolicy": "RedrivePolicy",
    "redriveAllowPolicy": "RedriveAllowPolicy",
    "policy": "Policy",
    "fifoQueue": "FifoQueue",
}


@creates("aws:sqs/queue:Queue")
def sqs_queue(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    sqs = m.client("sqs")
    attributes = {}
    for key, attribute in QUEUE_ATTRIBUTES.items():
        value = inp.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, float):
            value = str(int(value))
        attributes[attribute] = str(value)
    queue = inp.get("name") or autoname(name, 80)
    url = sqs.create_queue(
        QueueName=queue, Attributes=attributes, tags=dict(inp.get("tags") or {})
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, {"name": queue, "url": url, "arn": arn["QueueArn"]}


@creates("aws:sns/topic:Topic")
def sns_topic(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    topic = inp.get("name") or autoname(name, 256)
    attributes = _drop_none(KmsMasterKeyId=inp.get("kmsMasterKeyId"), Policy=inp.get("policy"))
    arn = m.client("sns").create_topic(
        Name=topic, Attributes=attributes, Tags=_tags_list(inp.get("tags"))
    )["TopicArn"]
    return arn, {"name": topic, "arn": arn}


@creates("aws:sns/topicPolicy:TopicPolicy")
def sns_topic_policy(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    m.client("sns").set_topic_attributes(
        TopicArn=inp["arn"], AttributeName="Policy", AttributeValue=inp["policy"]
    )
    return inp["arn"], {}


@creates("aws:sns/topicSubscription:TopicSubscription")
def sns_subscription(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    m.topic(inp["topic"])  # moto subscribes to a missing topic's ARN; AWS: NotFound
    made = m.client("sns").subscribe(
        TopicArn=inp["topic"],
        Protocol=inp["protocol"],
        Endpoint=inp["endpoint"],
        ReturnSubscriptionArn=True,
    )
    return made["SubscriptionArn"], {"arn": made["SubscriptionArn"]}


# -- Lambda ----------------------------------------------------------------------------

CODE = tiny_zip()


@creates("aws:lambda/function:Function")
def lambda_function(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    lam = m.client("lambda")
    function = inp.get("name") or autoname(name)
    logging = inp.get("loggingConfig")
    made = lam.create_function(
        **_drop_none(
            FunctionName=function,
            Runtime=inp.get("runtime"),
            Role=inp["role"],  # moto: the role must exist
            Handler=inp.get("handler"),
            Code={"ZipFile": CODE},
            Description=inp.get("description"),
            Timeout=_int(inp.get("timeout")),
            MemorySize=_int(inp.get("memorySize")),
            Publish=bool(inp.get("publish")),
            Architectures=inp.get("architectures"),
            Environment={"Variables": (inp.get("environment") or {}).get("variables") or {}},
            TracingConfig={"Mode": (inp.get("tracingConfig") or {}).get("mode", "PassThrough")},
            LoggingConfig=None
            if not logging
            else _drop_none(
                LogFormat=logging.get("logFormat"),
                ApplicationLogLevel=logging.get("applicationLogLevel"),
                SystemLogLevel=logging.get("systemLogLevel"),
                LogGroup=logging.get("logGroup"),
            ),
        )
    )
    if logging and logging.get("logGroup"):  # strict: Lambda would create an unmanaged group
        group = logging["logGroup"]
        found = m.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        if not any(g["logGroupName"] == group for g in found):
            raise DanglingReferenceError(
                f"function {function} logs to {group}, which is no log group"
            )
    reserved = inp.get("reservedConcurrentExecutions")
    if reserved is not None and int(reserved) >= 0:
        lam.put_function_concurrency(
            FunctionName=function, ReservedConcurrentExecutions=int(reserved)
        )
    arn = made["FunctionArn"].split(":$LATEST")[0]
    arn = re.sub(r":\d+$", "", arn)
    version = made.get("Version", "$LATEST")
    return function, {
        "name": function,
        "arn": arn,
        "invokeArn": invocation_uri(m.region, arn),
        "version": version,
        "qualifiedArn": f"{arn}:{version}",
        "qualifiedInvokeArn": invocation_uri(m.region, f"{arn}:{version}"),
    }


@creates("aws:lambda/alias:Alias")
def lambda_alias(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    lam = m.client("lambda")
    lam.get_function(FunctionName=inp["functionName"], Qualifier=inp["functionVersion"])
    weights = ((inp.get("routingConfig") or {}).get("additionalVersionWeights")) or {}
    for version in weights:  # AWS: every routed version must exist
        lam.get_function(FunctionName=inp["functionName"], Qualifier=version)
    made = lam.create_alias(
        **_drop_none(
            FunctionName=inp["functionName"],
            Name=inp["name"],
            FunctionVersion=inp["functionVersion"],
            Description=inp.get("description"),
            RoutingConfig={"AdditionalVersionWeights": weights} if weights else None,
        )
    )
    arn = made["AliasArn"]
    return arn, {"arn": arn, "invokeArn": invocation_uri(m.region, arn)}


@creates("aws:lambda/permission:Permission")
def lambda_permission(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    source = inp.get("sourceArn")
    if source and source.startswith("arn:aws:execute-api:"):
        m.execute_api(source)  # strict: AWS accepts a source that names no API
    elif source and source.startswith("arn:aws:events:"):
        m.client("events").describe_rule(Name=source.rsplit("/", 1)[-1])  # strict, likewise
    statement = inp.get("statementId") or autoname(name, 100)
    m.client("lambda").add_permission(
        **_drop_none(
            FunctionName=inp["function"],
            StatementId=statement,
            Action=inp["action"],
            Principal=inp["principal"],
            SourceArn=source,
            SourceAccount=inp.get("sourceAccount"),
            Qualifier=inp.get("qualifier"),
        )
    )
    return statement, {"statementId": statement}


STREAM_READ = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")


@creates("aws:lambda/eventSourceMapping:EventSourceMapping")
def event_source_mapping(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    lam = m.client("lambda")
    source, function = inp["eventSourceArn"], inp["functionName"]
    destination = ((inp.get("destinationConfig") or {}).get("onFailure") or {}).get(
        "destinationArn"
    )
    # moto: the function (or alias) must exist
    role_arn = lam.get_function(FunctionName=function)["Configuration"]["Role"]
    needs = [Request(action, source) for action in STREAM_READ] if ":dynamodb:" in source else []
    if destination:
        if destination.startswith("arn:aws:sqs:"):
            m.client("sqs").get_queue_url(QueueName=destination.rsplit(":", 1)[-1])
            needs.append(Request("sqs:SendMessage", destination))
        elif destination.startswith("arn:aws:sns:"):
            m.topic(destination)
            needs.append(Request("sns:Publish", destination))
    document = m.role_document(m.role_name(role_arn))
    refused = [r for r in needs if not allowed(document, r)]
    if refused:  # AWS: InvalidParameterValueException, the role cannot …
        shown = ", ".join(f"{r.action} on {r.resource}" for r in refused)
        raise PermissionError(f"the execution role {role_arn} may not {shown}")
    filters = (inp.get("filterCriteria") or {}).get("filters") or []
    made = lam.create_event_source_mapping(
        **_drop_none(
            EventSourceArn=source,  # moto: must be a real queue, stream or Kinesis stream
            FunctionName=function,  # moto: must be a real function (or alias)
            StartingPosition=inp.get("startingPosition"),
            BatchSize=_int(inp.get("batchSize")),
            MaximumBatchingWindowInSeconds=_int(inp.get("maximumBatchingWindowInSeconds")),
            BisectBatchOnFunctionError=inp.get("bisectBatchOnFunctionError"),
            MaximumRetryAttempts=_int(inp.get("maximumRetryAttempts")),
            MaximumRecordAgeInSeconds=_int(inp.get("maximumRecordAgeInSeconds")),
            DestinationConfig={"OnFailure": {"Destination": destination}} if destination else None,
            FilterCriteria={"Filters": [{"Pattern": f["pattern"]} for f in filters]}
            if filters
            else None,
            Enabled=inp.get("enabled"),
        )
    )
    return made["UUID"], {"uuid": made["UUID"], "functionArn": made["FunctionArn"]}


@creates("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
def event_invoke_config(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    lam = m.client("lambda")
    qualifier = inp.get("qualifier")
    if qualifier:  # AWS: the alias or version must exist
        lam.get_function(FunctionName=inp["functionName"], Qualifier=qualifier)
    lam.put_function_event_invoke_config(
        **_drop_none(
            FunctionName=inp["functionName"],
            Qualifier=qualifier,
            MaximumRetryAttempts=_int(inp.get("maximumRetryAttempts")),
            MaximumEventAgeInSeconds=_int(inp.get("maximumEventAgeInSeconds")),
        )
    )
    return f"{inp['functionName']}:{qualifier or ''}", {}


# -- API Gateway (REST) ----------------------------------------------------------------


@creates("aws:apigateway/restApi:RestApi")
def rest_api(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    endpoint = inp.get("endpointConfiguration") or {}
    types = endpoint.get("types")
    made = m.client("apigateway").create_rest_api(
        **_drop_none(
            name=inp.get("name") or autoname(name),
            description=inp.get("description"),
            apiKeySource=inp.get("apiKeySource"),
            binaryMediaTypes=inp.get("binaryMediaTypes"),
            endpointConfiguration={"types": [types] if isinstance(types, str) else types}
            if types
            else None,
            tags=inp.get("tags") or None,
        )
    )
    api_id = made["id"]
    return api_id, {
        "rootResourceId": made["rootResourceId"],
        "executionArn": f"arn:aws:execute-api:{m.region}:{ACCOUNT}:{api_id}",
        "arn": f"arn:aws:apigateway:{m.region}::/restapis/{api_id}",
        "createdDate": str(made["createdDate"]),
    }


@creates("aws:apigateway/resource:Resource")
def api_resource(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    made = m.client("apigateway").create_resource(
        restApiId=inp["restApi"], parentId=inp["parentId"], pathPart=inp["pathPart"]
    )
    return made["id"], {"path": made["path"]}


@creates("aws:apigateway/authorizer:Authorizer")
def api_authorizer(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    if inp.get("authorizerUri"):
        m.invoke_target(inp["authorizerUri"])  # strict: AWS checks only the URI's form
    made = m.client("apigateway").create_authorizer(
        **_drop_none(
            restApiId=inp["restApi"],
            name=inp.get("name") or autoname(name),
            type=inp.get("type", "TOKEN"),
            authorizerUri=inp.get("authorizerUri"),
            identitySource=inp.get("identitySource"),
            authorizerResultTtlInSeconds=_int(inp.get("authorizerResultTtlInSeconds")),
            authorizerCredentials=inp.get("authorizerCredentials"),
            providerARNs=inp.get("providerArns"),
        )
    )
    arn = f"arn:aws:apigateway:{m.region}::/restapis/{inp['restApi']}/authorizers/{made['id']}"
    return made["id"], {"arn": arn}


@creates("aws:apigateway/method:Method")
def api_method(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    apigw = m.client("apigateway")
    if inp.get("authorizerId"):  # AWS: BadRequest "Invalid authorizer ID"
        apigw.get_authorizer(restApiId=inp["restApi"], authorizerId=inp["authorizerId"])
    apigw.put_method(
        **_drop_none(
            restApiId=inp["restApi"],
            resourceId=inp["resourceId"],
            httpMethod=inp["httpMethod"],
            authorizationType=inp["authorization"],
            authorizerId=inp.get("authorizerId"),
            apiKeyRequired=inp.get("apiKeyRequired"),
            requestParameters=inp.get("requestParameters"),
        )
    )
    return f"agm-{inp['restApi']}-{inp['resourceId']}-{inp['httpMethod']}", {}


@creates("aws:apigateway/integration:Integration")
def api_integration(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    apigw = m.client("apigateway")
    apigw.get_method(  # AWS: NotFound "Invalid Method identifier specified"
        restApiId=inp["restApi"], resourceId=inp["resourceId"], httpMethod=inp["httpMethod"]
    )
    if inp.get("type") in ("AWS", "AWS_PROXY") and ":lambda:path/" in (inp.get("uri") or ""):
        m.invoke_target(inp["uri"])  # strict: AWS checks only the URI's form
    apigw.put_integration(
        **_drop_none(
            restApiId=inp["restApi"],
            resourceId=inp["resourceId"],
            httpMethod=inp["httpMethod"],
            type=inp["type"],
            integrationHttpMethod=inp.get("integrationHttpMethod"),
            uri=inp.get("uri"),
            timeoutInMillis=_int(inp.get("timeoutMilliseconds")),
        )
    )
    return f"agi-{inp['restApi']}-{inp['resourceId']}-{inp['httpMethod']}", {}


@creates("aws:apigateway/response:Response")
def api_gateway_response(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    m.client("apigateway").put_gateway_response(
        **_drop_none(
            restApiId=inp["restApiId"],
            responseType=inp["responseType"],
            statusCode=inp.get("statusCode"),
            responseParameters=inp.get("responseParameters") or None,
            responseTemplates=inp.get("responseTemplates") or None,
        )
    )
    return f"aggr-{inp['restApiId']}-{inp['responseType']}", {}


def rest_methods(m: MotoMocks, api_id: str) -> dict[str, bool]:
    """``{"METHOD /path": has an integration}`` of every method the REST API has now."""
    resources = m.client("apigateway").get_resources(restApiId=api_id, embed=["methods"])
    return {
        f"{verb} {resource['path']}": bool(method.get("methodIntegration"))
        for resource in resources["items"]
        for verb, method in (resource.get("resourceMethods") or {}).items()
    }


@creates("aws:apigateway/deployment:Deployment")
def api_deployment(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    methods = rest_methods(m, inp["restApi"])
    bare = sorted(route for route, integrated in methods.items() if not integrated)
    if bare:  # AWS: "No integration defined for method"; moto checks only that one has one
        raise DanglingReferenceError(f"deployment of methods with no integration: {bare}")
    made = m.client("apigateway").create_deployment(
        **_drop_none(restApiId=inp["restApi"], description=inp.get("description"))
    )
    # a deployment is a snapshot: what it serves is what existed now (see deployed_methods)
    m.deployed_methods[made["id"]] = set(methods)
    return made["id"], {
        "createdDate": str(made["createdDate"]),
        "executionArn": f"arn:aws:execute-api:{m.region}:{ACCOUNT}:{inp['restApi']}/",
    }


@creates("aws:apigateway/account:Account")
def api_account(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    role = inp.get("cloudwatchRoleArn")
    if role:  # AWS: "The role ARN does not have required permissions set to API Gateway"
        trust = m.client("iam").get_role(RoleName=m.role_name(role))["Role"]
        principals = json.dumps(trust["AssumeRolePolicyDocument"])
        if "apigateway.amazonaws.com" not in principals:
            raise PermissionError(f"API Gateway cannot assume {role}")
    m.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role or ""}]
    )
    return "api-gateway-account", {}


def _needs_account_role(m: MotoMocks, what: str) -> None:
    """AWS: "CloudWatch Logs role ARN must be set in account settings to enable logging"."""
    if not m.client("apigateway").get_account().get("cloudwatchRoleArn"):
        raise PermissionError(f"{what}: API Gateway's account has no CloudWatch role")


@creates("aws:apigateway/stage:Stage")
def api_stage(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    apigw = m.client("apigateway")
    api_id, stage = inp["restApi"], inp["stageName"]
    apigw.get_deployment(restApiId=api_id, deploymentId=inp["deployment"])  # AWS: NotFound
    apigw.create_stage(
        **_drop_none(
            restApiId=api_id,
            stageName=stage,
            deploymentId=inp["deployment"],
            description=inp.get("description"),
            variables=inp.get("variables") or None,
            tracingEnabled=inp.get("xrayTracingEnabled"),
            tags=inp.get("tags") or None,
        )
    )
    logs = inp.get("accessLogSettings")
    if logs:
        _needs_account_role(m, f"stage {stage} access logs")
        group = logs["destinationArn"].split(":log-group:", 1)[-1]
        found = m.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        if not any(g["arn"].removesuffix(":*") == logs["destinationArn"] for g in found):
            raise DanglingReferenceError(f"no log group {logs['destinationArn']}")  # AWS
        apigw.update_stage(
            restApiId=api_id,
            stageName=stage,
            patchOperations=[
                {
                    "op": "replace",
                    "path": "/accessLogSettings/destinationArn",
                    "value": logs["destinationArn"],
                },
                {"op": "replace", "path": "/accessLogSettings/format", "value": logs["format"]},
            ],
        )
    return f"ags-{api_id}-{stage}", {
        "arn": f"arn:aws:apigateway:{m.region}::/restapis/{api_id}/stages/{stage}",
        "invokeUrl": f"https://{api_id}.execute-api.{m.region}.amazonaws.com/{stage}",
        "executionArn": f"arn:aws:execute-api:{m.region}:{ACCOUNT}:{api_id}/{stage}",
    }


METHOD_SETTINGS = {
    "metricsEnabled": "metrics/enabled",
    "loggingLevel": "logging/loglevel",
    "dataTraceEnabled": "logging/dataTrace",
    "throttlingBurstLimit": "throttling/burstLimit",
    "throttlingRateLimit": "throttling/rateLimit",
    "cachingEnabled": "caching/enabled",
}


@creates("aws:apigateway/methodSettings:MethodSettings")
def api_method_settings(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    api_id, stage, path = inp["restApi"], inp["stageName"], inp["methodPath"]
    m.stage(api_id, stage)  # moto's update_stage makes a missing stage; AWS: NotFound
    settings = inp.get("settings") or {}
    if settings.get("loggingLevel", "OFF") != "OFF" or settings.get("dataTraceEnabled"):
        _needs_account_role(m, f"stage {stage} execution logs")
    operations = []
    for key, setting in METHOD_SETTINGS.items():
        value = settings.get(key)
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if key == "throttlingBurstLimit":
            text = str(int(value))
        operations.append({"op": "replace", "path": f"/{path}/{setting}", "value": text})
    m.client("apigateway").update_stage(
        restApiId=api_id, stageName=stage, patchOperations=operations
    )
    return f"{api_id}-{stage}-{path}", {}


@creates("aws:apigateway/usagePlan:UsagePlan")
def usage_plan(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    stages = [{"apiId": s["apiId"], "stage": s["stage"]} for s in inp.get("apiStages") or []]
    for s in stages:  # AWS: "Invalid stage identifier specified"; moto does not check
        m.stage(s["apiId"], s["stage"])
    throttle = inp.get("throttleSettings") or {}
    quota = inp.get("quotaSettings") or {}
    made = m.client("apigateway").create_usage_plan(
        **_drop_none(
            name=inp.get("name") or autoname(name),
            description=inp.get("description"),
            apiStages=stages or None,
            throttle=_drop_none(
                rateLimit=throttle.get("rateLimit"), burstLimit=_int(throttle.get("burstLimit"))
            )
            or None,
            quota=_drop_none(
                limit=_int(quota.get("limit")),
                period=quota.get("period"),
                offset=_int(quota.get("offset")),
            )
            or None,
            tags=inp.get("tags") or None,
        )
    )
    return made["id"], {"arn": f"arn:aws:apigateway:{m.region}::/usageplans/{made['id']}"}


@creates("aws:apigateway/apiKey:ApiKey")
def api_key(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    made = m.client("apigateway").create_api_key(
        **_drop_none(
            name=inp.get("name") or autoname(name),
            description=inp.get("description"),
            enabled=inp.get("enabled", True),
            value=inp.get("value"),
            tags=inp.get("tags") or None,
        )
    )
    return made["id"], {
        "value": made["value"],
        "createdDate": made["createdDate"].isoformat(),
        "lastUpdatedDate": made["lastUpdatedDate"].isoformat(),
        "arn": f"arn:aws:apigateway:{m.region}::/apikeys/{made['id']}",
    }


@creates("aws:apigateway/usagePlanKey:UsagePlanKey")
def usage_plan_key(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    apigw = m.client("apigateway")
    apigw.get_usage_plan(usagePlanId=inp["usagePlanId"])  # moto files a key under any id
    made = apigw.create_usage_plan_key(  # moto: the key must exist
        usagePlanId=inp["usagePlanId"], keyId=inp["keyId"], keyType=inp["keyType"]
    )
    return made["id"], {"name": made["name"], "value": made["value"]}


# -- API Gateway (HTTP APIs) -----------------------------------------------------------


@creates("aws:apigatewayv2/api:Api")
def http_api(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    made = m.client("apigatewayv2").create_api(
        **_drop_none(
            Name=inp.get("name") or autoname(name),
            ProtocolType=inp["protocolType"],
            Description=inp.get("description"),
            DisableExecuteApiEndpoint=inp.get("disableExecuteApiEndpoint"),
            RouteSelectionExpression=inp.get("routeSelectionExpression"),
            Version=inp.get("version"),
            Tags=inp.get("tags") or None,
        )
    )
    api_id = made["ApiId"]
    return api_id, {
        "apiEndpoint": made["ApiEndpoint"],
        "executionArn": f"arn:aws:execute-api:{m.region}:{ACCOUNT}:{api_id}",
        "arn": f"arn:aws:apigateway:{m.region}::/apis/{api_id}",
    }


@creates("aws:apigatewayv2/integration:Integration")
def http_integration(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    uri = inp.get("integrationUri") or ""
    if uri.startswith("arn:aws:lambda:"):
        m.lambda_target(uri)  # strict: AWS checks only the ARN's form
    elif ":lambda:path/" in uri:
        m.invoke_target(uri)
    made = m.client("apigatewayv2").create_integration(
        **_drop_none(
            ApiId=inp["apiId"],
            IntegrationType=inp["integrationType"],
            IntegrationUri=inp.get("integrationUri"),
            IntegrationMethod=inp.get("integrationMethod"),
            PayloadFormatVersion=inp.get("payloadFormatVersion"),
            TimeoutInMillis=_int(inp.get("timeoutMilliseconds")),
            Description=inp.get("description"),
            ConnectionType=inp.get("connectionType"),
        )
    )
    return made["IntegrationId"], {}


@creates("aws:apigatewayv2/route:Route")
def http_route(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    api = m.client("apigatewayv2")
    target = inp.get("target")
    if target:  # AWS: BadRequest when the integration does not exist
        api.get_integration(ApiId=inp["apiId"], IntegrationId=target.removeprefix("integrations/"))
    made = api.create_route(
        **_drop_none(
            ApiId=inp["apiId"],
            RouteKey=inp["routeKey"],
            Target=target,
            AuthorizationType=inp.get("authorizationType"),
            AuthorizerId=inp.get("authorizerId"),
            ApiKeyRequired=inp.get("apiKeyRequired"),
            OperationName=inp.get("operationName"),
        )
    )
    return made["RouteId"], {}


def _route_settings(s: Inputs) -> dict[str, Any]:
    return _drop_none(
        ThrottlingBurstLimit=_int(s.get("throttlingBurstLimit")),
        ThrottlingRateLimit=None
        if s.get("throttlingRateLimit") is None
        else float(s["throttlingRateLimit"]),
        DetailedMetricsEnabled=s.get("detailedMetricsEnabled"),
        LoggingLevel=s.get("loggingLevel"),
        DataTraceEnabled=s.get("dataTraceEnabled"),
    )


@creates("aws:apigatewayv2/deployment:Deployment")
def http_deployment(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    made = m.client("apigatewayv2").create_deployment(
        **_drop_none(ApiId=inp["apiId"], Description=inp.get("description"))
    )
    return made["DeploymentId"], {}


@creates("aws:apigatewayv2/stage:Stage")
def http_stage(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    api = m.client("apigatewayv2")
    api_id, stage = inp["apiId"], inp["name"]
    found = api.get_api(ApiId=api_id)
    routes = {r["RouteKey"] for r in api.get_routes(ApiId=api_id)["Items"]}
    settings = {s["routeKey"]: _route_settings(s) for s in inp.get("routeSettings") or []}
    unknown = sorted(set(settings) - routes)
    if unknown:  # AWS: NotFound, the route settings name no route
        raise DanglingReferenceError(f"stage {stage}: route settings for no route: {unknown}")
    logs = inp.get("accessLogSettings")
    if logs:
        group = logs["destinationArn"].split(":log-group:", 1)[-1]
        if not m.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            raise DanglingReferenceError(f"no log group {logs['destinationArn']}")
    api.create_stage(
        **_drop_none(
            ApiId=api_id,
            StageName=stage,
            AutoDeploy=inp.get("autoDeploy"),
            DeploymentId=inp.get("deploymentId"),
            Description=inp.get("description"),
            DefaultRouteSettings=_route_settings(inp["defaultRouteSettings"])
            if inp.get("defaultRouteSettings")
            else None,
            RouteSettings=settings or None,
            AccessLogSettings={"DestinationArn": logs["destinationArn"], "Format": logs["format"]}
            if logs
            else None,
            StageVariables=inp.get("stageVariables") or None,
            Tags=inp.get("tags") or None,
        )
    )
    base = found["ApiEndpoint"]
    return stage, {
        "invokeUrl": base if stage == "$default" else f"{base}/{stage}",
        "executionArn": f"arn:aws:execute-api:{m.region}:{ACCOUNT}:{api_id}/{stage}",
        "arn": f"arn:aws:apigateway:{m.region}::/apis/{api_id}/stages/{stage}",
    }


# -- WAF, X-Ray, Budgets ---------------------------------------------------------------

WAF_NAMES = {"cloudwatchMetricsEnabled": "CloudWatchMetricsEnabled"}


def waf_shape(value: Any) -> Any:
    """pulumi-aws's camelCase WAF arguments as WAFv2's PascalCase request shape."""
    if isinstance(value, list):
        return [waf_shape(v) for v in value]
    if not isinstance(value, dict):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    return {WAF_NAMES.get(k, k[:1].upper() + k[1:]): waf_shape(v) for k, v in value.items()}


@creates("aws:wafv2/webAcl:WebAcl")
def web_acl(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    bodies = {
        b["key"]: {"ContentType": b["contentType"], "Content": b["content"]}
        for b in inp.get("customResponseBodies") or []
    }
    made = m.client("wafv2").create_web_acl(
        **_drop_none(
            Name=inp.get("name") or autoname(name, 128),
            Scope=inp["scope"],
            DefaultAction=waf_shape(inp["defaultAction"]),
            Description=inp.get("description"),
            Rules=waf_shape(inp.get("rules") or []),
            VisibilityConfig=waf_shape(inp["visibilityConfig"]),
            CustomResponseBodies=bodies or None,
            Tags=_tags_list(inp.get("tags")) or None,
        )
    )["Summary"]
    return made["Id"], {"arn": made["ARN"], "lockToken": made["LockToken"]}


@creates("aws:wafv2/webAclAssociation:WebAclAssociation")
def web_acl_association(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    resource = inp["resourceArn"]
    match = re.fullmatch(r"arn:aws:apigateway:[^:]+::/restapis/([^/]+)/stages/([^/]+)", resource)
    if not match:  # the only kind this program associates; teach another here
        raise DanglingReferenceError(f"{resource} is not a REST API stage ARN")
    m.stage(*match.groups())  # AWS: WAFNonexistentItemException; moto does not check
    m.client("wafv2").associate_web_acl(WebACLArn=inp["webAclArn"], ResourceArn=resource)
    return f"{inp['webAclArn']},{resource}", {}


@creates("aws:xray/samplingRule:SamplingRule")
def xray_sampling_rule(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    """Checked against X-Ray's bounds, not stored: moto 5.2 does not implement
    ``CreateSamplingRule`` (``NotImplementedError``, with or without ``aws-xray-sdk``)."""
    rule = _drop_none(
        RuleName=inp.get("ruleName") or autoname(name, 32),
        ResourceARN=inp["resourceArn"],
        Priority=int(inp["priority"]),
        FixedRate=float(inp["fixedRate"]),
        ReservoirSize=int(inp["reservoirSize"]),
        ServiceName=inp["serviceName"],
        ServiceType=inp["serviceType"],
        Host=inp["host"],
        HTTPMethod=inp["httpMethod"],
        URLPath=inp["urlPath"],
        Version=int(inp["version"]),
        Attributes=inp.get("attributes") or None,
    )
    # AWS (CreateSamplingRule): a name of 1-32 characters, priority 1-9999, a rate in
    # [0, 1], a reservoir >= 0, version 1
    if not (
        1 <= len(rule["RuleName"]) <= 32
        and 1 <= rule["Priority"] <= 9999
        and 0 <= rule["FixedRate"] <= 1
        and rule["ReservoirSize"] >= 0
        and rule["Version"] == 1
    ):
        raise ValueError(f"sampling rule out of X-Ray's bounds: {rule}")
    arn = f"arn:aws:xray:{m.region}:{ACCOUNT}:sampling-rule/{rule['RuleName']}"
    return rule["RuleName"], {"arn": arn}


@creates("aws:budgets/budget:Budget")
def budget(m: MotoMocks, name: str, inp: Inputs) -> tuple[str, State]:
    account = inp.get("accountId") or ACCOUNT
    budget_name = inp.get("name") or autoname(name, 100)
    notifications = []
    for n in inp.get("notifications") or []:
        subscribers = [
            {"SubscriptionType": "EMAIL", "Address": a}
            for a in n.get("subscriberEmailAddresses") or []
        ]
        for topic in n.get("subscriberSnsTopicArns") or []:
            m.topic(topic)  # AWS: Budgets checks it may publish there; the topic must exist
            subscribers.append({"SubscriptionType": "SNS", "Address": topic})
        notifications.append(
            {
                "Notification": _drop_none(
                    NotificationType=n["notificationType"],
                    ComparisonOperator=n["comparisonOperator"],
                    Threshold=float(n["threshold"]),
                    ThresholdType=n.get("thresholdType"),
                ),
                "Subscribers": subscribers,
            }
        )
    m.client("budgets").create_budget(
        AccountId=account,
        Budget={
            "BudgetName": budget_name,
            "BudgetLimit": {"Amount": inp["limitAmount"], "Unit": inp["limitUnit"]},
            "TimeUnit": inp["timeUnit"],
            "BudgetType": inp["budgetType"],
        },
        NotificationsWithSubscribers=notifications,
    )
    return f"{account}:{budget_name}", {
        "name": budget_name,
        "arn": f"arn:aws:budgets::{account}:budget/{budget_name}",
    }


# -- running programs -----------------------------------------------------------------


class MotoWorld:
    """One moto account (``mock_aws``) that programs are deployed into, one after another
    (the bootstrap stack, then a Waybill stack), each with its own :class:`Outcome`."""

    def __init__(self, region: str = REGION) -> None:
        self.mocks = MotoMocks(region)

    def client(self, service: str) -> Any:
        """A boto3 client of moto's ``service``: to check what the deploys made."""
        return self.mocks.client(service)

    def run(
        self, program: Callable[[], object], *, stack: str, project: str = "waybill"
    ) -> Outcome:
        """Run ``program`` as stack ``stack``; what it made stays in moto for the next one.

        A failure does not raise: it is in :attr:`Outcome.failures` (and :attr:`Outcome.error`),
        so a test can list them all. The caller restores its own mocks afterwards.
        """
        self.mocks.outcome = outcome = Outcome()
        pulumi.runtime.set_mocks(self.mocks, project=project, stack=stack, preview=False)
        started = time.perf_counter()
        try:
            runner: Any = pulumi.runtime.test  # untyped
            runner(program)()
        except Exception as exc:  # reported by Outcome.report
            outcome.error = exc
            _drain()
        outcome.seconds = time.perf_counter() - started
        return outcome


def _drain(timeout: float = 60.0) -> None:
    """After a failed run, let the registrations still pending finish (or fail) here, under
    these mocks, rather than in a later test under others; and mark the failed futures'
    exceptions as seen (they are in the outcome), so that no "exception was never
    retrieved" report turns up in a later test."""
    loop = asyncio.get_event_loop()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=timeout))
    # what pulumi.runtime.test clears when the next test starts: the failed RPCs
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled():
            obj.exception()


@contextmanager
def moto_world(region: str = REGION) -> Iterator[MotoWorld]:
    """A fresh moto account for the block (AWS managed policies loaded: the bootstrap
    stack attaches one)."""
    with mock_aws(config=MOTO_CONFIG):
        yield MotoWorld(region)
