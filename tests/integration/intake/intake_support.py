"""The intake's own resources on moto (requests and idempotency tables, audit bucket, HMAC key, state
machine, SES sender), shared by the intake use-case and API tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from moto.ses.models import ses_backends

from functions.privacy.core.clients import Clients
from functions.privacy.core.runtime import lambda_environment
from tests.integration.engine_settings import IntakeEngineSettings

REGION, ACCOUNT = "us-east-1", "123456789012"
AUDIT = "audit-bucket"  # the bucket of conftest.engine_env
SENDER = "privacy@example.com"
CODE_IN_EMAIL = re.compile(r"Verification code: (?:<strong>)?(\d{6})")


@dataclass
class IntakeEngine:
    settings: IntakeEngineSettings
    clients: Clients

    @property
    def table(self) -> Any:
        return self.clients.resource_table(self.settings.REQUESTS_TABLE)

    def item(self, request_id: str) -> dict[str, Any]:
        return self.table.get_item(Key={"request_id": request_id, "record": "request"})["Item"]

    def executions(self) -> list[dict[str, Any]]:
        sfn = self.clients.client("stepfunctions")
        return sfn.list_executions(stateMachineArn=self.settings.STATE_MACHINE_ARN)["executions"]

    def emails_to(self, address: str) -> list[Any]:
        """What SES sent to the mailbox, whatever spelling it was addressed by (intake keeps the address as typed;
        moto keeps the HTML part of a Simple message)."""
        mailbox = address.strip().lower()
        return [
            m
            for m in ses_backends[ACCOUNT][REGION].sent_messages
            if mailbox in {to.strip().lower() for to in m.destinations["ToAddresses"]}
        ]

    def code_sent_for(self, request_id: str) -> str:
        bodies = [m.body for m in ses_backends[ACCOUNT][REGION].sent_messages if request_id in m.body]
        assert bodies, f"no email mentions {request_id}"
        match = CODE_IN_EMAIL.search(bodies[-1])
        assert match, "the email carries no verification code"
        return match.group(1)

    def evidence(self, request_id: str) -> list[str]:
        s3 = self.clients.client("s3")
        listing = s3.list_objects_v2(Bucket=AUDIT, Prefix=f"requests/{request_id}/chain/")
        return [o["Key"] for o in listing.get("Contents", [])]


def intake_engine(aws, engine_env) -> Iterator[IntakeEngine]:
    """Generator body for a test module's fixture: ``yield from intake_engine(aws, engine_env)``; adds the
    idempotency table, a state machine and the SES sender to the engine's resources (conftest's engine_env)."""
    aws.client("dynamodb").create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    role = aws.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    # moto records executions without running them here: the use cases are tested, not the workflow.
    definition = '{"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": true}}}'
    machine = aws.client("stepfunctions").create_state_machine(name="requests", definition=definition, roleArn=role)[
        "stateMachineArn"
    ]
    aws.client("ses").verify_email_identity(EmailAddress=SENDER)
    env = {
        **engine_env,
        "STATE_MACHINE_ARN": machine,
        "IDEMPOTENCY_TABLE": "idempotency",
        "SENDER_EMAIL": SENDER,
        "SES_CONFIGURATION_SET": "dsr-transactional",
        "FORM_ORIGIN": "https://form.example",
    }
    with lambda_environment(env):
        yield IntakeEngine(IntakeEngineSettings.load(), Clients(boto3.session.Session(region_name=REGION)))
