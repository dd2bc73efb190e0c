"""Requests an operator files on someone's behalf (identity checked another way), created verified."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from functions.privacy.core.keys import subject_hmac
from functions.privacy.datamap.model import DataMap
from functions.privacy.evidence import records as evidence
from functions.privacy.intake.filing import Submission
from functions.privacy.operations.actions import Tables, evidence_text
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestStatus, iso


def file_on_behalf(
    tables: Tables,
    clients: Any,
    datamap: DataMap,
    submission: Submission,
    *,
    reason: str,
    operator: str,
    now: datetime | None = None,
) -> requests.RequestRecord:
    """File a request for someone whose identity the operator checked another way (a letter, a call, a
    child's data found without consent): created verified, the reason in the evidence, its workflow started.
    """
    reason = evidence_text(reason, "the reason")
    operator = evidence_text(operator, "the operator name")
    now = now or datetime.now(UTC)
    identifier = datamap.subject_identifier
    subject = subject_hmac(clients.client("kms"), tables.hmac_key, identifier, submission.email)
    details = {k: v for k, v in {"corrections": submission.corrections, "note": submission.note}.items() if v}
    record = requests.create_request(
        clients.resource_table(tables.requests_table),
        submission.type,
        {identifier: submission.email},
        submission.jurisdiction,
        received=now,
        status=RequestStatus.VERIFIED.value,
        attributes={
            "subject_hmac": subject,
            "channel": "operator",
            "filed_by": operator,
            **({"details": details} if details else {}),
        },
    )
    s3 = clients.client("s3")
    common = {"request_type": record.type.value, "jurisdiction": record.jurisdiction.value, "subject": subject}
    evidence.append_request_event(
        s3,
        tables.audit_bucket,
        record.request_id,
        "received",
        {
            **common,
            "received_at": record.received_at,
            "due_at": record.due_at,
            "channel": "operator",
            "corrections": len(submission.corrections or {}),
        },
    )
    evidence.append_request_event(
        s3,
        tables.audit_bucket,
        record.request_id,
        "verified",
        {"verified_at": iso(now), "method": "operator", "operator": operator, "reason": reason},
    )
    evidence.write_operator_action(
        s3,
        tables.audit_bucket,
        "request_filed",
        record.request_id,
        {**common, "request_id": record.request_id, "operator": operator, "reason": reason},
        at=now,
    )
    clients.client("stepfunctions").start_execution(
        stateMachineArn=tables.state_machine_arn,
        name=record.request_id,
        input=json.dumps({"request_id": record.request_id}),
    )
    return record
