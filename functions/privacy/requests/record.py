"""Request records in the requests table: the only place raw subject identifiers are kept.

Identifiers stay here (KMS-encrypted at rest) only while the request is open; the workflow passes
the request id between states and closing the request removes them, keeping the HMAC.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, field_validator

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc

RECORD = "request"


class RequestType(str, Enum):
    ACCESS = "access"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    OPT_OUT = "opt_out"
    # Cal. Civ. Code 1798.83: which categories went to third parties for their direct marketing. Touches no store.
    DISCLOSURE_NOTICE = "disclosure_notice"


class Jurisdiction(str, Enum):
    GDPR = "GDPR"
    CCPA = "CCPA"


class RequestStatus(str, Enum):
    """Where a request stands, as the requester and operators see it."""

    PENDING_VERIFICATION = "pending_verification"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    PARTIALLY_COMPLETED = "partially_completed"
    FAILED = "failed"
    REJECTED_UNVERIFIED = "rejected_unverified"
    CANCELLED = "cancelled"
    REFUSED = "refused"


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
# Done with (nothing more is owed to the requester): no deadline, no extension, no re-run.
CLOSED = frozenset(
    {
        RequestStatus.COMPLETED.value,
        RequestStatus.REJECTED_UNVERIFIED.value,
        RequestStatus.CANCELLED.value,
        RequestStatus.REFUSED.value,
    }
)
# Not yet verified: the clock does not count against the company until the requester proves who they are.
UNVERIFIED = frozenset({RequestStatus.PENDING_VERIFICATION.value})
# Something was done in the stores: downstream systems hear of it.
ACTED_ON = frozenset({RequestStatus.COMPLETED.value, RequestStatus.PARTIALLY_COMPLETED.value})
# What an operator may run again (a redrive or a re-run execution); a failed one only if it had been verified.
REDRIVABLE = frozenset({RequestStatus.FAILED.value, RequestStatus.PARTIALLY_COMPLETED.value})
# What the workflow plans and acts on (statemachines/request.asl.json, AlreadyVerified): the requester proved
# control of the address, or an operator checked the identity. Nothing else ever reaches a store.
PLANNABLE = frozenset(
    {RequestStatus.VERIFIED.value, RequestStatus.IN_PROGRESS.value, RequestStatus.PARTIALLY_COMPLETED.value}
)


# What a requester may cancel and an operator refuse: open, and no store acted on yet (see close_unacted).
UNACTED_OPEN = frozenset(
    {RequestStatus.PENDING_VERIFICATION.value, RequestStatus.VERIFIED.value, RequestStatus.IN_PROGRESS.value}
)
_PLANNABLE_VALUES = {f":plannable{i}": status for i, status in enumerate(sorted(PLANNABLE))}


class RequestNotFound(LookupError):
    """No request with that id (or its identifiers were already removed on closing)."""


class RequestRecord(BaseModel):
    request_id: str
    type: RequestType
    jurisdiction: Jurisdiction
    status: str
    received_at: str
    due_at: str
    subject_hmac: str | None = None
    completed_at: str | None = None
    evidence_key: str | None = None
    failure: str | None = None

    @field_validator("received_at", "due_at", "completed_at")
    @classmethod
    def _one_time_format(cls, value: str | None, info: Any) -> str | None:
        # completed_at is the workflow's $$.State.EnteredTime (milliseconds, or an offset): answers show one format.
        return None if value is None else timestamps.normalise(value, info.field_name)


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_at(received: datetime, jurisdiction: Jurisdiction) -> datetime:
    """GDPR Art. 12(3): one month; CCPA 1798.130: 45 days."""
    if jurisdiction is Jurisdiction.CCPA:
        return received + timedelta(days=45)
    return add_months(received, 1)


def new_request_id() -> str:
    """Random, so ids say nothing about the requester or how many requests there are."""
    return f"req-{uuid.uuid4()}"


def create_request(
    table: Any,
    request_type: RequestType,
    identifiers: dict[str, str],
    jurisdiction: Jurisdiction = Jurisdiction.GDPR,
    *,
    received: datetime | None = None,
    request_id: str | None = None,
    status: str = RequestStatus.VERIFIED.value,
    attributes: Mapping[str, Any] | None = None,
) -> RequestRecord:
    """Store a new request; the caller starts the workflow named after its id.

    ``attributes`` are extra record attributes the caller owns (e.g. the status token's digest).
    """
    received = received or timestamps.now()
    record = RequestRecord(
        request_id=request_id or new_request_id(),
        type=request_type,
        jurisdiction=jurisdiction,
        status=status,
        received_at=format_utc(received),
        due_at=format_utc(due_at(received, jurisdiction)),
    )
    item = {"request_id": record.request_id, "record": RECORD, **record.model_dump(mode="json", exclude_none=True)}
    item["subject"] = dict(identifiers)
    if status == RequestStatus.VERIFIED.value:
        # Filed verified (an operator checked the identity): a failed run may be reopened (reopen_failed).
        item["verified_at"] = record.received_at
    item.update(attributes or {})
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(request_id)")
    return record


def _get_item(table: Any, request_id: str) -> dict[str, Any]:
    item = table.get_item(Key={"request_id": request_id, "record": RECORD}, ConsistentRead=True).get("Item")
    if item is None:
        raise RequestNotFound(f"request {request_id} does not exist")
    return item


def request_item(table: Any, request_id: str) -> dict[str, Any]:
    """The raw record, including identifiers and verification attributes (never log it)."""
    return _get_item(table, request_id)


def get_request(table: Any, request_id: str) -> RequestRecord:
    return RequestRecord.model_validate(_get_item(table, request_id))


def unresolved_identifiers(table: Any, request_id: str) -> list[dict[str, Any]]:
    """Identifiers planning could not resolve: identifier name, store searched, stores not searched."""
    found = _get_item(table, request_id).get("unresolved") or []
    return [
        {
            "identifier": str(u["identifier"]),
            "store": str(u["store"]),
            "stores_not_searched": sorted(str(s) for s in u["stores_not_searched"]),
        }
        for u in found
    ]


def get_identifiers(table: Any, request_id: str) -> dict[str, str]:
    """The subject's identifiers (personal data: never log the result)."""
    subject = _get_item(table, request_id).get("subject")
    if not subject:
        raise RequestNotFound(f"request {request_id} holds no subject identifiers (already closed?)")
    return {str(k): str(v) for k, v in subject.items()}


def record_resolution(
    table: Any,
    request_id: str,
    identifiers: dict[str, str],
    subject_hmac: str,
    unresolved: list[dict[str, Any]] | None = None,
) -> None:
    """Keep the identifiers resolved through the data map so every store task sees the same subject, and the
    identifiers that did not resolve (names and stores only) for the completion record."""
    table.update_item(
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="SET subject = :subject, subject_hmac = :hmac, #status = :status, unresolved = :unresolved",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":subject": identifiers,
            ":hmac": subject_hmac,
            ":status": RequestStatus.IN_PROGRESS.value,
            ":unresolved": list(unresolved or []),
            **_PLANNABLE_VALUES,
        },
        # Planning never revives a request cancelled or refused meanwhile: it fails with nothing acted on.
        ConditionExpression=f"attribute_exists(request_id) AND #status IN ({', '.join(_PLANNABLE_VALUES)})",
    )


def updated_if(table: Any, **update: Any) -> bool:
    """Run a conditional ``update_item`` on the requests table; False (nothing written) when its condition failed."""
    try:
        table.update_item(**update)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def reopen_failed(table: Any, request_id: str) -> bool:
    """Make a failed request plannable again (``verified``) for an operator's redrive, only if its requester had
    been verified and it still holds its identifiers; False otherwise (a request that failed before verification
    is never run: its requester proved nothing).
    """
    return updated_if(
        table,
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="SET #status = :verified",
        ConditionExpression="#status = :failed AND attribute_exists(verified_at) "
        "AND attribute_not_exists(verification_failed) AND attribute_exists(subject)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":verified": RequestStatus.VERIFIED.value,
            ":failed": RequestStatus.FAILED.value,
        },
    )


def record_notified(table: Any, request_id: str, execution: str) -> None:
    """Remember that the requester was told about ``execution``'s outcome (one confirmation per execution)."""
    table.update_item(
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="ADD notified_executions :execution",
        ExpressionAttributeValues={":execution": {execution}},
    )


def extend_due_date(table: Any, request_id: str, *, previous_due_at: str, due_at: str, extended_at: str) -> bool:
    """Move the due date once, keeping the original; False if the record no longer holds ``previous_due_at``
    or was already extended (a concurrent extension won)."""
    return updated_if(
        table,
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="SET due_at = :due, original_due_at = :previous, extended_at = :now",
        ConditionExpression="due_at = :previous AND attribute_not_exists(extended_at)",
        ExpressionAttributeValues={":due": due_at, ":previous": previous_due_at, ":now": extended_at},
    )


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
    """A request item reduced to what operators may see, its times in the engine's one format."""
    return {
        name: timestamps.normalise(item[name], name) if name.endswith("_at") and item[name] else item[name]
        for name in PUBLIC_ATTRIBUTES
        if name in item
    }


# Requests that never finished: failed, or never verified. Their identifiers outlive no purpose forever.
UNFINISHED = frozenset({RequestStatus.FAILED.value, RequestStatus.PENDING_VERIFICATION.value})
_UNFINISHED_ATTRIBUTES = (
    "request_id",
    "status",
    "received_at",
    "verified_at",
    "failed_at",
    "code_expires_at",
    "verification_failed",
)


def scan_unfinished_with_identifiers(table: Any) -> list[dict[str, Any]]:
    """Failed and never-verified requests still holding raw identifiers or details, or whose drop has no
    evidence yet (no identifiers are read)."""
    names = {f"#a{i}": name for i, name in enumerate(_UNFINISHED_ATTRIBUTES)}
    statuses = {f":s{i}": status for i, status in enumerate(sorted(UNFINISHED))}
    params: dict[str, Any] = {
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": {**names, "#record": "record"},
        # A drop whose evidence was not written yet (the sweep stopped between the two) is found again.
        "FilterExpression": f"#record = :record AND #a1 IN ({', '.join(statuses)}) "
        "AND (attribute_exists(subject) OR attribute_exists(details) "
        "OR (attribute_exists(identifiers_dropped_at) AND attribute_not_exists(identifiers_dropped_evidence)))",
        "ExpressionAttributeValues": {":record": RECORD, **statuses},
    }
    items: list[dict[str, Any]] = []
    while True:
        page = table.scan(**params)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def drop_unfinished_identifiers(table: Any, request_id: str, status: str, at: datetime) -> bool:
    """Remove the raw identifiers and details of a request still ``status`` (failed or never verified), keeping
    its HMAC; False if it moved on meanwhile (a redrive reopened it, a code was entered)."""
    return updated_if(
        table,
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="SET identifiers_dropped_at = if_not_exists(identifiers_dropped_at, :at) "
        "REMOVE subject, details, task_token, code_digest",
        ConditionExpression="#status = :status",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": status, ":at": format_utc(at)},
    )


def record_identifiers_dropped(table: Any, request_id: str, evidence_key: str) -> None:
    """The drop's evidence is written: the sweep is done with this request."""
    table.update_item(
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="SET identifiers_dropped_evidence = :key",
        ExpressionAttributeValues={":key": evidence_key},
    )


# Cancel and refuse: closing a request that no store has acted on. Store tasks claim the request first
# (claim_for_acting), so the two conditional updates decide the race on the record itself.


def claim_for_acting(table: Any, request_id: str, at: datetime) -> bool:
    """Mark that a store is about to be acted on; False if the request is no longer plannable (cancelled or
    refused meanwhile): the store task must then not act. From here on it cannot be cancelled."""
    return updated_if(
        table,
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="SET acting_since = if_not_exists(acting_since, :at)",
        ConditionExpression=f"#status IN ({', '.join(_PLANNABLE_VALUES)})",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":at": format_utc(at), **_PLANNABLE_VALUES},
    )


def close_unacted(table: Any, request_id: str, status: RequestStatus, at: datetime, *, drop_identifiers: bool) -> bool:
    """Close an open request no store has acted on as ``status`` (cancelled, refused); False if it is closed
    already or a store task claimed it first. Dropping the identifiers also makes its code stop working."""
    open_values = {f":open{i}": value for i, value in enumerate(sorted(UNACTED_OPEN))}
    drop = (
        " REMOVE subject, details, task_token, code_digest" if drop_identifiers else " REMOVE task_token, code_digest"
    )
    return updated_if(
        table,
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="SET #status = :status, completed_at = :at, closed_unacted_at = :at" + drop,
        ConditionExpression=f"#status IN ({', '.join(open_values)}) AND attribute_not_exists(acting_since)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": status.value, ":at": format_utc(at), **open_values},
    )


def drop_closed_identifiers(table: Any, request_id: str, status: RequestStatus) -> None:
    """Remove the raw identifiers of a request closed as ``status`` once nothing more needs them."""
    table.update_item(
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="REMOVE subject, details",
        ConditionExpression="#status = :status",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": status.value},
    )


def record_closing_evidence(table: Any, request_id: str, evidence_key: str) -> None:
    """The cancellation's or refusal's evidence record (the requester's status shows it)."""
    table.update_item(
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="SET evidence_key = :key",
        ExpressionAttributeValues={":key": evidence_key},
    )
