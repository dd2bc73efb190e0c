"""Response deadlines: where each request stands against its due date, and the one extension the law allows.

GDPR Art. 12(3) lets the controller extend the one-month deadline by up to two further months, and
CCPA 1798.130(a)(2) the 45 days by up to 45 further days, once, telling the requester within the first
period. Requests whose requester never proved control of the address do not count against a
deadline (nothing may be done for them) but operators still see them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from functions.privacy.evidence import records as evidence
from functions.privacy.requests import notices as notify
from functions.privacy.requests.record import (
    RECORD,
    Jurisdiction,
    RequestNotFound,
    RequestRecord,
    RequestStatus,
    add_months,
    iso,
)

AT_RISK_WINDOW = timedelta(days=7)
GDPR_EXTENSION_MONTHS = 2
CCPA_EXTENSION = timedelta(days=45)
# Done with (nothing more is owed to the requester): no deadline, no extension.
CLOSED = frozenset({RequestStatus.COMPLETED.value, RequestStatus.REJECTED_UNVERIFIED.value})
# Not yet verified: the clock does not count against the company until the requester proves who they are.
UNVERIFIED = frozenset({RequestStatus.PENDING_VERIFICATION.value})
# The attributes operators may see: never the subject's identifiers or verification secrets.
PUBLIC_ATTRIBUTES = (
    "request_id",
    "type",
    "jurisdiction",
    "status",
    "received_at",
    "due_at",
    "subject_hmac",
    "completed_at",
    "evidence_key",
    "failure",
    "extended_at",
    "original_due_at",
    "filed_by",
    "channel",
)


class DeadlineState(str, Enum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OVERDUE = "overdue"
    NOT_COUNTED = "not_counted"  # identity not verified yet
    CLOSED = "closed"


class ExtensionRefused(ValueError):
    """The request cannot be extended; the message says why."""


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def deadline_state(record: RequestRecord, now: datetime) -> DeadlineState:
    """at risk within 7 days of due_at, overdue past it; closed and unverified requests are not counted."""
    if record.status in CLOSED:
        return DeadlineState.CLOSED
    if record.status in UNVERIFIED:
        return DeadlineState.NOT_COUNTED
    due = parse_time(record.due_at)
    if now > due:
        return DeadlineState.OVERDUE
    if due - now <= AT_RISK_WINDOW:
        return DeadlineState.AT_RISK
    return DeadlineState.ON_TRACK


def latest_extension(jurisdiction: Jurisdiction, due: datetime) -> datetime:
    """The furthest the deadline may move: GDPR two further months, CCPA 45 further days."""
    if jurisdiction is Jurisdiction.CCPA:
        return due + CCPA_EXTENSION
    return add_months(due, GDPR_EXTENSION_MONTHS)


@dataclass
class DeadlineSummary:
    at_risk: list[RequestRecord] = field(default_factory=list)
    overdue: list[RequestRecord] = field(default_factory=list)
    not_counted: list[RequestRecord] = field(default_factory=list)


def summarise(records: Iterable[RequestRecord], now: datetime) -> DeadlineSummary:
    summary = DeadlineSummary()
    for record in records:
        state = deadline_state(record, now)
        if state is DeadlineState.AT_RISK:
            summary.at_risk.append(record)
        elif state is DeadlineState.OVERDUE:
            summary.overdue.append(record)
        elif state is DeadlineState.NOT_COUNTED:
            summary.not_counted.append(record)
    return summary


def scan_requests(table: Any, *, open_only: bool = False) -> list[RequestRecord]:
    """Every request record, without identifiers (projection); open ones only if asked.

    A scan, not a query: requests number in the thousands a year, and a daily check and an operator
    listing read them all anyway (see docs/decisions.md).
    """
    names = {f"#a{i}": name for i, name in enumerate(PUBLIC_ATTRIBUTES)}
    params: dict[str, Any] = {
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": {**names, "#record": "record"},
        "FilterExpression": "#record = :record",
        "ExpressionAttributeValues": {":record": RECORD},
    }
    if open_only:
        closed = {f":closed{i}": status for i, status in enumerate(sorted(CLOSED))}
        status_name = next(k for k, v in names.items() if v == "status")
        params["FilterExpression"] += f" AND NOT {status_name} IN ({', '.join(closed)})"
        params["ExpressionAttributeValues"].update(closed)
    records: list[RequestRecord] = []
    while True:
        page = table.scan(**params)
        records.extend(RequestRecord.model_validate(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return records
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def public_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """A request item reduced to what operators may see."""
    return {name: item[name] for name in PUBLIC_ATTRIBUTES if name in item}


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
    from functions.privacy.operations.operator import OperatorError, evidence_text

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


def check_deadlines(table: Any, now: datetime | None = None) -> DeadlineSummary:
    """The daily check: open requests at risk (due within 7 days) or overdue; unverified ones set apart."""
    return summarise(scan_requests(table, open_only=True), now or datetime.now(UTC))
