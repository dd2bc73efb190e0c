"""The one deadline extension the law allows (GDPR Art. 12(3), CCPA 1798.130(a)(2)), told to the requester
and recorded as evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from functions.privacy.evidence import records as evidence
from functions.privacy.operations.actions import OperatorError, evidence_text
from functions.privacy.requests import notices as notify
from functions.privacy.requests.deadlines import CLOSED, latest_extension, parse_time
from functions.privacy.requests.record import RECORD, RequestNotFound, RequestRecord, iso


class ExtensionRefused(ValueError):
    """The request cannot be extended; the message says why."""


@dataclass(frozen=True)
class Extension:
    request_id: str
    previous_due_at: str
    due_at: str
    reason: str
    evidence_key: str
    message_id: str


def extend_deadline(
    table: Any,
    s3: Any,
    sesv2: Any,
    *,
    audit_bucket: str,
    sender: str,
    request_id: str,
    reason: str,
    operator: str,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Extension:
    """Move a request's due date once, within the legal maximum, record why and tell the requester.

    ``until`` defaults to the legal maximum. Refuses closed requests, a second extension and a date
    beyond the maximum (ExtensionRefused). The due date moves only if the record still holds the
    due date read here (a concurrent extension loses).
    """
    now = now or datetime.now(UTC)
    try:
        reason, operator = evidence_text(reason, "the reason"), evidence_text(operator, "the operator name")
    except OperatorError as exc:
        raise ExtensionRefused(str(exc)) from None
    item = table.get_item(Key={"request_id": request_id, "record": RECORD}, ConsistentRead=True).get("Item")
    if item is None:
        raise RequestNotFound(f"request {request_id} does not exist")
    record = RequestRecord.model_validate(item)
    if record.status in CLOSED:
        raise ExtensionRefused(f"request {request_id} is {record.status}: a closed request cannot be extended")
    if item.get("extended_at"):
        raise ExtensionRefused(f"request {request_id} was already extended on {item['extended_at']} (only once)")
    previous_due = parse_time(record.due_at)
    if now > previous_due:
        # Both laws require telling the requester about an extension within the original period.
        raise ExtensionRefused(
            f"request {request_id} was due {record.due_at}: an extension must come before the due date"
        )
    maximum = latest_extension(record.jurisdiction, previous_due)
    new_due = until or maximum
    if new_due <= previous_due:
        raise ExtensionRefused(f"the new due date {iso(new_due)} is not after the current one {record.due_at}")
    if new_due > maximum:
        raise ExtensionRefused(
            f"{record.jurisdiction.value} allows an extension to {iso(maximum)} at most, not {iso(new_due)}"
        )
    email = (item.get("subject") or {}).get("email")
    if not email:
        raise ExtensionRefused(f"request {request_id} holds no email address to tell the requester")
    try:
        table.update_item(
            Key={"request_id": request_id, "record": RECORD},
            UpdateExpression="SET due_at = :due, original_due_at = :previous, extended_at = :now",
            ConditionExpression="due_at = :previous AND attribute_not_exists(extended_at)",
            ExpressionAttributeValues={":due": iso(new_due), ":previous": record.due_at, ":now": iso(now)},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise ExtensionRefused(f"request {request_id} changed while extending it (extended already?)") from None
        raise
    fields = {
        "request_type": record.type.value,
        "jurisdiction": record.jurisdiction.value,
        "previous_due_at": record.due_at,
        "due_at": iso(new_due),
        "reason": reason,
        "operator": operator,
    }
    key, _, _ = evidence.append_request_event(s3, audit_bucket, request_id, "deadline_extended", fields)
    evidence.write_operator_action(
        s3, audit_bucket, "deadline_extended", request_id, {"request_id": request_id, **fields}, at=now
    )
    message_id = notify.send_extension_email(
        sesv2, sender, email, request_id=request_id, request_type=record.type.value, due_at=iso(new_due), reason=reason
    )
    return Extension(request_id, record.due_at, iso(new_due), reason, key, message_id)
