"""The dataset queue table: erasure and access tasks of s3_dataset stores waiting for the next dataset job.

One item per (store, request, operation): ``store`` is the partition key and ``entry`` ("<request_id>#<operation>")
the sort key. An item holds the waiting task's token and when it was queued, never an identifier: the job reads
the subjects from the requests table, where they are already kept (KMS-encrypted) until the request closes.

A job claims items with a conditional update (``job_id``), so two jobs running at once never act for the same
task; a claim older than the lease (a job that died) can be taken over. Finishing deletes the item only while
this job still holds it: a task retried meanwhile (a new token) stays queued for the next job.

A task failed for a retry after its job had already rewritten some of its objects is released rather than
deleted: the item keeps those objects' shares (``carried``: JSON, counts, digests and version ids, no values)
and the retry re-queues it in place, so the evidence the next job writes still lists every object changed for
the request, not only the ones left for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from functions.privacy.core.timestamps import format_utc
from functions.privacy.requests.record import updated_if

OPERATIONS = ("erase", "export")


@dataclass(frozen=True)
class Entry:
    store: str
    request_id: str
    operation: str
    task_token: str
    carried: tuple[dict[str, Any], ...] = field(default=(), compare=False)  # shares of earlier jobs' changes

    @property
    def entry(self) -> str:
        return entry_id(self.request_id, self.operation)


def entry_id(request_id: str, operation: str) -> str:
    return f"{request_id}#{operation}"


def _entry(item: dict[str, Any]) -> Entry:
    request_id, operation = str(item["entry"]).rsplit("#", 1)
    carried = tuple(json.loads(str(c)) for c in item.get("carried", []))  # JSON: no Decimals from DynamoDB
    return Entry(str(item["store"]), request_id, operation, str(item["task_token"]), carried)


# DynamoDB's item limit is 400 KB: past this many bytes of carried shares, an earlier job's objects are summed.
CARRIED_BYTES = 300_000


def enqueue(table: Any, store: str, request_id: str, operation: str, task_token: str, at: datetime) -> None:
    """Queue one store task (a retried task takes its earlier item with a new token, and drops any claim on it;
    what an earlier job did for it is kept)."""
    if operation not in OPERATIONS:
        raise ValueError(f"operation {operation} is not queued (only {', '.join(OPERATIONS)})")
    table.update_item(
        Key={"store": store, "entry": entry_id(request_id, operation)},
        UpdateExpression="SET task_token = :token, queued_at = :at REMOVE job_id, claimed_at",
        ExpressionAttributeValues={":token": task_token, ":at": format_utc(at)},
    )


def release(table: Any, job_id: str, entry: Entry, shares: list[dict[str, Any]]) -> bool:
    """Give back a task failed for a retry, keeping the shares of the objects this job changed for it."""
    kept = [*entry.carried, *shares]
    carried = [json.dumps(s, sort_keys=True) for s in kept]
    if sum(len(c) for c in carried) > CARRIED_BYTES:
        carried = [json.dumps(summed(kept), sort_keys=True)]
    try:
        table.update_item(
            Key={"store": entry.store, "entry": entry.entry},
            UpdateExpression="SET carried = :carried REMOVE job_id, claimed_at",
            ConditionExpression="job_id = :job AND task_token = :token",
            ExpressionAttributeValues={":carried": carried, ":job": job_id, ":token": entry.task_token},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False  # retried meanwhile (its task timed out): those objects are found clean next time, unlisted
        raise
    return True


def summed(shares: list[dict[str, Any]]) -> dict[str, Any]:
    """Many objects' shares as one: the row counts kept, the per-object list and key digests left out."""
    total: dict[str, Any] = {"found": 0, "deleted": 0, "anonymised": 0, "kept": 0}
    for share in shares:
        for name in total:
            total[name] += int(share.get(name, 0))
    return {**total, "status": "clean"}


def _items(table: Any, **params: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = table.scan(ConsistentRead=True, **params)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def claim(table: Any, job_id: str, at: datetime, lease: timedelta, limit: int) -> list[Entry]:
    """Claim up to ``limit`` queued items for ``job_id`` (unclaimed ones, or ones whose claim outlived the lease)."""
    stale = format_utc(at - lease)
    claimed: list[Entry] = []
    for item in _items(table):
        if len(claimed) >= limit:
            break
        if item.get("job_id") and str(item.get("claimed_at", "")) >= stale:
            continue  # another job is working on it
        taken = updated_if(
            table,
            Key={"store": item["store"], "entry": item["entry"]},
            UpdateExpression="SET job_id = :job, claimed_at = :at",
            # The token is part of the condition: a task re-queued since the scan is claimed with its new token.
            ConditionExpression="task_token = :token AND (attribute_not_exists(job_id) OR claimed_at < :stale)",
            ExpressionAttributeValues={
                ":job": job_id,
                ":at": format_utc(at),
                ":stale": stale,
                ":token": item["task_token"],
            },
        )
        if taken:
            claimed.append(_entry(item))
    return claimed


def claimed(table: Any, job_id: str, store: str | None = None) -> list[Entry]:
    """The items ``job_id`` holds (of one store, or all), read consistently."""
    if store is None:
        items = _items(table)
    else:
        items = _query(table, store)
    return [_entry(i) for i in items if i.get("job_id") == job_id]


def _query(table: Any, store: str) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {
        "KeyConditionExpression": "#store = :store",
        "ExpressionAttributeNames": {"#store": "store"},
        "ExpressionAttributeValues": {":store": store},
        "ConsistentRead": True,
    }
    while True:
        page = table.query(**params)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def done(table: Any, job_id: str, entry: Entry) -> bool:
    """Remove a finished item, only while this job holds it with the token it resumed."""
    try:
        table.delete_item(
            Key={"store": entry.store, "entry": entry.entry},
            ConditionExpression="job_id = :job AND task_token = :token",
            ExpressionAttributeValues={":job": job_id, ":token": entry.task_token},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def waiting(table: Any) -> list[dict[str, str]]:
    """Every queued item as store, request id, operation, queued_at and the job holding it (`dsr datasets queue`)."""
    rows = []
    for item in _items(table):
        entry = _entry(item)
        rows.append(
            {
                "store": entry.store,
                "request_id": entry.request_id,
                "operation": entry.operation,
                "queued_at": str(item.get("queued_at", "")),
                "job_id": str(item.get("job_id", "")),
            }
        )
    return sorted(rows, key=lambda r: r["queued_at"])
