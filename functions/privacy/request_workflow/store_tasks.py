"""Run one store task of a request (export, erase, rectify, restrict, opt_out, or the re-check after an erasure).

Every operation goes through one path: the task writes its evidence record
requests/<id>/stores/<store>.<operation>.json first-time-only, and when it runs again (a retry, a
redrive, a re-run of the request) it returns the recorded outcome instead of acting twice.
"""

from __future__ import annotations

from typing import Any

from functions.privacy.connectors.base import ChangeResult, EraseResult, ExportResult, Subject
from functions.privacy.connectors.registry import connector_for
from functions.privacy.connectors.ses_contact_list import SesContactListConnector
from functions.privacy.core import timestamps
from functions.privacy.core.clients import Clients
from functions.privacy.core.keys import key_digester, masking_hasher
from functions.privacy.core.settings import StoreTaskSettings
from functions.privacy.evidence import records as evidence
from functions.privacy.request_workflow import exports
from functions.privacy.request_workflow.planning import opt_out_only, request_corrections, request_topics
from functions.privacy.requests import record as requests

OPERATIONS = ("export", "erase", "rectify", "restrict", "opt_out")
# Evidence event names; erase keeps the name the skeleton's records already use.
EVENTS = {"erase": "store_erased", **{op: f"store_{op}" for op in OPERATIONS if op != "erase"}}
# What each result reports in state and evidence: counts, attribute names and exceptions, never values.
FIELDS = {
    # Not a lake store's per-object evidence (objects): it stays in the store's record, which the completion record
    # links by digest. A subject in a few hundred lake files would pass the 256 KB of a task output and of state.
    "erase": ("found", "deleted", "anonymised", "kept", "added", "exceptions", "matched_spelling"),
    "export": ("records", "objects", "bytes", "matched_spelling"),
    "rectify": ("found", "changed", "unchanged", "not_applicable", "attributes", "exceptions"),
    "restrict": ("found", "changed", "unchanged", "not_applicable", "attributes", "exceptions"),
    "opt_out": ("found", "changed", "unchanged", "not_applicable", "attributes", "exceptions"),
}


class UnknownOperation(ValueError):
    """The task names an operation no store supports."""


class RequestClosedMeanwhile(RuntimeError):
    """The request was cancelled or refused before this store was acted on: nothing is done."""


def _connector(store_name: str, request_id: str, settings: StoreTaskSettings, clients: Clients) -> Any:
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


def _act(
    operation: str, store_name: str, request_id: str, subject: Subject, settings: StoreTaskSettings, clients: Clients
) -> EraseResult | ExportResult | ChangeResult:
    connector = _connector(store_name, request_id, settings, clients)
    result = _operate(connector, operation, store_name, request_id, subject, settings, clients)
    # Which spelling of the identifier found the records (as_typed / normalised): evidence of the lookup.
    return result.model_copy(update={"matched_spelling": connector.matched_spelling})


def _operate(
    connector: Any,
    operation: str,
    store_name: str,
    request_id: str,
    subject: Subject,
    settings: StoreTaskSettings,
    clients: Clients,
) -> EraseResult | ExportResult | ChangeResult:
    if operation == "erase":
        return connector.erase(subject)
    if operation == "export":
        sink = exports.S3ExportSink(clients.client("s3"), settings.EXPORT_BUCKET, request_id)
        return connector.export(subject, sink)
    if operation == "rectify":
        table = clients.resource_table(settings.REQUESTS_TABLE)
        allowed = settings.datamap().stores[store_name].rectifiable
        corrections = {k: v for k, v in request_corrections(table, request_id).items() if k in allowed}
        if not corrections:  # planning gives such stores no task; a stray one changes nothing
            return ChangeResult(not_applicable=True)
        return connector.rectify(subject, corrections)
    if operation == "restrict":
        return connector.restrict(subject)
    if operation == "opt_out":
        topics = request_topics(clients.resource_table(settings.REQUESTS_TABLE), request_id)
        if not topics:
            return connector.opt_out(subject)
        if not isinstance(connector, SesContactListConnector):  # planning gives such stores no task
            return ChangeResult(not_applicable=True)
        return connector.withdraw_topics(subject, topics)
    raise UnknownOperation(f"operation {operation} is not one of {', '.join(OPERATIONS)}")


def run_store_task(
    request_id: str, store_name: str, operation: str, settings: StoreTaskSettings, clients: Clients
) -> dict[str, Any]:
    """Act on one store once and record what was done (counts, attribute names, key digests, exceptions)."""
    if operation not in OPERATIONS:
        raise UnknownOperation(f"operation {operation} is not one of {', '.join(OPERATIONS)}")
    s3 = clients.client("s3")
    key = evidence.store_outcome_key(request_id, store_name, operation)
    recorded = evidence.read_record(s3, settings.AUDIT_BUCKET, key)
    if (
        recorded is not None
        and operation == "export"
        and _export_part_lost(request_id, store_name, recorded[0], settings, s3)
    ):
        # The recorded export's part expired before the archive held it: read the store again so the
        # archive is whole. The evidence keeps the first read (first-time-only); only the part is rewritten.
        subject = Subject(requests.get_identifiers(clients.resource_table(settings.REQUESTS_TABLE), request_id))
        _act(operation, store_name, request_id, subject, settings, clients)
    if recorded is None:
        table = clients.resource_table(settings.REQUESTS_TABLE)
        subject = Subject(requests.get_identifiers(table, request_id))
        claim_store(table, request_id, store_name, operation)
        result = _act(operation, store_name, request_id, subject, settings, clients)
        recorded = record_outcome(request_id, store_name, operation, result, settings, clients)
    return task_output(store_name, operation, key, recorded)


def recorded_outcome(
    request_id: str, store_name: str, operation: str, settings: StoreTaskSettings, clients: Clients
) -> tuple[dict[str, Any], str] | None:
    """The store's recorded evidence for this operation (body, sha256), or None when it was not acted on yet."""
    key = evidence.store_outcome_key(request_id, store_name, operation)
    return evidence.read_record(clients.client("s3"), settings.AUDIT_BUCKET, key)


def claim_store(table: Any, request_id: str, store_name: str, operation: str) -> None:
    """Check the request may be acted on and claim it: from here on it can no longer be cancelled."""
    opt_out_only(requests.request_item(table, request_id), operation)  # a request filed without proof
    # The claim and a cancel/refusal are conditional updates of the same record: only one of them wins.
    if not requests.claim_for_acting(table, request_id, timestamps.now()):
        raise RequestClosedMeanwhile(f"request {request_id} was cancelled or refused: {store_name} not acted on")


def record_outcome(
    request_id: str,
    store_name: str,
    operation: str,
    result: EraseResult | ExportResult | ChangeResult,
    settings: StoreTaskSettings,
    clients: Clients,
) -> tuple[dict[str, Any], str]:
    """Write the store's evidence record first-time-only (an existing one is returned instead)."""
    table = clients.resource_table(settings.REQUESTS_TABLE)
    record = requests.get_request(table, request_id)
    digests = sorted(getattr(result, "key_digests", []))
    fields: dict[str, Any] = {
        "kind": "request_event",
        "event": EVENTS[operation],
        "request_id": request_id,
        "subject": record.subject_hmac,
        "store": store_name,
        "store_kind": settings.datamap().stores[store_name].kind.value,
        "operation": operation,
        # Export file paths may contain identifiers from object keys: evidence keeps the count only.
        "outcome": result.model_dump(mode="json", exclude={"key_digests", "files"}),
    }
    if isinstance(result, ExportResult):
        fields["outcome"]["files"] = len(result.files)
    fields["erased_key_digests" if operation == "erase" else "key_digests"] = digests
    key = evidence.store_outcome_key(request_id, store_name, operation)
    return evidence.write_record(clients.client("s3"), settings.AUDIT_BUCKET, key, fields)


def task_output(store_name: str, operation: str, key: str, recorded: tuple[dict[str, Any], str]) -> dict[str, Any]:
    """What the workflow gets for a store task: the recorded outcome's counts and the evidence record's digest."""
    body, digest = recorded
    outcome = body["outcome"]
    return {
        "store": store_name,
        "operation": operation,
        "status": "succeeded",
        **{k: outcome[k] for k in FIELDS[operation] if k in outcome},
        "evidence_key": key,
        "evidence_sha256": digest,
    }


def _export_part_lost(
    request_id: str, store_name: str, recorded: dict[str, Any], settings: StoreTaskSettings, s3: Any
) -> bool:
    """A recorded export that found data, whose part is gone while the archive is not yet complete."""
    outcome = recorded.get("outcome", {})
    if not (outcome.get("records") or outcome.get("objects")):
        return False  # nothing found, no part written
    if exports.has_parts(s3, settings.EXPORT_BUCKET, request_id, store_name):
        return False
    return not exports.archive_complete(s3, settings.EXPORT_BUCKET, request_id)


def erase_store(request_id: str, store_name: str, settings: StoreTaskSettings, clients: Clients) -> dict[str, Any]:
    """Erase the subject from one store (see run_store_task)."""
    return run_store_task(request_id, store_name, "erase", settings, clients)


def recheck_store(request_id: str, store_name: str, settings: StoreTaskSettings, clients: Clients) -> dict[str, Any]:
    """Look for the subject again: anything still personal and not covered by an exception is residual."""
    table = clients.resource_table(settings.REQUESTS_TABLE)
    subject = Subject(requests.get_identifiers(table, request_id))
    store = settings.datamap().stores[store_name]
    found = _connector(store_name, request_id, settings, clients).find(subject)
    residual = 0 if store.erasure.mode == "skip" else found.personal
    return {"store": store_name, "found": found.found, "residual": residual, "kept": found.found - residual}
