"""The one deadline extension the law allows (GDPR Art. 12(3), CCPA 1798.130(a)(2)), told to the requester
and recorded as evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc, parse_utc
from functions.privacy.evidence import records as evidence
from functions.privacy.operations.actions import OperatorError, evidence_text
from functions.privacy.requests import notices as notify
from functions.privacy.requests import record as requests
from functions.privacy.requests.deadlines import latest_extension
from functions.privacy.requests.record import CLOSED, RequestRecord


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
    configuration_set: str | None = None,
) -> Extension:
    """Move a request's due date once, within the legal maximum, record why and tell the requester.

    ``until`` defaults to the legal maximum. Refuses closed requests, a second extension and a date
    beyond the maximum (ExtensionRefused). The due date moves only if the record still holds the
    due date read here (a concurrent extension loses).
    """
    now = now or timestamps.now()
    try:
        reason, operator = evidence_text(reason, "the reason"), evidence_text(operator, "the operator name")
    except OperatorError as exc:
        raise ExtensionRefused(str(exc)) from None
    item = requests.request_item(table, request_id)
    record = RequestRecord.model_validate(item)
    if record.status in CLOSED:
        raise ExtensionRefused(f"request {request_id} is {record.status}: a closed request cannot be extended")
    if item.get("extended_at"):
        raise ExtensionRefused(f"request {request_id} was already extended on {item['extended_at']} (only once)")
    previous_due = parse_utc(record.due_at, "due_at")
    if now > previous_due:
        # Both laws require telling the requester about an extension within the original period.
        raise ExtensionRefused(
            f"request {request_id} was due {record.due_at}: an extension must come before the due date"
        )
    maximum = latest_extension(record.jurisdiction, previous_due)
    new_due = until or maximum
    if new_due <= previous_due:
        raise ExtensionRefused(f"the new due date {format_utc(new_due)} is not after the current one {record.due_at}")
    if new_due > maximum:
        raise ExtensionRefused(
            f"{record.jurisdiction.value} allows an extension to {format_utc(maximum)} at most, "
            f"not {format_utc(new_due)}"
        )
    email = (item.get("subject") or {}).get("email")
    if not email:
        raise ExtensionRefused(f"request {request_id} holds no email address to tell the requester")
    # The stored spelling, not the normalised one: the condition compares what the record holds.
    moved = requests.extend_due_date(
        table, request_id, previous_due_at=str(item["due_at"]), due_at=format_utc(new_due), extended_at=format_utc(now)
    )
    if not moved:
        raise ExtensionRefused(f"request {request_id} changed while extending it (extended already?)")
    fields = {
        "request_type": record.type.value,
        "jurisdiction": record.jurisdiction.value,
        "previous_due_at": record.due_at,
        "due_at": format_utc(new_due),
        "reason": reason,
        "operator": operator,
    }
    key, _, _ = evidence.append_request_event(s3, audit_bucket, request_id, "deadline_extended", fields)
    evidence.write_operator_action(
        s3, audit_bucket, "deadline_extended", request_id, {"request_id": request_id, **fields}, at=now
    )
    message_id = notify.send_extension_email(
        sesv2,
        sender,
        email,
        request_id=request_id,
        request_type=record.type.value,
        due_at=format_utc(new_due),
        reason=reason,
        configuration_set=configuration_set,
    )
    return Extension(request_id, record.due_at, format_utc(new_due), reason, key, message_id)
