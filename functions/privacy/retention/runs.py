"""Planning a retention run: its id, and each store's cut-off dates from the data map's categories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc, normalise, parse_utc
from functions.privacy.datamap.model import DataMap, Store, StoreKind

# Parallel scan segments per table. 16 keeps a 100M-item table within Lambda's 15 minutes per
# invocation round (see docs/scale.md); segments resume from a saved cursor when they run out of time.
DEFAULT_SEGMENTS = 4

# Clock skew between whoever picked as_of and the planner; beyond it a non-dry as_of is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)


class AsOfInFuture(ValueError):
    """A run that deletes was asked to act as of a time that has not come (a typo would expire every store)."""

    def __init__(self, as_of: str, now: datetime) -> None:
        super().__init__(
            f"as_of {as_of} is later than now ({format_utc(now)}): a run that deletes may not look ahead; "
            "use a dry run to preview, or allow_future (--allow-future) in a test environment"
        )


class RetentionRunInput(BaseModel):
    """The execution input: ``{"as_of": "2031-01-01T00:00:00Z", "dry_run": false}``.

    ``allow_future`` lets a run that deletes use an as_of later than now (test environments only).
    """

    model_config = ConfigDict(extra="forbid")  # a misspelt "dryrun" must not silently run for real

    as_of: str
    dry_run: bool = False
    allow_future: bool = False

    @field_validator("as_of")
    @classmethod
    def _utc(cls, value: str) -> str:
        return normalise(value, "as_of")


def refuse_future(as_of: str, *, dry_run: bool, allow_future: bool, now: datetime | None = None) -> None:
    """Raise AsOfInFuture for a run that deletes with an as_of beyond now (plus FUTURE_TOLERANCE)."""
    moment, current = parse_utc(as_of, "as_of"), now or timestamps.now()
    if not dry_run and not allow_future and moment > current + FUTURE_TOLERANCE:
        raise AsOfInFuture(format_utc(moment), current)


def run_id(as_of: str, dry_run: bool) -> str:
    """Derived from as_of and dry_run only, so a replay of the same as_of is the same run."""
    return f"{parse_utc(as_of, 'as_of'):%Y%m%dT%H%M%SZ}-{'dry-run' if dry_run else 'expire'}"


@dataclass(frozen=True)
class StoreCutoffs:
    """When a store's records expire.

    ``expire_before``: records whose timestamp is at or before it have outlived the store's longest
    category period (they expire unless held). ``purpose_before``: at or before it, the purpose of
    every category that is *not* legally retained has ended; records between the two are kept only
    because a legally retained category's period has not ended (counted as skipped_retained).
    """

    expire_before: str
    purpose_before: str
    period_days: int


def store_cutoffs(datamap: DataMap, store: Store, as_of: str) -> StoreCutoffs:
    moment = parse_utc(as_of, "as_of")
    categories = [datamap.categories[c] for c in store.categories]
    period = max(c.retention_days() for c in categories)
    purpose_days = [c.retention_days() for c in categories if not c.legally_retained]
    purpose = max(purpose_days) if purpose_days else period
    return StoreCutoffs(
        expire_before=format_utc(moment - timedelta(days=period)),
        purpose_before=format_utc(moment - timedelta(days=min(purpose, period))),
        period_days=period,
    )


def retention_applies(store: Store) -> bool:
    """Stores retention can act on: tables and lake files with a retention timestamp, buckets, contact lists.

    A lake (s3_dataset) store without a retention timestamp column has no row age to judge: it is left out
    (as a table without one is), and the data map's own checks are where that choice is made.
    """
    if store.kind in {StoreKind.DYNAMODB, StoreKind.S3_DATASET}:
        return store.retention_timestamp is not None
    return store.kind in {StoreKind.S3, StoreKind.SES_CONTACT_LIST}


def plan_run(
    datamap: DataMap,
    run: RetentionRunInput,
    *,
    execution: str,
    work_bucket: str,
    segments: int = DEFAULT_SEGMENTS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One entry per store retention applies to; names, kinds and cut-offs only (no personal data).

    Raises AsOfInFuture before anything is planned for a run that deletes with a future as_of.
    """
    refuse_future(run.as_of, dry_run=run.dry_run, allow_future=run.allow_future, now=now)
    stores = []
    for name, store in datamap.stores.items():
        if not retention_applies(store):
            continue
        cutoffs = store_cutoffs(datamap, store, run.as_of)
        entry: dict[str, Any] = {
            "store": name,
            "kind": store.kind.value,
            "expire_before": cutoffs.expire_before,
            "purpose_before": cutoffs.purpose_before,
        }
        if store.kind is StoreKind.DYNAMODB:
            entry["segments"] = list(range(segments))
            entry["total_segments"] = segments
        stores.append(entry)
    return {
        "run_id": run_id(run.as_of, run.dry_run),
        "as_of": run.as_of,
        "dry_run": run.dry_run,
        "execution": execution,
        "work_bucket": work_bucket,
        "stores": stores,
    }
