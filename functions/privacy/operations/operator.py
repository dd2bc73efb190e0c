"""Operator actions behind the `dsr` command: requests filed on someone's behalf, legal holds, redrives,
and a request's timeline. Each action that changes something writes an operator-action evidence record.

Raw identifiers only pass through on their way into the KMS-encrypted tables; what these functions
return, and what evidence records, names subjects by HMAC.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.privacy.core.keys import subject_hmac
from functions.privacy.datamap.model import DataMap
from functions.privacy.evidence import records as evidence
from functions.privacy.intake.filing import Submission
from functions.privacy.requests import record as requests
from functions.privacy.requests.deadlines import parse_time, public_view, scan_requests
from functions.privacy.requests.record import RequestNotFound, RequestStatus, iso
from functions.privacy.subjects import holds
from functions.privacy.subjects.resolution import resolve_subject

# A rerun of a request is its own execution (Step Functions names are unique for 90 days).
RERUN = re.compile(r"^(?P<request_id>.+)--rerun-(?P<n>\d+)$")
REDRIVABLE = frozenset({RequestStatus.FAILED.value, RequestStatus.PARTIALLY_COMPLETED.value})


class OperatorError(ValueError):
    """An operator action that cannot be done as asked; the message says why."""


def evidence_text(value: str, what: str) -> str:
    """Free text an operator types that goes into evidence: non-empty and without an email address.

    The audit bucket cannot be erased, so an address typed into a reason would stay there for years.
    """
    value = value.strip()
    if not value:
        raise OperatorError(f"{what} is required (it goes into the evidence)")
    if "@" in value:
        raise OperatorError(f"{what} must not contain an email address or other personal data (it goes into evidence)")
    return value


@dataclass(frozen=True)
class Tables:
    """Where the engine keeps its state (from the stack outputs)."""

    requests_table: str
    holds_table: str
    audit_bucket: str
    hmac_key: str
    state_machine_arn: str


# ------------------------------------------------------------------------------------------------ filing


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


# ------------------------------------------------------------------------------------------------ holds


def place_hold(
    tables: Tables,
    clients: Any,
    datamap: DataMap,
    *,
    email: str,
    reason: str,
    operator: str,
    store: str | None = None,
    category: str | None = None,
    expires_at: str | None = None,
    now: datetime | None = None,
) -> holds.Hold:
    """Resolve the subject through the data map and hold their records (one store, one category, or all)."""
    reason = evidence_text(reason, "the reason")
    operator = evidence_text(operator, "the operator name")
    if store is not None and category is not None:
        raise OperatorError("a hold covers one store or one category, not both")
    if store is not None and store not in datamap.stores:
        raise OperatorError(f"unknown store {store!r}; the data map has: {', '.join(sorted(datamap.stores))}")
    if category is not None and category not in datamap.categories:
        known = ", ".join(sorted(datamap.categories))
        raise OperatorError(f"unknown category {category!r}; the data map has: {known}")
    if expires_at is not None:
        try:
            expires_at = iso(datetime.fromisoformat(expires_at.replace("Z", "+00:00")))
        except ValueError:
            raise OperatorError(f"--expires {expires_at!r} is not an ISO 8601 date or time") from None
    subject = resolve_subject(datamap, email, clients)
    identifier = datamap.subject_identifier
    subject_digest = subject_hmac(clients.client("kms"), tables.hmac_key, identifier, subject.identifiers[identifier])
    hold = holds.place_hold(
        clients.resource_table(tables.holds_table),
        subject_hmac=subject_digest,
        identifiers=dict(subject.identifiers),
        reason=reason,
        placed_by=operator,
        store=store,
        category=category,
        expires_at=expires_at,
        now=now,
    )
    evidence.write_operator_action(
        clients.client("s3"), tables.audit_bucket, "hold_placed", hold.hold_id, hold.public(), at=now
    )
    return hold


def release_hold(
    tables: Tables, clients: Any, *, subject: str, hold_id: str, operator: str, now: datetime | None = None
) -> holds.Hold:
    operator = evidence_text(operator, "the operator name")
    hold = holds.release_hold(
        clients.resource_table(tables.holds_table), subject, hold_id, released_by=operator, now=now
    )
    evidence.write_operator_action(
        clients.client("s3"), tables.audit_bucket, "hold_released", hold.hold_id, hold.public(), at=now
    )
    return hold


# ------------------------------------------------------------------------------------------------ redrive


def request_executions(sfn: Any, state_machine_arn: str, request_id: str) -> list[dict[str, Any]]:
    """The request's executions (the first, named after it, then its reruns), oldest first."""
    arn_prefix = state_machine_arn.replace(":stateMachine:", ":execution:") + ":"
    found = []
    for name in [request_id, *(f"{request_id}--rerun-{n}" for n in range(1, 100))]:
        try:
            found.append(sfn.describe_execution(executionArn=arn_prefix + name))
        except sfn.exceptions.ExecutionDoesNotExist:
            break
    return found


@dataclass(frozen=True)
class Redrive:
    request_id: str
    execution_arn: str
    method: str  # "redrive" (RedriveExecution) or "rerun" (a new execution of the same request)
    evidence_key: str


def redrive(tables: Tables, clients: Any, *, request_id: str, operator: str, now: datetime | None = None) -> Redrive:
    """Run a failed or partially completed request again: RedriveExecution where Step Functions offers it,
    otherwise a new execution ``<request_id>--rerun-<n>`` of the same request (every task is idempotent).
    """
    operator = evidence_text(operator, "the operator name")
    table = clients.resource_table(tables.requests_table)
    record = requests.get_request(table, request_id)
    if record.status not in REDRIVABLE:
        raise OperatorError(
            f"request {request_id} is {record.status}; only failed or partially completed requests are redriven"
        )
    sfn = clients.client("stepfunctions")
    executions = request_executions(sfn, tables.state_machine_arn, request_id)
    if not executions:
        raise OperatorError(f"request {request_id} has no execution to redrive")
    latest = executions[-1]
    if latest["status"] == "RUNNING":
        raise OperatorError(f"execution {latest['name']} of request {request_id} is still running")
    method, arn = "rerun", ""
    if latest["status"] in {"FAILED", "TIMED_OUT", "ABORTED"}:
        try:
            sfn.redrive_execution(executionArn=latest["executionArn"])
            method, arn = "redrive", latest["executionArn"]
        except Exception as exc:  # noqa: BLE001 - decided below: unavailable falls back, anything else is raised
            if sfn.describe_execution(executionArn=latest["executionArn"])["status"] == "RUNNING":
                method, arn = "redrive", latest["executionArn"]  # the call failed late but the redrive took
            elif not _redrive_unavailable(exc):
                raise
    if not arn:
        name = f"{request_id}--rerun-{len(executions)}"
        arn = sfn.start_execution(
            stateMachineArn=tables.state_machine_arn, name=name, input=json.dumps({"request_id": request_id})
        )["executionArn"]
    fields = {"request_id": request_id, "method": method, "execution": arn.rsplit(":", 1)[-1], "operator": operator}
    fields["previous_execution"] = latest["name"]
    fields["previous_status"] = record.status
    key, _, _ = evidence.write_operator_action(
        clients.client("s3"), tables.audit_bucket, "redriven", arn.rsplit(":", 1)[-1], fields, at=now
    )
    return Redrive(request_id, arn, method, key)


def _redrive_unavailable(exc: Exception) -> bool:
    """Step Functions refused the redrive (e.g. the execution is older than 14 days, or was redriven too often):
    start a new execution instead. Anything else is a real error."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) == "ExecutionNotRedrivable"


# ------------------------------------------------------------------------------------------------ timeline


def request_timeline(tables: Tables, clients: Any, request_id: str) -> dict[str, Any]:
    """What happened to one request: its record (no identifiers), its evidence chain and store records,
    and each execution's history reduced to state names, store by store.
    """
    table = clients.resource_table(tables.requests_table)
    item = table.get_item(Key={"request_id": request_id, "record": requests.RECORD}, ConsistentRead=True).get("Item")
    if item is None:
        raise RequestNotFound(f"request {request_id} does not exist")
    s3 = clients.client("s3")
    chain, stores = [], []
    prefix = evidence.request_prefix(request_id)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=tables.audit_bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            found = evidence.read_record(s3, tables.audit_bucket, obj["Key"])
            if found is None:
                continue
            body = found[0]
            entry = {"key": obj["Key"], "event": body.get("event", body.get("kind", "")), "at": body.get("recorded_at")}
            if "/chain/" in obj["Key"]:
                chain.append({**entry, "status": body.get("status")})
            else:
                store, operation = obj["Key"].rsplit("/", 1)[-1].removesuffix(".json").split(".", 1)
                counts = {k: body[k] for k in ("found", "deleted", "anonymised", "kept", "exported") if k in body}
                stores.append({**entry, "store": store, "operation": operation, "counts": counts})
    sfn = clients.client("stepfunctions")
    executions = []
    for execution in request_executions(sfn, tables.state_machine_arn, request_id):
        executions.append(
            {
                "name": execution["name"],
                "status": execution["status"],
                "started": _text(execution.get("startDate")),
                "stopped": _text(execution.get("stopDate")),
                "steps": execution_steps(sfn, execution["executionArn"]),
            }
        )
    return {
        "record": public_view(item),
        "chain": sorted(chain, key=lambda e: e["key"]),
        "stores": sorted(stores, key=lambda e: e["key"]),
        "executions": executions,
    }


def execution_steps(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """State entries and failures in order; store tasks carry their store name (from the task input)."""
    steps: list[dict[str, Any]] = []
    params: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**params)
        for event in page["events"]:
            kind = event["type"]
            if kind.endswith("StateEntered"):
                details = event.get("stateEnteredEventDetails", {})
                store = _store_of(details.get("input"))
                steps.append(
                    {
                        "at": _text(event["timestamp"]),
                        "state": details.get("name", ""),
                        "store": store,
                        "event": "entered",
                    }
                )
            elif kind.endswith("Failed") and not kind.startswith("Execution"):
                details = next((v for k, v in event.items() if k.endswith("FailedEventDetails")), {})
                steps.append(
                    {"at": _text(event["timestamp"]), "state": kind, "store": None, "event": details.get("error", "")}
                )
            elif kind in {"ExecutionFailed", "ExecutionSucceeded", "ExecutionAborted", "ExecutionTimedOut"}:
                steps.append({"at": _text(event["timestamp"]), "state": kind, "store": None, "event": "end"})
        if not page.get("nextToken"):
            return steps
        params["nextToken"] = page["nextToken"]


def _store_of(raw: str | None) -> str | None:
    try:
        value = json.loads(raw or "")
    except ValueError:
        return None
    return value.get("store") if isinstance(value, dict) and isinstance(value.get("store"), str) else None


def _text(moment: Any) -> str | None:
    if moment is None:
        return None
    return iso(moment) if isinstance(moment, datetime) else str(moment)


def list_requests(
    table: Any, *, status: str | None = None, request_type: str | None = None, due_before: datetime | None = None
) -> list[requests.RequestRecord]:
    """Requests matching every filter given, by due date (records carry no identifiers)."""
    found = [
        r
        for r in scan_requests(table)
        if (status is None or r.status == status)
        and (request_type is None or r.type.value == request_type)
        and (due_before is None or parse_time(r.due_at) < due_before)
    ]
    return sorted(found, key=lambda r: (r.due_at, r.request_id))
