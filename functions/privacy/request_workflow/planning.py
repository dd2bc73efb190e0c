"""Plan a request: resolve the subject through the data map, check legal holds and list one task per store."""

from __future__ import annotations

from typing import Any

from functions.privacy.connectors.corrections import validate_corrections
from functions.privacy.core.clients import Clients
from functions.privacy.core.keys import subject_hmac
from functions.privacy.core.settings import PlanSettings
from functions.privacy.datamap.model import DataMap, StoreKind
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestType
from functions.privacy.subjects import holds
from functions.privacy.subjects.resolution import resolve


class RequestTypeNotSupported(ValueError):
    """The workflow cannot act on this request type; the request fails with this named error."""


# The store operation each request type runs. Objection (Art. 21) stops processing as restriction does.
OPERATIONS = {
    RequestType.ACCESS: "export",
    RequestType.ERASURE: "erase",
    RequestType.RECTIFICATION: "rectify",
    RequestType.RESTRICTION: "restrict",
    RequestType.OBJECTION: "restrict",
    RequestType.OPT_OUT: "opt_out",
    # The notice comes from the data map: no store task, and the subject is not even looked up.
    RequestType.DISCLOSURE_NOTICE: "disclose",
}
# Only erasure is checked by finding the subject again; for the others the store task's own result
# (every found record changed or already in the requested state) is what "done" means.
RECHECKED = frozenset({"erase"})


class VerificationRequired(PermissionError):
    """A request filed without proof (an opt-out) asks for more than an opt-out: nothing is planned."""


def request_topics(table: Any, request_id: str) -> list[str]:
    """The contact-list topics an opt-out withdraws consent for; empty means every topic, and the suppression."""
    details = requests.request_item(table, request_id).get("details") or {}
    return sorted(str(t) for t in details.get("topics") or ())


def opt_out_only(item: dict[str, Any], operation: str | None) -> None:
    """An opt-out needs no proof, so a request that skipped it may only opt out: never export or erase."""
    if item.get("verification_waived") and (item.get("type") != RequestType.OPT_OUT.value or operation != "opt_out"):
        raise VerificationRequired(f"request {item.get('request_id')} was filed without proof: opt_out only")


def request_corrections(table: Any, request_id: str) -> dict[str, Any]:
    """The corrections the requester filed (personal data: never log or pass them on)."""
    details = requests.request_item(table, request_id).get("details") or {}
    return dict(details.get("corrections") or {})


def held_outcomes(
    hold_list: list[holds.Hold], datamap: DataMap, operation: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """Stores an erasure may act on, and an outcome naming the hold for each store an active hold covers.

    GDPR Art. 17(3)(e): data needed for legal claims is kept; the hold's reason is the recorded exception.
    """
    if operation != "erase" or not hold_list:
        return list(datamap.stores), []
    free, held = [], []
    for name, store in datamap.stores.items():
        covering = [h for h in hold_list if h.covers(name, store)]
        if not covering:
            free.append(name)
            continue
        held.append(
            {
                "store": name,
                "operation": operation,
                "status": "held",
                "holds": sorted(h.hold_id for h in covering),
                "exceptions": sorted({f"legal hold: {h.reason}" for h in covering}),
            }
        )
    return free, held


def plan_request(request_id: str, settings: PlanSettings, clients: Clients) -> dict[str, Any]:
    """Resolve identifiers, record them on the request, check holds and corrections, return the store tasks.

    Only the request id, store names and kinds, hold reasons and the subject's HMAC enter Step Functions state.
    """
    table = clients.resource_table(settings.REQUESTS_TABLE)
    record = requests.get_request(table, request_id)
    operation = OPERATIONS.get(record.type)
    if operation is None:
        raise RequestTypeNotSupported(f"request type {record.type.value} is not supported by this workflow")
    opt_out_only(requests.request_item(table, request_id), operation)
    datamap = settings.datamap()
    stores = list(datamap.stores)
    if operation == "opt_out" and request_topics(table, request_id):
        # Consent withdrawn "in part" (Art. 7(3)): only the contact lists' topics change; suppressing the
        # address would stop every topic, so the suppression list is left alone.
        stores = [name for name, store in datamap.stores.items() if store.kind is StoreKind.SES_CONTACT_LIST]
    if operation == "rectify":
        # Checked for every store before any task runs: a bad correction (InvalidCorrection, naming the
        # attributes at fault) fails the request with nothing changed anywhere.
        corrections = validate_corrections(datamap, request_corrections(table, request_id))
        stores = [name for name, store in datamap.stores.items() if set(store.rectifiable) & set(corrections)]
    identifiers = requests.get_identifiers(table, request_id)
    email = identifiers[datamap.subject_identifier]
    hmac_value = subject_hmac(clients.client("kms"), settings.HMAC_KEY_ID, datamap.subject_identifier, email)
    if operation == "disclose":
        return disclosure_plan(table, request_id, identifiers, hmac_value)
    resolution = resolve(datamap, email, clients)
    # A re-run keeps what the first run resolved: once the customers record is erased, the email alone
    # no longer leads to the customer id that a held store is keyed by.
    resolved = {**identifiers, **resolution.subject.identifiers}
    # Named in the result and evidence (identifier, store, stores not searched; never a value).
    unresolved = [u for u in resolution.unresolved if u["identifier"] not in resolved]
    requests.record_resolution(table, request_id, resolved, hmac_value, unresolved)
    active = holds.holds_for(clients.resource_table(settings.HOLDS_TABLE), hmac_value)
    free, held = held_outcomes(active, datamap, operation)
    # The store kind routes a task to its function in the workflow (s3_dataset: the dataset store task).
    tasks = [
        {"request_id": request_id, "store": name, "kind": datamap.stores[name].kind.value, "operation": operation}
        for name in stores
        if name in free
    ]
    return {
        "request_id": request_id,
        "type": record.type.value,
        "operation": operation,
        "subject_hmac": hmac_value,
        "tasks": tasks,
        "held": held,
        "unresolved": unresolved,
        "recheck": operation in RECHECKED,
    }


def disclosure_plan(table: Any, request_id: str, identifiers: dict[str, str], hmac_value: str) -> dict[str, Any]:
    """A disclosure notice plans no store task: the workflow goes straight to evidence and the notice."""
    requests.record_resolution(table, request_id, identifiers, hmac_value, [])
    return {
        "request_id": request_id,
        "type": RequestType.DISCLOSURE_NOTICE.value,
        "operation": "disclose",
        "subject_hmac": hmac_value,
        "tasks": [],
        "held": [],
        "unresolved": [],
        "recheck": False,
    }
