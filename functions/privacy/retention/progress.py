"""How far a retention execution has got, from its execution history: for the operator CLI's progress bar.

Units are the workflow's Map iterations: one per store, one per DynamoDB scan segment and one per S3
key batch (Distributed Map items, read from DescribeMapRun). Totals grow while the run plans more
work (a bucket listed in rounds adds batches), so the bar is honest rather than smooth.
"""

from __future__ import annotations

from typing import Any

_DONE = {"MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"}


def _history(execution_arn: str, sfn_client: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn_client.get_execution_history(**params)
        events.extend(page.get("events", []))
        if not page.get("nextToken"):
            return events
        params["nextToken"] = page["nextToken"]


def retention_progress(execution_arn: str, sfn_client: Any) -> tuple[int, int]:
    """``(done_units, total_units)`` of a retention execution; (1, 1) once it has succeeded."""
    events = _history(execution_arn, sfn_client)
    if any(e["type"] == "ExecutionSucceeded" for e in events):
        return 1, 1
    total = sum(e.get("mapStateStartedEventDetails", {}).get("length", 0) for e in events)
    done = sum(1 for e in events if e["type"] in _DONE)
    for event in events:
        if event["type"] != "MapRunStarted":
            continue
        counts = _item_counts(sfn_client, event["mapRunStartedEventDetails"]["mapRunArn"]) or {}
        total += int(counts.get("total", 0))
        done += sum(int(counts.get(k, 0)) for k in ("succeeded", "failed", "aborted", "timedOut"))
    return done, max(total, done)


def _item_counts(sfn_client: Any, map_run_arn: str) -> dict[str, Any] | None:
    try:
        return sfn_client.describe_map_run(mapRunArn=map_run_arn).get("itemCounts")
    except Exception:  # noqa: BLE001 (an emulator without DescribeMapRun: fall back to iterations only)
        return None
