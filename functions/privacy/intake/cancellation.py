"""The requester's cancel: a request nothing has been done for yet is closed as ``cancelled``, its workflow
stopped, its identifiers dropped, with evidence. Once any store was acted on it can no longer be cancelled."""

from __future__ import annotations

from datetime import datetime

from functions.privacy.core import timestamps
from functions.privacy.core.clients import Clients
from functions.privacy.core.settings import IntakeSettings
from functions.privacy.core.timestamps import format_utc
from functions.privacy.evidence import records as evidence
from functions.privacy.intake.status import request_status
from functions.privacy.requests import executions
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestStatus

CANCELLED = RequestStatus.CANCELLED.value


class NotCancellable(Exception):
    """Something was already done for the request (or it is closed): the API answers 409."""

    code = "not_cancellable"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"The request is {status}: it can be cancelled only before anything has been done in our systems."
        )


def cancel_request(
    request_id: str,
    status_token: str | None,
    settings: IntakeSettings,
    clients: Clients,
    *,
    now: datetime | None = None,
) -> str:
    """Cancel the request for whoever holds its status token (anyone else: RequestNotFound, as for status).

    The conditional update on the record decides the race with the store tasks (which claim it before
    acting); the execution is stopped after, so a request whose store task won is never interrupted.
    Calling it again on a cancelled request finishes what a failed call left (stop, evidence) and answers
    the same.
    """
    at = now or timestamps.now()
    view = request_status(request_id, status_token, settings, clients)  # the same 404 as the status route
    table = clients.resource_table(settings.REQUESTS_TABLE)
    if view.status != CANCELLED:
        closed = requests.close_unacted(table, request_id, RequestStatus.CANCELLED, at, drop_identifiers=True)
        if not closed:
            raise NotCancellable(requests.get_request(table, request_id).status)
    executions.stop_running(
        clients.client("stepfunctions"),
        settings.STATE_MACHINE_ARN,
        request_id,
        error="RequestCancelled",
        cause="The requester cancelled the request before any store was acted on.",
    )
    record = requests.request_item(table, request_id)
    key, _, _ = evidence.append_request_event(
        clients.client("s3"),
        settings.AUDIT_BUCKET,
        request_id,
        CANCELLED,
        {
            k: v
            for k, v in {
                "request_type": str(record["type"]),
                "jurisdiction": str(record["jurisdiction"]),
                "cancelled_at": str(record.get("closed_unacted_at") or format_utc(at)),
                "previous_status": view.status if view.status != CANCELLED else None,
                "by": "requester",
                "identifiers_dropped": True,
            }.items()
            if v is not None
        },
    )
    requests.record_closing_evidence(table, request_id, key)
    return CANCELLED
