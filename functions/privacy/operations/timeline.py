"""What operators read about requests: the list, and one request's timeline (record, evidence, executions)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from functions.privacy.evidence import records as evidence
from functions.privacy.operations.actions import Tables
from functions.privacy.operations.redrive import request_executions
from functions.privacy.requests import record as requests
from functions.privacy.requests.deadlines import parse_time, public_view, scan_requests
from functions.privacy.requests.record import RequestNotFound, iso


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
