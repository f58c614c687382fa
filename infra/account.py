"""The bootstrap stack: what API Gateway keeps once per account and region.

``aws.apigateway.Account`` (the CloudWatch role API Gateway writes REST access and
execution logs with) is one setting per account and region, not a resource a stack
owns: each stack that set it overwrote the others', and destroying one (dev) removed it
for all (staging and prod stopped logging). It lives here, in its own Pulumi project
(``infra/bootstrap/``, one stack per account and region, deployed once before any
Waybill stack, see ``docs/deploy.md``), and every Waybill stack only uses it. The HTTP
API of the webhook edge needs no role: it writes its access logs itself.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

ASSUMED_BY_API_GATEWAY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
CLOUDWATCH_LOGS_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


class ApiGatewayAccount(pulumi.ComponentResource):
    """The account's API Gateway CloudWatch role and the setting that names it."""

    role: aws.iam.Role
    account: aws.apigateway.Account

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("waybill:infra:ApiGatewayAccount", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.role = aws.iam.Role(
            f"{name}-cloudwatch-role",
            name="waybill-apigateway-cloudwatch",
            assume_role_policy=ASSUMED_BY_API_GATEWAY,
            tags={"waybill:stack": "bootstrap"},
            opts=child,
        )
        attached = aws.iam.RolePolicyAttachment(
            f"{name}-cloudwatch-logs",
            role=self.role.name,
            policy_arn=CLOUDWATCH_LOGS_POLICY,
            opts=child,
        )
        self.account = aws.apigateway.Account(
            f"{name}-settings",
            cloudwatch_role_arn=self.role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attached]),
        )
        self.register_outputs({"cloudwatch_role_arn": self.role.arn})


def main() -> None:
    """Register the bootstrap stack (``pulumi -C infra/bootstrap up``)."""
    account = ApiGatewayAccount("apigateway")
    pulumi.export("cloudwatch_role_arn", account.role.arn)
