"""Helpers for the rights end-to-end tests: observe downstream events, read confirmation emails."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.intake_support import emails_for

LINK_LINE = re.compile(r"^Download link: (\S+)\s*$", re.MULTILINE)


class EventObserver:
    """An SQS queue behind a rule on the engine's bus: what a downstream recipient would receive."""

    def __init__(self, clients: Any, bus_name: str) -> None:
        self.sqs, events = clients.client("sqs"), clients.client("events")
        name = f"observer-{uuid.uuid4().hex[:8]}"
        self.queue = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps({"source": ["privacy-engine"]}))
        events.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": "observer", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def events_for(self, request_id: str) -> list[dict[str, Any]]:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return [e for e in self.seen if e["detail"]["request_id"] == request_id]


def confirmation_for(outbox: Path, request_id: str) -> list[str]:
    """Texts of the confirmation emails of a request (not the verification email)."""
    return [text for _, text in emails_for(outbox, request_id) if "What we did, store by store" in text]
