"""Aggregate store outcomes and the re-check into the request's result and its completion evidence."""

from __future__ import annotations

from typing import Any

from . import evidence, requests
from .aws import Clients
from .settings import Settings


def request_status(outcomes: list[dict[str, Any]], rechecks: list[dict[str, Any]]) -> str:
    """completed only if every store task succeeded and the re-check finds nothing left uncovered."""
    failed = [o for o in outcomes if o.get("status") != "succeeded"]
    residual = [r for r in rechecks if r.get("residual", 0) > 0 or r.get("status") == "failed"]
    if not failed and not residual:
        return "completed"
    if len(failed) == len(outcomes):
        return "failed"
    return "partially_completed"


def complete_request(
    request_id: str,
    outcomes: list[dict[str, Any]],
    rechecks: list[dict[str, Any]],
    settings: Settings,
    clients: Clients,
) -> dict[str, Any]:
    """Write the completion record linking every store record by hash; idempotent by key."""
    table = clients.resource_table(settings.REQUESTS_TABLE)
    record = requests.get_request(table, request_id)
    status = request_status(outcomes, rechecks)
    stores = {
        o["store"]: {
            "status": o.get("status", "failed"),
            **({"error": o["error"]} if o.get("error") else {}),
            **{k: o[k] for k in ("found", "deleted", "anonymised", "kept", "exceptions") if k in o},
            **({"record": o["evidence_key"], "record_sha256": o["evidence_sha256"]} if "evidence_key" in o else {}),
        }
        for o in outcomes
    }
    for check in rechecks:
        stores.setdefault(check["store"], {"status": "failed"})["recheck"] = {
            k: check[k] for k in ("found", "residual", "kept", "error") if k in check
        }
    key, body, digest = evidence.append_request_event(
        clients.client("s3"),
        settings.AUDIT_BUCKET,
        request_id,
        "completed",
        {
            "request_type": record.type.value,
            "jurisdiction": record.jurisdiction.value,
            "subject": record.subject_hmac,
            "received_at": record.received_at,
            "due_at": record.due_at,
            "status": status,
            "stores": stores,
            "exceptions": sorted({e for s in stores.values() for e in s.get("exceptions", [])}),
        },
    )
    return {
        "status": body["status"],
        "request_type": body["request_type"],
        "evidence_key": key,
        "evidence_sha256": digest,
    }
