"""The engine's own transactional mail: one SES configuration set every engine send names, and the grant to use it.

A full opt-out puts the address on the account suppression list; mail sent without a configuration set that
overrides account-level suppression would then drop the opt-out's own confirmation (and any later status mail).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from constructs import Construct

CONFIGURATION_SET_VARIABLE = "SES_CONFIGURATION_SET"


def sender_identities(stack: Stack, sender: str) -> list[str]:
    """ses:SendEmail is authorised on the sending identity: the address itself or its verified domain."""
    domain = sender.rsplit("@", 1)[-1]
    return [stack.format_arn(service="ses", resource="identity", resource_name=name) for name in (sender, domain)]


class TransactionalEmail(Construct):
    """The configuration set for requester mail (codes, confirmations, notices), not for marketing."""

    def __init__(self, scope: Construct, construct_id: str, *, sender: str) -> None:
        super().__init__(scope, construct_id)
        self.sender = sender
        stack = Stack.of(self)
        # An empty SuppressedReasons list tells SES not to apply the account suppression list to mail sent
        # with this set: someone who withdrew all marketing consent still gets the answer to their request.
        # SES still refuses to send to hard-bouncing addresses through its global suppression list.
        self.configuration_set = ses.CfnConfigurationSet(
            self,
            "ConfigurationSet",
            name=f"{stack.stack_name}-transactional",
            suppression_options=ses.CfnConfigurationSet.SuppressionOptionsProperty(suppressed_reasons=[]),
            sending_options=ses.CfnConfigurationSet.SendingOptionsProperty(sending_enabled=True),
        )
        self.configuration_set_name: str = self.configuration_set.ref

    def grant_send(self, function: lambda_.Function) -> None:
        """Let ``function`` send from the sender identity through this configuration set (both are resources
        of ses:SendEmail), and tell it the set's name."""
        stack = Stack.of(self)
        configuration_set_arn = stack.format_arn(
            service="ses", resource="configuration-set", resource_name=self.configuration_set_name
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[*sender_identities(stack, self.sender), configuration_set_arn],
            )
        )
        function.add_environment("SENDER_EMAIL", self.sender)
        function.add_environment(CONFIGURATION_SET_VARIABLE, self.configuration_set_name)
