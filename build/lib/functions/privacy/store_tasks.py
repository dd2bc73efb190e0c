"""Run one store task of a request (erase, or the re-check after it) through the store's connector.

Each erase writes its own evidence record first-time-only, and returns the recorded outcome when it
runs again, so a retried or redriven task never double-deletes or double-writes evidence.
"""

from __future__ import annotations

from typing import Any

from . import evidence, requests
from .aws import Clients
from .connectors.base import Subject
from .connectors.registry import connector_for
from .keys import key_digester, masking_hasher
from .settings import Settings


def _connector(store_name: str, request_id: str, settings: Settings, clients: Clients) -> Any:
    datamap = settings.datamap()
    kms = clients.client("kms")
    return connector_for(
        store_name,
        datamap.stores[store_name],
        clients,
        key_digester(kms, settings.HMAC_KEY_ID, request_id).digest,
        masking_hasher(kms, settings.HMAC_KEY_ID).digest,
        datamap,
    )


def erase_store(request_id: str, store_name: str, settings: Settings, clients: Clients) -> dict[str, Any]:
    """Erase the subject from one store and record what was done (counts, digests, exceptions)."""
    s3 = clients.client("s3")
    key = evidence.store_outcome_key(request_id, store_name, "erase")
    recorded = evidence.read_record(s3, settings.AUDIT_BUCKET, key)
    if recorded is None:
        table = clients.resource_table(settings.REQUESTS_TABLE)
        subject = Subject(requests.get_identifiers(table, request_id))
        record = requests.get_request(table, request_id)
        result = _connector(store_name, request_id, settings, clients).erase(subject)
        recorded = evidence.write_record(
            s3,
            settings.AUDIT_BUCKET,
            key,
            {
                "kind": "request_event",
                "event": "store_erased",
                "request_id": request_id,
                "subject": record.subject_hmac,
                "store": store_name,
                "store_kind": settings.datamap().stores[store_name].kind.value,
                "outcome": result.model_dump(mode="json", exclude={"key_digests"}),
                "erased_key_digests": sorted(result.key_digests),
            },
        )
    body, digest = recorded
    outcome = body["outcome"]
    return {
        "store": store_name,
        "operation": "erase",
        "status": "succeeded",
        **{k: outcome[k] for k in ("found", "deleted", "anonymised", "kept", "exceptions")},
        "evidence_key": key,
        "evidence_sha256": digest,
    }


def recheck_store(request_id: str, store_name: str, settings: Settings, clients: Clients) -> dict[str, Any]:
    """Look for the subject again: anything still personal and not covered by an exception is residual."""
    table = clients.resource_table(settings.REQUESTS_TABLE)
    subject = Subject(requests.get_identifiers(table, request_id))
    store = settings.datamap().stores[store_name]
    found = _connector(store_name, request_id, settings, clients).find(subject)
    residual = 0 if store.erasure.mode == "skip" else found.personal
    return {"store": store_name, "found": found.found, "residual": residual, "kept": found.found - residual}
