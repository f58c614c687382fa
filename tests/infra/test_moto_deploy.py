"""Each stack "deployed" into moto with real IDs (:mod:`tests.infra.moto_deploy`).

The bootstrap stack (:mod:`infra.account`) is deployed first, as ``docs/deploy.md`` says,
then the stack from its ``Pulumi.<stack>.yaml`` (with the account id the file asks to be
set before ``pulumi up``, and for prod an alarm e-mail). The deploy must have no failure
and no resource type without a creator; then facts that only real IDs can show are read
back from moto: the stream's mapping invokes the real notify alias, every invoke
permission names a real API or rule, usage plans sit on a real stage, alarms notify the
real topic, integrations invoke the real aliases, the outputs are the real URLs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]

from gateway.aws.api_keys import gateway_key_name
from gateway.aws.secrets import console_credential_secret_id, stack_prefix
from gateway.costs.model import StackShape
from gateway.tenancy.plans import load_plans, plans_file
from gateway.tenancy.tenants import load_tenants
from infra import account, program
from infra.settings import REPO_ROOT
from tests.infra.conftest import Mocks
from tests.infra.moto_deploy import (
    ACCOUNT,
    MotoWorld,
    Outcome,
    invocation_uri,
    moto_world,
    rest_methods,
)

CODE = pulumi.AssetArchive({"gateway/__init__.py": pulumi.StringAsset("")})
STACKS = ("dev", "staging", "prod")
CLOUD_RESOURCES = range(150, 300)
"""Resources each stack makes in AWS (components and random values aside): 196-199 today."""
ALARM_EMAIL = "oncall@example.com"
EXPORTS: dict[str, Any] = {}
"""The outputs of the last deploy (``pulumi.export`` is captured)."""


def stack_config(stack: str) -> dict[str, str]:
    """``Pulumi.<stack>.yaml``'s config as the engine hands it to the program, with what the
    file says to set before ``pulumi up``: the account id (moto's), and prod's alarm e-mail."""
    raw = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    config["aws:allowedAccountIds"] = json.dumps([ACCOUNT])
    if stack == "prod":
        config["waybill:alarmEmail"] = ALARM_EMAIL
    return config


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoWorld]:
    """A fresh moto account; the plain mocks and an empty config again afterwards."""
    monkeypatch.setattr(pulumi, "export", lambda name, value: EXPORTS.__setitem__(name, value))
    EXPORTS.clear()
    with moto_world() as fresh:
        try:
            yield fresh
        finally:
            pulumi.runtime.set_all_config({})
            pulumi.runtime.set_mocks(Mocks(), project="waybill", stack="dev", preview=False)


def deploy(world: MotoWorld, stack: str, *, bootstrap: bool = True) -> Outcome:
    """The bootstrap stack (unless told not to), then ``stack`` from its stack file."""
    if bootstrap:
        boot = world.run(account.main, stack="bootstrap", project="waybill-bootstrap")
        assert not boot.report(), boot.report()
    pulumi.runtime.set_all_config(stack_config(stack))
    return world.run(lambda: program.main(None, CODE), stack=stack)


def exported(name: str) -> Any:
    """A stack output's value (the deploy has resolved every output)."""
    output = pulumi.Output.from_input(EXPORTS[name])
    return asyncio.get_event_loop().run_until_complete(output.future())


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_deploys_into_moto_with_real_ids(world: MotoWorld, stack: str) -> None:
    out = deploy(world, stack)
    assert not out.report(), f"the {stack} deploy failed:\n{out.report()}"
    assert out.cloud_resources() in CLOUD_RESOURCES, out.counts()
    check_stream_mapping(world, out)
    check_permissions(world, out)
    check_usage_plans(world, out)
    check_alarms_notify_the_topic(world, out)
    check_integrations(world, out)
    check_the_stage_serves_every_method(world, out)
    check_webhook_edge(world, out)
    check_functions(world, out)
    check_sampling_rule(world, out)
    check_keys(world, out, stack)
    check_stack_secrets(world, stack)
    if stack == "prod":
        check_waf_and_email(world, out)


def test_a_stack_without_the_bootstrap_stack_fails_on_its_rest_stage(world: MotoWorld) -> None:
    """Access logs need the account's CloudWatch role: the bootstrap stack must come first."""
    out = deploy(world, "dev", bootstrap=False)
    assert out.failures, "the stage's access logs need the account's CloudWatch role"
    token, _, error = out.failures[0]
    assert token == "aws:apigateway/stage:Stage"
    assert "no CloudWatch role" in error


def test_a_type_with_no_creator_fails_the_deploy_and_is_named(world: MotoWorld) -> None:
    import pulumi_aws as aws

    out = world.run(lambda: aws.s3.BucketV2("orphan", bucket="orphan"), stack="dev")
    assert out.missing == {"aws:s3/bucketV2:BucketV2"}
    assert "no creator for aws:s3/bucketV2:BucketV2" in out.report()


def test_a_reference_to_nothing_fails_the_deploy(world: MotoWorld) -> None:
    """A function whose role ARN names no role; a mapping on a queue that does not exist."""
    import pulumi_aws as aws

    def program_() -> None:
        aws.lambda_.Function(
            "f",
            name="f",
            runtime="python3.12",
            handler="h.h",
            code=CODE,
            role=f"arn:aws:iam::{ACCOUNT}:role/no-such-role",
        )
        aws.lambda_.EventSourceMapping(
            "m",
            event_source_arn=f"arn:aws:sqs:us-west-2:{ACCOUNT}:no-such-queue",
            function_name="f",
        )

    out = world.run(program_, stack="dev")
    failed = {token: error for token, _, error in out.failures}
    assert "cannot be assumed by Lambda" in failed["aws:lambda/function:Function"]
    assert "aws:lambda/eventSourceMapping:EventSourceMapping" not in {c.type for c in out.created}


# -- facts read back from moto ---------------------------------------------------------


def _one(out: Outcome, token: str) -> Any:
    found = out.of(token)
    assert len(found) == 1, f"expected one {token}: {[c.name for c in found]}"
    return found[0]


def _alias_arn(out: Outcome, function: str) -> str:
    return str(out.named("aws:lambda/alias:Alias", f"functions-{function}-alias").state["arn"])


def check_stream_mapping(world: MotoWorld, out: Outcome) -> None:
    """The mapping reads the real table's stream, invokes the real notify alias and gives
    up to the real dead-letter queue."""
    table = _one(out, "aws:dynamodb/table:Table").state
    stream = world.client("dynamodb").describe_table(TableName=table["name"])["Table"]
    (mapping,) = world.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert mapping["EventSourceArn"] == stream["LatestStreamArn"] == table["streamArn"]
    # the program maps the alias; moto reports the version the alias is on (AWS: the alias)
    assert _one(out, "aws:lambda/eventSourceMapping:EventSourceMapping").inputs[
        "functionName"
    ] == _alias_arn(out, "notify")
    notify = out.named("aws:lambda/alias:Alias", "functions-notify-alias").inputs
    alias = world.client("lambda").get_alias(FunctionName=notify["functionName"], Name="live")
    assert mapping["FunctionArn"].rsplit(":", 1) == [
        alias["AliasArn"].rsplit(":", 1)[0],
        alias["FunctionVersion"],
    ]
    dlq = _one(out, "aws:sqs/queue:Queue").state["arn"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == dlq


def check_permissions(world: MotoWorld, out: Outcome) -> None:
    """Every invoke permission names a real API's execution ARN or a real rule's ARN."""
    apigw, lam = world.client("apigateway"), world.client("lambda")
    rest = {a["id"] for a in apigw.get_rest_apis()["items"]}
    http = {a["ApiId"] for a in world.client("apigatewayv2").get_apis()["Items"]}
    rules = {r["Arn"] for r in world.client("events").list_rules()["Rules"]}
    for permission in out.of("aws:lambda/permission:Permission"):
        inputs = permission.inputs
        policy = json.loads(
            lam.get_policy(FunctionName=inputs["function"], Qualifier=inputs["qualifier"])["Policy"]
        )
        (statement,) = [s for s in policy["Statement"] if s["Sid"] == permission.id]
        source = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
        if source.startswith("arn:aws:execute-api:"):
            api_id = source.split(":")[5].split("/")[0]
            assert api_id in rest | http, f"{permission.name}: {source} names no API"
            assert source.startswith(f"arn:aws:execute-api:us-west-2:{ACCOUNT}:{api_id}/")
        else:
            assert source in rules, f"{permission.name}: {source} names no rule"


def check_usage_plans(world: MotoWorld, out: Outcome) -> None:
    """Each tier's usage plan is on the REST API's real stage."""
    apigw = world.client("apigateway")
    rest_id = _one(out, "aws:apigateway/restApi:RestApi").id
    stage = _one(out, "aws:apigateway/stage:Stage").inputs["stageName"]
    plans = apigw.get_usage_plans()["items"]
    assert {p["name"].rsplit("-", 1)[-1] for p in plans} == set(load_plans(plans_file()))
    for plan in plans:
        assert plan["apiStages"] == [{"apiId": rest_id, "stage": stage}], plan["name"]
        apigw.get_stage(restApiId=rest_id, stageName=stage)


def check_alarms_notify_the_topic(world: MotoWorld, out: Outcome) -> None:
    """Every alarm's alarm and OK actions are the real topic; so are the budget's."""
    topic = _one(out, "aws:sns/topic:Topic").state["arn"]
    world.client("sns").get_topic_attributes(TopicArn=topic)
    alarms = world.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert len(alarms) == len(out.of("aws:cloudwatch/metricAlarm:MetricAlarm")) > 0
    for alarm in alarms:
        assert alarm["AlarmActions"] == [topic] == alarm["OKActions"], alarm["AlarmName"]
    budget = _one(out, "aws:budgets/budget:Budget")
    world.client("budgets").describe_budget(AccountId=ACCOUNT, BudgetName=budget.state["name"])
    # moto does not list a notification's subscribers: the creator checked each topic exists
    for notice in budget.inputs["notifications"]:
        assert notice["subscriberSnsTopicArns"] == [topic]


def check_integrations(world: MotoWorld, out: Outcome) -> None:
    """REST integrations invoke the real ingest, query or console alias; the tenant
    authorizer its own, the console's authorizer the console's."""
    apigw = world.client("apigateway")
    rest_id = _one(out, "aws:apigateway/restApi:RestApi").id
    functions = ("ingest", "query", "console")
    aliases = {invocation_uri("us-west-2", _alias_arn(out, f)) for f in functions}
    for integration in out.of("aws:apigateway/integration:Integration"):
        i = integration.inputs
        got = apigw.get_integration(
            restApiId=rest_id, resourceId=i["resourceId"], httpMethod=i["httpMethod"]
        )
        assert got["uri"] in aliases, integration.name
    items = apigw.get_authorizers(restApiId=rest_id)["items"]
    found = {a["name"].rsplit("-", 1)[1]: a for a in items}
    assert set(found) == {"tenant", "console"}  # waybill-{stack}-tenant, -console
    tenant, console = found["tenant"], found["console"]
    assert tenant["authorizerUri"] == invocation_uri("us-west-2", _alias_arn(out, "authorizer"))
    assert console["authorizerUri"] == invocation_uri("us-west-2", _alias_arn(out, "console"))
    stage = apigw.get_stage(restApiId=rest_id, stageName="api")
    assert exported("base_url") == f"https://{rest_id}.execute-api.us-west-2.amazonaws.com/api"
    access = _one_named(out, "aws:cloudwatch/logGroup:LogGroup", "api-access-logs")
    assert stage["accessLogSettings"]["destinationArn"] == access["arn"]


def check_the_stage_serves_every_method(world: MotoWorld, out: Outcome) -> None:
    """The REST stage's deployment was made after every method: it serves them all (a
    deployment is a snapshot, and one made early serves only the routes made before it)."""
    rest_id = _one(out, "aws:apigateway/restApi:RestApi").id
    stage = world.client("apigateway").get_stage(restApiId=rest_id, stageName="api")
    served = world.mocks.deployed_methods[stage["deploymentId"]]
    missing = sorted(set(rest_methods(world.mocks, rest_id)) - served)
    assert not missing, f"the stage's deployment predates {len(missing)} methods: {missing[:5]}"


def _one_named(out: Outcome, token: str, name: str) -> dict[str, Any]:
    return out.named(token, name).state


def check_webhook_edge(world: MotoWorld, out: Outcome) -> None:
    """The HTTP API's routes all reach the one integration, which invokes the real ingest
    alias; the stage throttles exactly those routes; the webhook URLs are under its URL."""
    v2 = world.client("apigatewayv2")
    (api,) = v2.get_apis()["Items"]
    (integration,) = v2.get_integrations(ApiId=api["ApiId"])["Items"]
    assert integration["IntegrationUri"] == _alias_arn(out, "ingest")
    routes = v2.get_routes(ApiId=api["ApiId"])["Items"]
    assert routes and all(
        r["Target"] == f"integrations/{integration['IntegrationId']}" for r in routes
    )
    (stage,) = v2.get_stages(ApiId=api["ApiId"])["Items"]
    assert set(stage.get("RouteSettings", {})) == {r["RouteKey"] for r in routes}
    assert exported("webhook_base_url") == api["ApiEndpoint"]
    for urls in exported("webhook_urls").values():
        assert all(url.startswith(api["ApiEndpoint"] + "/webhooks/") for url in urls.values())


def check_functions(world: MotoWorld, out: Outcome) -> None:
    """Each function runs as its own real role and is configured with the real table,
    cursor key secret and CMK."""
    lam = world.client("lambda")
    table = _one(out, "aws:dynamodb/table:Table").state["name"]
    key_arn = _one(out, "aws:kms/key:Key").state["arn"]
    cursor = out.named("aws:secretsmanager/secret:Secret", "secrets-cursor-key").state["arn"]
    roles = set()
    for function in out.of("aws:lambda/function:Function"):
        config = lam.get_function(FunctionName=function.id)["Configuration"]
        roles.add(config["Role"])
        world.client("iam").get_role(RoleName=config["Role"].rsplit("/", 1)[-1])
        variables = config["Environment"]["Variables"]
        assert variables["TABLE_NAME"] == table
        assert variables.get("CURSOR_KEY_SECRET", cursor) == cursor
        assert variables.get("NOTIFY_KEY_ID", key_arn) == key_arn
    assert len(roles) == len(out.of("aws:lambda/function:Function"))


def check_sampling_rule(world: MotoWorld, out: Outcome) -> None:
    """The X-Ray rule samples the REST API's real stage (X-Ray itself does not check)."""
    rule = _one(out, "aws:xray/samplingRule:SamplingRule").inputs
    api_name, _, stage = rule["serviceName"].rpartition("/")
    apis = [a for a in world.client("apigateway").get_rest_apis()["items"] if a["name"] == api_name]
    assert len(apis) == 1, f"sampling rule {rule['ruleName']} names no REST API {api_name}"
    world.client("apigateway").get_stage(restApiId=apis[0]["id"], stageName=stage)


def check_stack_secrets(world: MotoWorld, stack: str) -> None:
    """The stack's own secrets (neither a tenant's nor a plan key) are as many as the cost
    model prices (``StackShape.secrets``): the cursor key and the console's credential."""
    tenants = set(load_tenants(REPO_ROOT / "tenants"))
    prefix = stack_prefix(stack)
    names = {s["Name"] for s in world.client("secretsmanager").list_secrets()["SecretList"]}
    own = {n for n in names if n.removeprefix(prefix).split("/")[0] not in {*tenants, "plan_keys"}}
    assert own == {f"{prefix}cursor_key", console_credential_secret_id(prefix)}, own
    assert len(own) == StackShape().secrets


def check_keys(world: MotoWorld, out: Outcome, stack: str) -> None:
    """Each tenant's key is bound to its tier's plan, and its table item carries the key's
    real creation date (plain mocks leave it empty)."""
    apigw = world.client("apigateway")
    tenants = load_tenants(REPO_ROOT / "tenants")
    plans = {p["name"]: p["id"] for p in apigw.get_usage_plans()["items"]}
    keys = {k["name"]: k for k in apigw.get_api_keys()["items"]}
    for tenant_id, tenant in tenants.items():
        key = keys[gateway_key_name(stack, tenant_id)]
        bound = apigw.get_usage_plan_keys(usagePlanId=plans[f"waybill-{stack}-{tenant.plan}"])
        assert key["id"] in {k["id"] for k in bound["items"]}
    table = _one(out, "aws:dynamodb/table:Table").state["name"]
    items = world.client("dynamodb").scan(TableName=table)["Items"]
    assert len(items) == len(out.of("aws:dynamodb/tableItem:TableItem"))
    assert all(item["created_at"]["S"] for item in items), "a key item has no creation date"


def check_waf_and_email(world: MotoWorld, out: Outcome) -> None:
    """prod: the web ACL is on the REST stage; the alarm topic mails the on-call address."""
    acl = _one(out, "aws:wafv2/webAcl:WebAcl").state["arn"]
    rest_id = _one(out, "aws:apigateway/restApi:RestApi").id
    stage_arn = f"arn:aws:apigateway:us-west-2::/restapis/{rest_id}/stages/api"
    found = world.client("wafv2").get_web_acl_for_resource(ResourceArn=stage_arn)
    assert found["WebACL"]["ARN"] == acl
    topic = _one(out, "aws:sns/topic:Topic").state["arn"]
    subscriptions = world.client("sns").list_subscriptions_by_topic(TopicArn=topic)
    assert [s["Endpoint"] for s in subscriptions["Subscriptions"]] == [ALARM_EMAIL]
