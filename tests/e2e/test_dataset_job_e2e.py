"""The dataset job end to end: two erasures queued together are done by one job that rewrites the shared file once."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from functions.privacy.datamap.model import StoreKind
from functions.privacy.dataset_jobs import queue
from functions.privacy.evidence import records as evidence
from functions.privacy.requests.record import RequestType
from local.workflow import start_request, wait_for_execution
from tests.e2e import cli_support
from tests.e2e.test_lake_e2e import _holding, _lake_versions

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture


def _wait_until_queued(table: Any, request_ids: set[str], stores: set[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    expected = {(store, request_id) for store in stores for request_id in request_ids}
    while True:
        waiting = {(row["store"], row["request_id"]) for row in queue.waiting(table)}
        if expected <= waiting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"queued after {timeout}s: {sorted(waiting & expected)} of {sorted(expected)}")
        time.sleep(0.5)


def _store_evidence(local_cloud, request_id: str, store: str) -> dict[str, Any]:
    s3 = local_cloud.clients.client("s3")
    key = evidence.store_outcome_key(request_id, store, "erase")
    return json.loads(s3.get_object(Bucket=local_cloud.outputs["AuditBucketName"], Key=key)["Body"].read())


def test_one_job_erases_two_queued_subjects_rewriting_their_shared_file_once(local_cloud, lake_people, dsr):
    clients, outputs, datamap = local_cloud.clients, local_cloud.outputs, local_cloud.datamap
    first, second, bystander = lake_people("jobfirst", "jobsecond", "jobbystander")
    lake = set(datamap.stores_of_kind(StoreKind.S3_DATASET))
    before = _lake_versions(local_cloud)
    kept_rows = {name: _holding(before[name], bystander) for name in lake}
    assert all(_holding(before[name], first) == _holding(before[name], second) == 2 for name in lake)
    table = clients.resource_table(outputs["DatasetQueueTableName"])

    with local_cloud.cloud.scheduler.paused():  # both requests wait in the queue for the one job below
        _no_job_running(clients, outputs["DatasetJobStateMachineArn"])
        started = [start_request(clients, outputs, RequestType.ERASURE, p["email"]) for p in (first, second)]
        request_ids = {request_id for request_id, _ in started}
        _wait_until_queued(table, request_ids, lake)
        assert "queued task(s)" in dsr("datasets", "queue").output
        ran = dsr("datasets", "run").output
    assert f"{2 * len(lake)} queued task(s): {2 * len(lake)} done" in ran, ran

    for _request_id, arn in started:
        execution = wait_for_execution(clients, arn)
        assert execution["status"] == "SUCCEEDED", execution
        assert json.loads(execution["output"])["status"] == "completed"
    after = _lake_versions(local_cloud)
    for name in lake:
        assert _holding(after[name], first) == _holding(after[name], second) == 0, name  # in no version of any file
        assert _holding(after[name], bystander) == kept_rows[name], name
        # Each request's evidence names the one rewrite of the shared file: the same source and new version.
        rewrites = []
        for request_id in sorted(request_ids):
            record = _store_evidence(local_cloud, request_id, name)
            assert record["outcome"]["deleted"] == 2, record["outcome"]
            (obj,) = [o for o in record["outcome"]["objects"] if o["status"] == "rewritten"]
            assert obj["subject_rows"] == 2 and obj["removed_rows"] == 4  # the job removed both subjects' rows
            rewrites.append((obj["source_version_id"], obj["new_version_id"], obj["new_sha256"]))
        assert rewrites[0] == rewrites[1], name
        # One version left of the shared file: the job's, the versions before it deleted.
        tag = first["customer_id"].lower()
        shared = [version for key, version, _ in after[name] if key.split("/")[-1].startswith(tag)]
        assert shared == [rewrites[0][1]], name
    assert not {row["request_id"] for row in queue.waiting(table)} & request_ids  # the job removed its entries


def _no_job_running(clients: Any, machine: str, timeout: float = 120.0) -> None:
    """A scheduled job started before the pause could claim one request alone: let it end first."""
    sfn = clients.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"a dataset job still running after {timeout}s")
        time.sleep(0.5)
