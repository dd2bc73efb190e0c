"""The retention workflow's steps, wired to the function's settings and clients (handlers stay thin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functions.privacy.core.clients import Clients
from functions.privacy.core.keys import DerivedKeys, masking_hasher
from functions.privacy.core.settings import (
    DataMapFile,
    RetentionBatchSettings,
    RetentionEvidenceSettings,
    RetentionExpirySettings,
    RetentionPlanSettings,
)
from functions.privacy.datamap.model import DataMap, StoreKind
from functions.privacy.retention import dynamodb, outcome, s3, ses_contacts
from functions.privacy.retention.runs import RetentionRunInput, plan_run
from functions.privacy.subjects.holds import Hold, all_holds, held_prefixes, held_values


def _holds(settings: RetentionExpirySettings | RetentionBatchSettings, clients: Clients) -> list[Hold]:
    return all_holds(clients.resource_table(settings.HOLDS_TABLE))


def key_hmac(settings: RetentionExpirySettings, clients: Clients, run_id: str) -> Callable[[str], str]:
    """Digests of expired record keys, scoped to the run (one GenerateMac per invocation, not per key)."""
    return DerivedKeys(clients.client("kms"), settings.HMAC_KEY_ID, f"record-keys:retention:{run_id}").digest


def _datamap(settings: DataMapFile) -> DataMap:
    return settings.datamap()


def start_run(
    run: RetentionRunInput, execution: str, settings: RetentionPlanSettings, segments: int | None = None
) -> dict:
    # The deployment's segment count (config retention_segments) unless a caller asks for another.
    return plan_run(
        _datamap(settings),
        run,
        execution=execution,
        work_bucket=settings.RETENTION_WORK_BUCKET,
        segments=segments or settings.RETENTION_SEGMENTS,
    )


def expire_segment(
    plan: dict[str, Any], settings: RetentionExpirySettings, clients: Clients, time_left: Callable[[], float]
) -> dict[str, Any]:
    datamap, name = _datamap(settings), plan["store"]
    counts, cursor = dynamodb.expire_segment(
        datamap=datamap,
        store_name=name,
        plan=plan,
        segment=int(plan["segment"]),
        total_segments=int(plan["total_segments"]),
        # Read again for every scan page: a hold placed while the segment runs still protects its subject.
        held=lambda: held_values(_holds(settings, clients), datamap, name),
        client=clients.client("dynamodb"),
        s3=clients.client("s3"),
        key_hmac=key_hmac(settings, clients, plan["run_id"]),
        keyed_hash=masking_hasher(clients.client("kms"), settings.HMAC_KEY_ID).digest,
        cursor_key=plan.get("cursor_key"),
        time_left=time_left,
    )
    carried = outcome.Counts.model_validate(plan["carry"]) if plan.get("carry") else outcome.Counts()
    return {**plan, "carry": carried.merge(counts).model_dump(), "cursor_key": cursor, "more": cursor is not None}


def plan_object_round(
    plan: dict[str, Any], settings: RetentionExpirySettings, clients: Clients, time_left: Callable[[], float]
) -> dict[str, Any]:
    datamap, name = _datamap(settings), plan["store"]
    batch_results = plan.get("batch_results")
    previous = plan.get("round") or {}
    plan = {k: v for k, v in plan.items() if k != "batch_results"}  # the previous round's, folded in below
    result = s3.plan_round(
        datamap=datamap,
        store_name=name,
        plan=plan,
        round_number=int(previous.get("number", -1)) + 1,
        cursor_key=previous.get("cursor_key"),
        held_prefixes=held_prefixes(_holds(settings, clients), datamap, name),
        client=clients.client("s3"),
        s3=clients.client("s3"),
        key_hmac=key_hmac(settings, clients, plan["run_id"]),
        time_left=time_left,
    )
    carried = outcome.Counts.model_validate(previous["counts"]) if previous.get("counts") else outcome.Counts()
    carried = carried.merge(outcome.Counts.kept_by_late_holds(batch_results))
    total = carried.merge(outcome.Counts.model_validate(result["counts"]))
    number = int(previous.get("number", -1)) + 1
    return {**plan, "round": {**result, "number": number, "counts": total.model_dump()}}


def delete_object_batch(event: dict[str, Any], settings: RetentionBatchSettings, clients: Clients) -> dict[str, Any]:
    datamap, name = _datamap(settings), event["store"]
    return s3.delete_batch(
        store_name=name,
        work_bucket=event["work_bucket"],
        batch_key=event["batch"],
        # Holds as of this batch, not as of the round's planning (which may be hours earlier).
        held_prefixes=lambda: held_prefixes(_holds(settings, clients), datamap, name),
        client=clients.client("s3"),
        s3=clients.client("s3"),
    )


def expire_contacts(plan: dict[str, Any], settings: RetentionExpirySettings, clients: Clients) -> dict[str, Any]:
    datamap, name = _datamap(settings), plan["store"]
    counts = ses_contacts.expire_contacts(
        datamap=datamap,
        store_name=name,
        plan=plan,
        held=lambda: held_values(_holds(settings, clients), datamap, name),
        client=clients.client("sesv2"),
        s3=clients.client("s3"),
        key_hmac=key_hmac(settings, clients, plan["run_id"]),
    )
    return counts.model_dump()


def record_store(
    plan: dict[str, Any], units: list[dict[str, Any]], settings: RetentionEvidenceSettings, clients: Clients
) -> dict:
    # Object stores: what the last round's batches found held at delete time (earlier rounds folded it in).
    units = [*units, outcome.Counts.kept_by_late_holds(plan.get("batch_results")).model_dump()]
    # Lake stores: the last round's batch counts (earlier rounds' are in the round's counts already).
    units.extend(plan.get("dataset_results") or [])
    return outcome.record_store(
        clients.client("s3"), settings.AUDIT_BUCKET, _datamap(settings), plan, plan["store"], units
    )


def summarize(
    plan: dict[str, Any], stores: list[dict[str, Any]], settings: RetentionEvidenceSettings, clients: Clients
) -> dict:
    return outcome.summarize_run(clients.client("s3"), settings.AUDIT_BUCKET, plan, stores)


def store_kind(settings: DataMapFile, store: str) -> StoreKind:
    return _datamap(settings).stores[store].kind
