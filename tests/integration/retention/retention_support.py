"""Runs a retention run's domain steps in this process, in the order the retention workflow runs them.

The workflow itself (statemachines/retention.asl.json) is exercised end to end in tests/e2e; these
helpers let integration tests check the domain logic against moto quickly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

from functions.privacy.connectors.base import StoreError
from functions.privacy.datamap.model import DataMap
from functions.privacy.retention import dynamodb, lake, outcome, s3, ses_contacts
from functions.privacy.retention.counts import Counts
from functions.privacy.retention.runs import RetentionRunInput, plan_run
from functions.privacy.subjects.holds import all_holds, held_prefixes, held_values

HOLDS = "test-holds"
AUDIT = "test-audit"
WORK = "test-retention-work"


def create_engine_resources(aws: Any) -> None:
    aws.client("dynamodb").create_table(
        TableName=HOLDS,
        KeySchema=[
            {"AttributeName": "subject_hmac", "KeyType": "HASH"},
            {"AttributeName": "hold_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "subject_hmac", "AttributeType": "S"},
            {"AttributeName": "hold_id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    s3c = aws.client("s3")
    s3c.create_bucket(Bucket=AUDIT)
    s3c.put_bucket_versioning(Bucket=AUDIT, VersioningConfiguration={"Status": "Enabled"})
    s3c.create_bucket(Bucket=WORK)


def holds_table() -> Any:
    return boto3.resource("dynamodb", region_name="us-east-1").Table(HOLDS)


def key_hmac(text: str) -> str:
    import hashlib

    return hashlib.sha256(b"test-key" + text.encode()).hexdigest()


def run_retention(
    aws: Any,
    datamap: DataMap,
    as_of: str,
    *,
    dry_run: bool = False,
    execution: str = "exec-1",
    segments: int = 2,
    stores: list[str] | None = None,
    before_batches: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Plan, expire every store (a failing store is caught and reported), record evidence, summarise.

    Holds are read from the holds table whenever the workflow's steps read them (per scan page, per
    object batch, before the contacts import); ``before_batches`` runs after an object round is planned
    and before its batches are deleted (where the workflow's Distributed Map starts).
    """
    plan = plan_run(
        datamap,
        # These tests age their records against a fixed as_of in the future, as a test environment may.
        RetentionRunInput(as_of=as_of, dry_run=dry_run, allow_future=True),
        execution=execution,
        work_bucket=WORK,
        segments=segments,
    )
    s3c = aws.client("s3")
    outcomes = []
    for entry in plan["stores"]:
        name = entry["store"]
        if stores is not None and name not in stores:
            continue
        store_plan = {**{k: plan[k] for k in ("run_id", "as_of", "dry_run", "execution", "work_bucket")}, **entry}
        try:
            units = _expire_store(aws, datamap, store_plan, before_batches)
            outcomes.append(outcome.record_store(s3c, AUDIT, datamap, store_plan, name, units))
        except StoreError as exc:
            outcomes.append(outcome.failed_store(name, type(exc).__name__))
    return outcome.summarize_run(s3c, AUDIT, plan, outcomes)


def _expire_store(
    aws: Any, datamap: DataMap, plan: dict[str, Any], before_batches: Callable[[], None]
) -> list[dict[str, Any]]:
    name, kind = plan["store"], plan["kind"]
    s3c = aws.client("s3")

    def held() -> frozenset[str]:
        return held_values(all_holds(holds_table()), datamap, name)

    if kind == "dynamodb":
        units = []
        for segment in plan["segments"]:
            counts, cursor = dynamodb.expire_segment(
                datamap=datamap,
                store_name=name,
                plan=plan,
                segment=segment,
                total_segments=plan["total_segments"],
                held=held,
                client=aws.client("dynamodb"),
                s3=s3c,
                key_hmac=key_hmac,
                keyed_hash=lambda text: "kh:" + key_hmac(text)[:16],
            )
            assert cursor is None
            units.append(counts.model_dump())
        return units
    if kind == "s3":
        units, cursor, number = [], None, 0
        while True:
            result = s3.plan_round(
                datamap=datamap,
                store_name=name,
                plan=plan,
                round_number=number,
                cursor_key=cursor,
                held_prefixes=held_prefixes(all_holds(holds_table()), datamap, name),
                client=s3c,
                s3=s3c,
                key_hmac=key_hmac,
            )
            before_batches()
            batch_results = [
                s3.delete_batch(
                    store_name=name,
                    work_bucket=plan["work_bucket"],
                    batch_key=item["batch"],
                    held_prefixes=lambda: held_prefixes(all_holds(holds_table()), datamap, name),
                    client=s3c,
                    s3=s3c,
                )
                for item in _json(s3c, plan["work_bucket"], result["manifest_key"])
            ]
            units.extend([result["counts"], Counts.kept_by_late_holds(batch_results).model_dump()])
            if not result["more"]:
                return units
            cursor, number = result["cursor_key"], number + 1
    if kind == "s3_dataset":
        return _expire_lake(aws, datamap, plan)
    counts = ses_contacts.expire_contacts(
        datamap=datamap,
        store_name=name,
        plan=plan,
        held=held,
        client=aws.client("sesv2"),
        s3=s3c,
        key_hmac=key_hmac,
        sleep=lambda _: None,
    )
    return [counts.model_dump()]


def _expire_lake(aws: Any, datamap: DataMap, plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Lake rounds and their batches as the workflow runs them (holds read again for every object)."""
    s3c, units, cursor, number = aws.client("s3"), [], None, 0
    name = plan["store"]
    while True:
        result = lake.plan_round(
            datamap=datamap, store_name=name, plan=plan, round_number=number, cursor_key=cursor, client=s3c, s3=s3c
        )
        for item in _json(s3c, plan["work_bucket"], result["manifest_key"]):
            more = True
            while more:
                counts, more = lake.expire_batch(
                    datamap=datamap,
                    store_name=name,
                    plan=plan,
                    batch_key=item["batch"],
                    held=lambda: lake.held_columns(all_holds(holds_table()), datamap, name),
                    client=s3c,
                    s3=s3c,
                    key_hmac=key_hmac,
                )
                units.append(counts.model_dump(exclude_defaults=True))
        if not result["more"]:
            return units
        cursor, number = result["cursor_key"], number + 1


def _json(s3c: Any, bucket: str, key: str) -> Any:
    import json

    return json.loads(s3c.get_object(Bucket=bucket, Key=key)["Body"].read())
