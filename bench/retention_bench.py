"""Retention benchmark on the local cloud: batch retention vs a naive per-item delete loop.

Seeds N DynamoDB items and N S3 object versions (a quarter of them expired) straight into moto's
backends, runs the deployed retention state machine (real ASL, in-process Lambdas), then seeds the
same expired share again and deletes it with a naive loop (DeleteItem / DeleteObject per record) in
the same process. Prints expired items per second, delete calls per expired item against the batch
lower bound (ceil(n/25) BatchWriteItem + ceil(n/1000) DeleteObjects), all data-store calls, and the
naive loop's figures, as ratios; writes bench/results.json. Not part of `make test`.

    python -m bench.retention_bench --size 100000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

AS_OF = datetime(2031, 1, 1, tzinfo=UTC)
EXPIRED_AT = AS_OF - timedelta(days=5 * 365)  # older than every category period
FRESH_AT = AS_OF - timedelta(days=30)
DELETE_OPERATIONS = {"BatchWriteItem", "DeleteObjects", "DeleteItem", "DeleteObject"}
ACCOUNT, REGION = "123456789012", "us-east-1"


def seed_items(table: str, start: int, count: int, expired_every: int) -> int:
    """Put items straight into moto's table (no HTTP): every ``expired_every``-th one is expired."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[ACCOUNT][REGION]
    expired = 0
    for n in range(start, start + count):
        old = n % expired_every == 0
        expired += old
        when = (EXPIRED_AT if old else FRESH_AT).strftime("%Y-%m-%dT%H:%M:%SZ")
        backend.put_item(
            table,
            {
                "customer_id": {"S": f"B{n:08d}"},
                "email": {"S": f"b{n:08d}@example.com"},
                "updated_at": {"S": when},
            },
        )
    return expired


def seed_objects(bucket: str, start: int, count: int, expired_every: int) -> int:
    """Put object versions straight into moto's bucket and backdate the expired ones."""
    from moto.s3.models import s3_backends

    backend = s3_backends[ACCOUNT]["aws"]
    expired = 0
    old_time, fresh_time = EXPIRED_AT.replace(tzinfo=None), FRESH_AT.replace(tzinfo=None)
    for n in range(start, start + count):
        key = f"users/B{n % 5000:05d}/f{n:08d}.txt"
        version = backend.put_object(bucket, key, b"x")
        old = n % expired_every == 0
        version.last_modified = old_time if old else fresh_time  # as if written before as_of, like real data
        expired += old
    return expired


class CallCounter:
    """Counts every API call to the given services made by any client in this process, by operation name.

    Counted in botocore itself: each Lambda execution environment of the local cloud has its own clients (its own
    copy of the domain package), so hooks on this process's clients would miss the Lambdas' calls.
    """

    def __init__(self, *services: str) -> None:
        from botocore.client import BaseClient

        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        original = BaseClient._make_api_call
        counter = self

        def _make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
            if client.meta.service_model.service_name in services:
                with counter._lock:
                    counter.calls[operation_name] += 1
            return original(client, operation_name, api_params)

        BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]  # for the rest of the bench

    def reset(self) -> Counter[str]:
        with self._lock:
            snapshot, self.calls = self.calls, Counter()
        return snapshot


def naive_loop(clients: Any, table: str, bucket: str, cutoff_ts: str, cutoff: datetime) -> int:
    """What a straightforward script does: find expired records, delete each with its own call."""
    ddb, s3 = clients.client("dynamodb"), clients.client("s3")
    deleted = 0
    params: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "#t <= :c",
        "ExpressionAttributeNames": {"#t": "updated_at"},
        "ExpressionAttributeValues": {":c": {"S": cutoff_ts}},
        "ProjectionExpression": "customer_id",
    }
    while True:
        page = ddb.scan(**params)
        for item in page.get("Items", []):
            ddb.delete_item(TableName=table, Key={"customer_id": item["customer_id"]})
            deleted += 1
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    expired = [
        (version["Key"], version["VersionId"])
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="users/")
        for version in page.get("Versions", [])
        if version["LastModified"] <= cutoff
    ]
    for key, version_id in expired:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
        deleted += 1
    return deleted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="DynamoDB items and S3 objects each")
    parser.add_argument("--expired-every", type=int, default=4, help="every n-th record is expired (4: a quarter)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()

    from bench.results import merge_results
    from functions.privacy.core.clients import Clients
    from local.cloud import LocalCloud
    from local.inspect import local_datamap
    from local.synth import synthesize
    from local.workflow import wait_for_execution

    state_dir = Path(tempfile.mkdtemp(prefix="retention-bench-"))
    started = time.monotonic()
    cdk_out = synthesize(state_dir / "cdk.out")
    with LocalCloud(port=0, state_dir=state_dir) as cloud:
        outputs: dict[str, str] = {}
        for stack_outputs in cloud.deploy(cdk_out).values():
            outputs.update(stack_outputs)
        datamap = local_datamap()
        table, bucket = datamap.stores["customers"].resource, datamap.stores["uploads"].resource
        setup_seconds = time.monotonic() - started

        t0 = time.monotonic()
        expired_items = seed_items(table, 0, args.size, args.expired_every)
        expired_objects = seed_objects(bucket, 0, args.size, args.expired_every)
        seed_seconds = time.monotonic() - t0
        print(f"seeded {args.size} items and {args.size} objects in {seed_seconds:.1f}s", flush=True)

        clients = Clients()
        counter = CallCounter("dynamodb", "s3", "sesv2")
        sfn = clients.client("stepfunctions")
        t0 = time.monotonic()
        arn = sfn.start_execution(
            stateMachineArn=outputs["RetentionStateMachineArn"],
            input=json.dumps({"as_of": AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ"), "dry_run": False, "allow_future": True}),
        )["executionArn"]
        execution = wait_for_execution(clients, arn, timeout=24 * 3600)
        batch_seconds = time.monotonic() - t0
        batch_calls = counter.reset()
        output = json.loads(execution.get("output") or "{}")
        if execution["status"] != "SUCCEEDED" or output.get("status") != "completed":
            raise SystemExit(f"retention run ended {execution['status']}: {output}")
        stores = {s["store"]: s for s in output["stores"]}
        batch_expired = stores["customers"]["expired"] + stores["uploads"]["expired"]
        assert stores["customers"]["expired"] == expired_items, stores["customers"]
        assert stores["uploads"]["expired"] == expired_objects, stores["uploads"]
        print(f"retention run: {batch_expired} expired in {batch_seconds:.1f}s; calls {dict(batch_calls)}", flush=True)

        # The naive loop gets the same amount of expired data again (fresh keys), in the same process.
        naive_items = seed_items(table, args.size, args.size // args.expired_every, 1)
        naive_objects = seed_objects(bucket, args.size, args.size // args.expired_every, 1)
        t0 = time.monotonic()
        naive_deleted = naive_loop(
            clients,
            table,
            bucket,
            (AS_OF - timedelta(days=3 * 365)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            AS_OF - timedelta(days=2 * 365),
        )
        naive_seconds = time.monotonic() - t0
        naive_calls = counter.reset()
        assert naive_deleted == naive_items + naive_objects, (naive_deleted, naive_items, naive_objects)

    lower_bound = math.ceil(expired_items / 25) + math.ceil(expired_objects / 1000)
    batch_deletes = sum(v for k, v in batch_calls.items() if k in DELETE_OPERATIONS)
    naive_deletes = sum(v for k, v in naive_calls.items() if k in DELETE_OPERATIONS)
    results = {
        "ran_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, moto local cloud",
        "size": {"dynamodb_items": args.size, "s3_object_versions": args.size},
        "expired": {"dynamodb_items": expired_items, "s3_object_versions": expired_objects},
        "setup_seconds": round(setup_seconds, 1),
        "seed_seconds": round(seed_seconds, 1),
        "batch": {
            "seconds": round(batch_seconds, 2),
            "expired": batch_expired,
            "expired_per_second": round(batch_expired / batch_seconds, 1),
            "delete_calls": batch_deletes,
            "delete_calls_per_expired_item": round(batch_deletes / batch_expired, 5),
            "delete_calls_vs_lower_bound": round(batch_deletes / lower_bound, 4),
            "all_data_store_calls": sum(batch_calls.values()),
            "all_calls_per_expired_item": round(sum(batch_calls.values()) / batch_expired, 5),
            "calls_by_operation": dict(sorted(batch_calls.items())),
        },
        "lower_bound": {"delete_calls": lower_bound, "per_expired_item": round(lower_bound / batch_expired, 5)},
        "naive": {
            "seconds": round(naive_seconds, 2),
            "expired": naive_deleted,
            "expired_per_second": round(naive_deleted / naive_seconds, 1),
            "delete_calls": naive_deletes,
            "delete_calls_per_expired_item": round(naive_deletes / naive_deleted, 5),
            "all_data_store_calls": sum(naive_calls.values()),
            "calls_by_operation": dict(sorted(naive_calls.items())),
        },
        "ratios": {
            "naive_over_batch_delete_calls_per_item": round(
                (naive_deletes / naive_deleted) / (batch_deletes / batch_expired), 1
            ),
            "naive_over_batch_all_calls_per_item": round(
                (sum(naive_calls.values()) / naive_deleted) / (sum(batch_calls.values()) / batch_expired), 1
            ),
            "batch_over_naive_items_per_second": round(
                (batch_expired / batch_seconds) / (naive_deleted / naive_seconds), 2
            ),
        },
    }
    merge_results(args.output, results)  # keeps the other benchmarks' keys (cold_start)
    b, n, r = results["batch"], results["naive"], results["ratios"]
    print(f"batch retention: {b['expired']} expired in {b['seconds']}s = {b['expired_per_second']} items/s")
    print(
        f"  delete calls {b['delete_calls']} vs lower bound {lower_bound} "
        f"({100 * (b['delete_calls_vs_lower_bound'] - 1):+.2f}%), {b['delete_calls_per_expired_item']} per item; "
        f"all data-store calls {b['all_data_store_calls']} ({b['all_calls_per_expired_item']} per item)"
    )
    print(f"naive loop: {n['expired']} expired in {n['seconds']}s = {n['expired_per_second']} items/s")
    print(f"  delete calls {n['delete_calls']} ({n['delete_calls_per_expired_item']} per item)")
    print(
        f"ratios: naive/batch delete calls per item {r['naive_over_batch_delete_calls_per_item']}x, "
        f"all calls {r['naive_over_batch_all_calls_per_item']}x; "
        f"batch/naive speed {r['batch_over_naive_items_per_second']}x"
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
