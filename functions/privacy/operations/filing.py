"""Requests an operator files on someone's behalf (identity checked another way), created verified."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.datamap.model import DataMap
from functions.privacy.evidence import records as evidence
from functions.privacy.intake.filing import Channel, FilingPlace, IdentityChecked, Submission, file
from functions.privacy.operations.actions import Tables, evidence_text
from functions.privacy.requests import record as requests


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
    now = now or timestamps.now()
    place = FilingPlace(
        requests_table=tables.requests_table,
        audit_bucket=tables.audit_bucket,
        state_machine_arn=tables.state_machine_arn,
        hmac_key_id=tables.hmac_key,
        subject_identifier=datamap.subject_identifier,
    )
    record = file(
        submission,
        place,
        clients,
        channel=Channel.OPERATOR,
        checked=IdentityChecked("operator", {"operator": operator, "reason": reason}),
        attributes={"filed_by": operator},
        now=now,
    )
    fields = {
        "request_type": record.type.value,
        "jurisdiction": record.jurisdiction.value,
        "subject": record.subject_hmac,
    }
    evidence.write_operator_action(
        clients.client("s3"),
        tables.audit_bucket,
        "request_filed",
        record.request_id,
        {
            **fields,
            "subject": record.subject_hmac,
            "request_id": record.request_id,
            "operator": operator,
            "reason": reason,
        },
        at=now,
    )
    return record
