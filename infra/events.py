"""The event bus downstream recipients listen on (GDPR Art. 19): one event per completed change to a subject."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct


class DownstreamEvents(Construct):
    """A custom bus, so recipients' rules and cross-account permissions never touch the account's default bus."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus")

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """events:PutEvents on this bus only."""
        self.bus.grant_put_events_to(grantee)
