"""The failed-request sweep: failed and never-verified requests drop their raw identifiers after a while.

A request that completes drops them at once, a rejected one too; one that failed (an operator may still
redrive it) or whose requester never entered a code kept them forever. Once a day this sweep removes the
subject and details of those older than ``failed_request_retention_days`` (by their latest event: filed,
verified or failed), keeping the HMAC, and appends an ``identifiers_dropped`` event to each one's chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc, parse_utc
from functions.privacy.evidence import records as evidence
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestStatus

EVENT = "identifiers_dropped"


@dataclass
class SweepResult:
    dropped: list[str] = field(default_factory=list)  # request ids
    kept: int = 0  # unfinished but younger than the retention period (or a code still live)


def _last_event(item: dict[str, Any]) -> datetime:
    """When the request last moved: an unreadable time counts as now, so it is never dropped early."""
    moments = []
    for name in ("received_at", "verified_at", "failed_at"):
        if item.get(name):
            try:
                moments.append(parse_utc(item[name], name))
            except ValueError:
                return timestamps.now()
    return max(moments) if moments else timestamps.now()


def _code_live(item: dict[str, Any], at: datetime) -> bool:
    expires = item.get("code_expires_at")
    return (
        item.get("status") == RequestStatus.PENDING_VERIFICATION.value
        and bool(expires)
        and (parse_utc(expires, "code_expires_at") > at)
    )


def sweep_failed_requests(
    table: Any, s3: Any, audit_bucket: str, *, retention_days: int, now: datetime | None = None
) -> SweepResult:
    """Drop the identifiers of every failed or never-verified request older than ``retention_days``."""
    at = now or timestamps.now()
    cutoff = at - timedelta(days=retention_days)
    result = SweepResult()
    for item in requests.scan_unfinished_with_identifiers(table):
        if _last_event(item) > cutoff or _code_live(item, at):
            result.kept += 1
            continue
        request_id, status = str(item["request_id"]), str(item["status"])
        if not requests.drop_unfinished_identifiers(table, request_id, status, at):
            continue  # it moved on since the scan: not ours to drop any more
        # After the drop, then marked: a sweep stopped in between finds the request again, and the chain
        # returns the event it already holds instead of appending a second one.
        key, _, _ = evidence.append_request_event(
            s3,
            audit_bucket,
            request_id,
            EVENT,
            {
                "status": status,
                "never_verified": not item.get("verified_at") or bool(item.get("verification_failed")),
                "dropped_at": format_utc(at),
                "retention_days": retention_days,
            },
        )
        requests.record_identifiers_dropped(table, request_id, key)
        result.dropped.append(request_id)
    return result
