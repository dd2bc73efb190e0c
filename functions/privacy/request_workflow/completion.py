"""Aggregate store outcomes and the re-check into the request's result and its completion evidence."""

from __future__ import annotations

from typing import Any

from functions.privacy.core.clients import Clients
from functions.privacy.core.settings import CompleteSettings
from functions.privacy.evidence import records as evidence
from functions.privacy.request_workflow import disclosure
from functions.privacy.requests import executions
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestStatus, RequestType

# Counts and names a store's entry in the completion record may carry (never values).
OUTCOME_FIELDS = (
    "found",
    "deleted",
    "anonymised",
    "kept",
    "added",
    "changed",
    "unchanged",
    "not_applicable",
    "attributes",
    "records",
    "objects",
    "bytes",
    "holds",
    "exceptions",
)


def request_status(outcomes: list[dict[str, Any]], rechecks: list[dict[str, Any]]) -> str:
    """completed only if every store task succeeded and the re-check finds nothing left uncovered.

    A store kept under a legal hold makes the request partially_completed: the hold is temporary,
    so the request stays open (identifiers kept) for the re-run once the hold is released.
    """
    failed = [o for o in outcomes if o.get("status") not in {"succeeded", "held"}]
    held = [o for o in outcomes if o.get("status") == "held"]
    residual = [r for r in rechecks if r.get("residual", 0) > 0 or r.get("status") == "failed"]
    if not failed and not residual and not held:
        return RequestStatus.COMPLETED.value
    if outcomes and len(failed) == len(outcomes):
        return RequestStatus.FAILED.value
    return RequestStatus.PARTIALLY_COMPLETED.value


def completion_event(request_id: str, execution: str | None) -> str:
    """``completed`` for the first execution; a re-run (``<id>--rerun-<n>``) appends its own record.

    The chain keeps one record per event name, so a retried WriteEvidence finds its record while a
    re-run after a partial completion records its new outcome next to the first one.
    """
    if execution and execution != request_id:
        _, number = executions.parse_execution_name(execution)
        if number:
            return f"completed_rerun_{number}"
    return "completed"


def complete_request(
    request_id: str,
    outcomes: list[dict[str, Any]],
    rechecks: list[dict[str, Any]],
    settings: CompleteSettings,
    clients: Clients,
    *,
    held: list[dict[str, Any]] | None = None,
    execution: str | None = None,
    export: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the completion record linking every store record by hash; idempotent by key."""
    table = clients.resource_table(settings.REQUESTS_TABLE)
    record = requests.get_request(table, request_id)
    everything = [*outcomes, *(held or [])]
    status = request_status(everything, rechecks)
    if record.type is RequestType.ACCESS and not (export or {}).get("archive_key"):
        status = RequestStatus.FAILED.value  # without the archive nothing reached the requester
    stores = {
        o["store"]: {
            "status": o.get("status", "failed"),
            **({"operation": o["operation"]} if o.get("operation") else {}),
            **({"error": o["error"]} if o.get("error") else {}),
            **{k: o[k] for k in OUTCOME_FIELDS if k in o},
            **({"record": o["evidence_key"], "record_sha256": o["evidence_sha256"]} if "evidence_key" in o else {}),
        }
        for o in everything
    }
    for check in rechecks:
        stores.setdefault(check["store"], {"status": "failed"})["recheck"] = {
            k: check[k] for k in ("found", "residual", "kept", "error") if k in check
        }
    fields: dict[str, Any] = {
        "request_type": record.type.value,
        "jurisdiction": record.jurisdiction.value,
        "subject": record.subject_hmac,
        "received_at": record.received_at,
        "due_at": record.due_at,
        "status": status,
        "stores": stores,
        "exceptions": sorted({e for s in stores.values() for e in s.get("exceptions", [])}),
    }
    unresolved = requests.unresolved_identifiers(table, request_id)
    if unresolved:
        # An identifier that did not resolve leaves stores unsearched: the record says which, never a value.
        fields["unresolved_identifiers"] = unresolved
    if execution:
        fields["execution"] = execution
    if record.type is RequestType.DISCLOSURE_NOTICE:
        # What the notice states (the Notify step sends the same facts): year, category and recipient names.
        fields["disclosure_notice"] = disclosure.disclosure_facts(settings.datamap(), record.received_at)
    if export and export.get("archive_key"):
        fields["export"] = {k: export[k] for k in ("archive_key", "archive_bytes", "files") if k in export}
    key, body, digest = evidence.append_request_event(
        clients.client("s3"), settings.AUDIT_BUCKET, request_id, completion_event(request_id, execution), fields
    )
    return {
        "status": body["status"],
        "request_type": body["request_type"],
        "evidence_key": key,
        "evidence_sha256": digest,
    }
