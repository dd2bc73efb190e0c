"""Response deadlines: where each request stands against its due date, and how far the law lets it move.

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

from functions.privacy.requests.record import (
    RECORD,
    Jurisdiction,
    RequestRecord,
    RequestStatus,
    add_months,
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


def check_deadlines(table: Any, now: datetime | None = None) -> DeadlineSummary:
    """The daily check: open requests at risk (due within 7 days) or overdue; unverified ones set apart."""
    return summarise(scan_requests(table, open_only=True), now or datetime.now(UTC))
