"""An operator's refusal of a request (GDPR Art. 12(4)-(5), CCPA 1798.145 and 11 CCR 7022): closed as ``refused``
before any store was acted on, its workflow stopped, the requester told why and where to complain, evidence
written, identifiers dropped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc
from functions.privacy.evidence import records as evidence
from functions.privacy.operations.actions import OperatorError, Tables, evidence_text
from functions.privacy.requests import executions
from functions.privacy.requests import notices as notify
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestRecord, RequestStatus

REFUSED = RequestStatus.REFUSED


class Ground(str, Enum):
    """Why a request may be refused: Art. 12(5) (manifestly unfounded or excessive), Art. 12(6) and CCPA's
    verification rules (identity), or an exception in law (Art. 17(3), 23; CCPA 1798.105(d), 1798.145)."""

    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    EXCESSIVE = "excessive"
    IDENTITY = "identity"
    LEGAL_EXCEPTION = "legal_exception"


class RefusalRefused(OperatorError):
    """The request cannot be refused (closed, or a store was already acted on); the message says why."""


@dataclass(frozen=True)
class Refusal:
    request_id: str
    ground: Ground
    evidence_key: str
    message_id: str | None
    stopped: list[str]


def refuse_request(
    tables: Tables,
    clients: Any,
    *,
    sender: str,
    request_id: str,
    reason: str,
    ground: Ground,
    operator: str,
    now: datetime | None = None,
    configuration_set: str | None = None,
) -> Refusal:
    """Close an open request no store has acted on as refused and tell the requester.

    The conditional close is the same one the requester's cancel uses, so a store task that claimed the
    request first wins (RefusalRefused). Run again on a refused request, it finishes what a failed run left:
    the mail goes out while the identifiers are still there, evidence once, then the identifiers go.
    """
    now = now or timestamps.now()
    reason, operator = evidence_text(reason, "the reason"), evidence_text(operator, "the operator name")
    table = clients.resource_table(tables.requests_table)
    item = requests.request_item(table, request_id)
    record = RequestRecord.model_validate(item)
    if record.status != REFUSED.value and not requests.close_unacted(
        table, request_id, REFUSED, now, drop_identifiers=False
    ):
        current = requests.get_request(table, request_id).status
        raise RefusalRefused(
            f"request {request_id} is {current}: only an open request no store has acted on can be refused"
        )
    stopped = executions.stop_running(
        clients.client("stepfunctions"),
        tables.state_machine_arn,
        request_id,
        error="RequestRefused",
        cause="An operator refused the request before any store was acted on.",
    )
    email = (requests.request_item(table, request_id).get("subject") or {}).get("email")
    message_id = None
    if email:
        message_id = notify.send_refusal_email(
            clients.client("sesv2"),
            sender,
            str(email),
            request_id=request_id,
            request_type=record.type.value,
            jurisdiction=record.jurisdiction.value,
            ground=ground.value,
            reason=reason,
            configuration_set=configuration_set,
        )
    fields = {
        "request_type": record.type.value,
        "jurisdiction": record.jurisdiction.value,
        "previous_status": record.status,
        "ground": ground.value,
        "reason": reason,
        "operator": operator,
        "refused_at": format_utc(now),
        "requester_told": bool(email),
    }
    s3 = clients.client("s3")
    key, _, _ = evidence.append_request_event(s3, tables.audit_bucket, request_id, REFUSED.value, fields)
    evidence.write_operator_action(
        s3, tables.audit_bucket, "request_refused", request_id, {"request_id": request_id, **fields}, at=now
    )
    requests.drop_closed_identifiers(table, request_id, REFUSED)
    requests.record_closing_evidence(table, request_id, key)
    return Refusal(request_id, ground, key, message_id, stopped)
