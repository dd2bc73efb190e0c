"""A request's status for whoever holds its status token (the requester); anyone else learns nothing."""

from __future__ import annotations

from dataclasses import dataclass

from functions.privacy.core.clients import Clients
from functions.privacy.core.settings import IntakeSettings
from functions.privacy.intake.verification import request_item, verification_keys
from functions.privacy.requests import record as requests
from functions.privacy.requests import verification
from functions.privacy.requests.record import RequestNotFound


@dataclass(frozen=True)
class RequestView:
    request_id: str
    type: str
    status: str
    due_at: str
    created_at: str
    completed_at: str | None
    result: dict[str, str] | None


def request_status(
    request_id: str, status_token: str | None, settings: IntakeSettings, clients: Clients
) -> RequestView:
    """The request's status for whoever holds its status token; anyone else gets RequestNotFound.

    An unknown id, a missing token and a wrong token are indistinguishable, in answer and in the work done.
    """
    candidate = verification.token_digest(verification_keys(clients, settings), request_id, status_token or "")
    table = clients.resource_table(settings.REQUESTS_TABLE)
    try:
        item = request_item(table, request_id)
    except RequestNotFound:
        item = {}
    if not verification.digests_match(item.get("status_token_digest"), candidate) or not status_token:
        raise RequestNotFound(f"request {request_id} does not exist")
    record = requests.RequestRecord.model_validate(item)
    result = {k: v for k, v in {"evidence_key": record.evidence_key, "failure": record.failure}.items() if v}
    return RequestView(
        request_id=record.request_id,
        type=record.type.value,
        status=record.status,
        due_at=record.due_at,
        created_at=record.received_at,
        completed_at=record.completed_at,
        result=result or None,
    )
