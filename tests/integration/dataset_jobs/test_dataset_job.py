"""The dataset job's use cases on moto without Step Functions: queue -> plan -> batches -> finish, and its failures.

Task tokens go to a recording Step Functions stand-in: what the job resumes (or fails) is what is asserted,
along with the lake itself (every version of every file) and the evidence records.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.privacy.core.clients import Clients
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.core.settings import DatasetJobSettings
from functions.privacy.datamap.model import StoreKind
from functions.privacy.dataset_jobs import queue
from functions.privacy.dataset_jobs.enqueue import queue_store_task
from functions.privacy.dataset_jobs.job import finish_job, plan_job, run_batch
from functions.privacy.evidence import records as evidence
from functions.privacy.request_workflow.planning import plan_request
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestType
from functions.privacy.retention import work
from local.inspect import holdings
from local.seed import seed_sample_subjects
from tests.integration.engine_settings import ErasureSettings

QUEUE, WORK = "dataset-queue", "dataset-work"


class JobSettings(ErasureSettings, DatasetJobSettings):
    """The store tasks, the dataset job and completion in one environment."""


class TaskTokens:
    """Stands in for Step Functions' task-token API: records what each token was answered with."""

    def __init__(self) -> None:
        self.answers: dict[str, dict[str, Any]] = {}

    def send_task_success(self, taskToken: str, output: str) -> None:  # noqa: N803 (boto3's parameter names)
        self.answers[taskToken] = {"success": json.loads(output)}

    def send_task_failure(self, taskToken: str, error: str, cause: str) -> None:  # noqa: N803
        self.answers[taskToken] = {"error": error, "cause": cause}


class JobClients(Clients):
    """One client per service (so a test's hooks see every call) and the recording task-token API."""

    def __init__(self) -> None:
        super().__init__(boto3.session.Session(region_name="us-east-1"))
        self.tokens = TaskTokens()
        self._cached: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service == "stepfunctions":
            return self.tokens
        if service not in self._cached:
            self._cached[service] = super().client(service)
        return self._cached[service]


@pytest.fixture
def engine(aws, engine_env, tables, bucket, contact_list, suppression_list, datamap):
    aws.client("dynamodb").create_table(
        TableName=QUEUE,
        KeySchema=[{"AttributeName": "store", "KeyType": "HASH"}, {"AttributeName": "entry", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "store", "AttributeType": "S"},
            {"AttributeName": "entry", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.client("s3").create_bucket(Bucket=WORK)
    with lambda_environment({**engine_env, "DATASET_QUEUE_TABLE": QUEUE, "DATASET_WORK_BUCKET": WORK}):
        clients = JobClients()
        people = seed_sample_subjects(datamap, clients)
        yield JobSettings.load(), clients, people


LAKE_OPERATIONS = {"erase": RequestType.ERASURE, "export": RequestType.ACCESS}


def _queue(settings, clients, person, operation: str, datamap, token_prefix: str = "") -> tuple[str, list[str]]:
    """File and plan a request, then queue each of its lake store tasks as ActOnDatasetStore would."""
    table = clients.resource_table("requests")
    record = requests.create_request(table, LAKE_OPERATIONS[operation], {"email": person["email"]})
    plan_request(record.request_id, settings, clients)
    tokens = []
    for store in datamap.stores_of_kind(StoreKind.S3_DATASET):
        token = f"{token_prefix}{record.request_id}-{store}"
        queued = queue_store_task(record.request_id, store, operation, token, settings, clients)
        assert queued["status"] == "queued"
        tokens.append(token)
    return record.request_id, tokens


def _run_job(job_id: str, settings, clients) -> dict[str, Any]:
    plan = plan_job(job_id, settings, clients)
    if plan["batches"]:
        for item in work.get_json(clients.client("s3"), WORK, plan["manifest_key"]):
            run_batch({**item, "job_id": job_id}, settings, clients)
    return finish_job(job_id, False, settings, clients)


def _run_job_racing(races: Callable[[str], bool], job_id: str, settings, clients) -> tuple[list[str], dict[str, Any]]:
    """Run a job while another writer changes each lake file ``races`` picks between the job's pin and its
    conditional PUT (a gzip member or a blank line appended: new bytes, new ETag, the subject's rows still in it).
    Returns the keys raced and the job's result."""
    s3 = clients.client("s3")
    raced: list[str] = []

    def concurrent_writer(params: dict[str, Any], **_: Any) -> None:
        key = params["Key"]
        if "IfMatch" in params and races(key) and key not in raced:
            raced.append(key)
            source = s3.get_object(Bucket=params["Bucket"], Key=key)["Body"].read()
            extra = gzip.compress(b"\n", mtime=0) if key.endswith(".gz") else b"\n"
            s3.put_object(Bucket=params["Bucket"], Key=key, Body=source + extra)

    s3.meta.events.register("provide-client-params.s3.PutObject", concurrent_writer)
    try:
        result = _run_job(job_id, settings, clients)
    finally:
        s3.meta.events.unregister("provide-client-params.s3.PutObject", concurrent_writer)
    return raced, result


def _text_stores(datamap) -> set[str]:
    """The lake stores of JSON Lines and CSV files (the ones the tests race)."""
    return {n for n, s in datamap.stores_of_kind(StoreKind.S3_DATASET).items() if s.dataset.format != "parquet"}


def _lake_puts(clients, datamap) -> list[dict[str, Any]]:
    lakes = {s.resource for s in datamap.stores_of_kind(StoreKind.S3_DATASET).values()}
    puts: list[dict[str, Any]] = []
    clients.client("s3").meta.events.register(
        "provide-client-params.s3.PutObject",
        lambda params, **_: puts.append(params) if params["Bucket"] in lakes else None,
    )
    return puts


def _lake_keys(clients, datamap) -> int:
    s3 = clients.client("s3")
    keys = set()
    for store in datamap.stores_of_kind(StoreKind.S3_DATASET).values():
        assert store.dataset is not None
        for entry in s3.list_objects_v2(Bucket=store.resource, Prefix=store.dataset.prefix).get("Contents", []):
            keys.add((store.resource, entry["Key"]))
    return len(keys)


def test_one_job_erases_every_queued_subject_rewriting_each_shared_file_once(engine, datamap):
    settings, clients, (alice, bob, carol) = engine
    lake = set(datamap.stores_of_kind(StoreKind.S3_DATASET))
    carol_before = holdings(datamap, clients, carol)
    first, first_tokens = _queue(settings, clients, alice, "erase", datamap)
    second, second_tokens = _queue(settings, clients, bob, "erase", datamap)
    puts = _lake_puts(clients, datamap)

    result = _run_job("job-1", settings, clients)

    assert result == {"job_id": "job-1", "entries": 2 * len(lake), "succeeded": 2 * len(lake)}
    # Every seeded file holds both subjects: one PUT per file for both of them.
    assert len(puts) == _lake_keys(clients, datamap)
    for person in (alice, bob):
        assert all(holdings(datamap, clients, person)[name]["found"] == 0 for name in lake)  # every version
    assert {n: c for n, c in holdings(datamap, clients, carol).items() if n in lake} == {
        n: c for n, c in carol_before.items() if n in lake
    }
    for request_id, tokens in ((first, first_tokens), (second, second_tokens)):
        for token in tokens:
            store = token.removeprefix(f"{request_id}-")
            answer = clients.tokens.answers[token]["success"]
            assert answer["status"] == "succeeded" and answer["deleted"] > 0, answer
            key = evidence.store_outcome_key(request_id, answer["store"], "erase")
            recorded = evidence.read_record(clients.client("s3"), settings.AUDIT_BUCKET, key)
            assert recorded is not None and recorded[1] == answer["evidence_sha256"], store
            # The per-object list is in the record only: the task output (and the request's state) stays small.
            assert recorded[0]["outcome"]["objects"] and "objects" not in answer
            for value in (alice | bob).values():
                assert value not in json.dumps(recorded[0])
    assert queue.waiting(clients.resource_table(QUEUE)) == []
    assert not clients.client("s3").list_objects_v2(Bucket=WORK).get("Contents")  # the job's files are gone

    # A job with nothing queued does nothing; a task re-run after it is answered from its evidence at once.
    assert _run_job("job-2", settings, clients) == {"job_id": "job-2", "entries": 0}
    again = queue_store_task(
        first, first_tokens[0].removeprefix(f"{first}-"), "erase", "retry-token", settings, clients
    )
    assert clients.tokens.answers["retry-token"]["success"] == again
    assert again["evidence_sha256"] == clients.tokens.answers[first_tokens[0]]["success"]["evidence_sha256"]


def test_an_object_changed_during_the_job_fails_the_task_for_a_retry_and_the_next_job_cleans_it(engine, datamap):
    settings, clients, (alice, *_) = engine
    request_id, tokens = _queue(settings, clients, alice, "erase", datamap)
    s3 = clients.client("s3")
    # Another writer changes each JSON Lines and CSV file under the job.
    raced, _ = _run_job_racing(lambda key: not key.endswith(".parquet"), "job-race", settings, clients)

    assert raced, "the concurrent writer never ran"
    answers = {t.removeprefix(f"{request_id}-"): clients.tokens.answers[t] for t in tokens}
    raced_stores = _text_stores(datamap)
    for store, answer in answers.items():
        key = evidence.store_outcome_key(request_id, store, "erase")
        if store in raced_stores:  # retried, never reported clean
            assert answer["error"] == "StoreUnavailable", answer
            assert evidence.read_record(s3, settings.AUDIT_BUCKET, key) is None
            assert holdings(datamap, clients, alice)[store]["found"] > 0  # the other writer's version holds her
            # The workflow's Retry invokes the task again: it queues with a new token for the next job.
            assert (
                queue_store_task(request_id, store, "erase", f"again-{store}", settings, clients)["status"] == "queued"
            )
        else:
            assert answer["success"]["status"] == "succeeded"
            assert holdings(datamap, clients, alice)[store]["found"] == 0

    _run_job("job-after", settings, clients)
    assert all(holdings(datamap, clients, alice)[n]["found"] == 0 for n in datamap.stores_of_kind(StoreKind.S3_DATASET))
    retried = [a for t, a in clients.tokens.answers.items() if t.startswith("again-")]
    assert retried and all(a["success"]["status"] == "succeeded" for a in retried)


def test_a_failed_job_fails_every_claimed_task_for_a_retry_and_records_nothing(engine, datamap):
    settings, clients, (alice, *_) = engine
    request_id, tokens = _queue(settings, clients, alice, "erase", datamap)
    plan_job("job-dies", settings, clients)

    result = finish_job("job-dies", True, settings, clients)

    assert result["retried"] == len(tokens)
    assert Counter(clients.tokens.answers[t].get("error") for t in tokens) == {"StoreUnavailable": len(tokens)}
    for store in datamap.stores_of_kind(StoreKind.S3_DATASET):
        key = evidence.store_outcome_key(request_id, store, "erase")
        assert evidence.read_record(clients.client("s3"), settings.AUDIT_BUCKET, key) is None


def test_one_job_exports_each_subjects_rows_into_their_own_archive_parts(engine, datamap):
    settings, clients, (alice, bob, _) = engine
    first, first_tokens = _queue(settings, clients, alice, "export", datamap)
    second, _ = _queue(settings, clients, bob, "export", datamap)

    _run_job("job-export", settings, clients)

    s3 = clients.client("s3")
    for request_id, person, other in ((first, alice, bob), (second, bob, alice)):
        parts = s3.list_objects_v2(Bucket=settings.EXPORT_BUCKET, Prefix=f"exports/{request_id}/").get("Contents", [])
        bodies = b"".join(s3.get_object(Bucket=settings.EXPORT_BUCKET, Key=p["Key"])["Body"].read() for p in parts)
        assert person["customer_id"].encode() in bodies
        assert other["customer_id"].encode() not in bodies and other["email"].encode() not in bodies
    answer = clients.tokens.answers[first_tokens[0]]["success"]
    assert answer["status"] == "succeeded" and answer["records"] > 0 and answer["objects"] > 0


def test_objects_rewritten_before_a_retry_stay_in_the_evidence_the_next_job_writes(engine, datamap):
    settings, clients, (alice, *_) = engine
    raced_stores = _text_stores(datamap)
    rows_before = {n: holdings(datamap, clients, alice)[n]["found"] for n in raced_stores}
    request_id, tokens = _queue(settings, clients, alice, "erase", datamap)
    s3 = clients.client("s3")
    # Only each text store's first file changes under the job: its second file is rewritten in this job.
    raced, first = _run_job_racing(
        lambda key: "-0000." in key and not key.endswith(".parquet"), "job-partly", settings, clients
    )

    assert len(raced) == len(raced_stores) and first["retried"] == len(raced_stores)
    for store in raced_stores:
        assert clients.tokens.answers[f"{request_id}-{store}"]["error"] == "StoreUnavailable"
        assert holdings(datamap, clients, alice)[store]["found"] > 0  # the raced file still holds her
        queue_store_task(request_id, store, "erase", f"again-{store}", settings, clients)
    assert {r["store"] for r in queue.waiting(clients.resource_table(QUEUE))} == raced_stores

    _run_job("job-rest", settings, clients)

    for store in raced_stores:
        answer = clients.tokens.answers[f"again-{store}"]["success"]
        assert holdings(datamap, clients, alice)[store]["found"] == 0
        recorded, _ = evidence.read_record(
            s3, settings.AUDIT_BUCKET, evidence.store_outcome_key(request_id, store, "erase")
        )
        # Both files: the one the first job rewrote before the retry, and the one the second job did.
        assert answer["deleted"] == rows_before[store], (answer, rows_before)
        assert len(recorded["outcome"]["objects"]) == 2, json.dumps(recorded)[:1500]
        assert sum(o["subject_rows"] for o in recorded["outcome"]["objects"]) == rows_before[store]
    assert queue.waiting(clients.resource_table(QUEUE)) == []


def test_a_released_task_keeps_its_shares_and_past_the_item_limit_keeps_their_sums(engine):
    _, clients, _ = engine
    table = clients.resource_table(QUEUE)
    now, lease = datetime.now(UTC), timedelta(hours=6)

    def share(n: int, size: int) -> dict[str, Any]:
        evidence = {"key_digest": f"{n:064x}", "new_version_id": "v" * size, "subject_rows": 2}
        return {"status": "clean", "found": 2, "deleted": 2, "anonymised": 0, "kept": 0, "object": evidence}

    def claimed_by(job_id: str) -> queue.Entry:
        (entry,) = queue.claim(table, job_id, now, lease, 10)
        return entry

    small, large = [share(n, 10) for n in range(3)], [share(n, 1_000) for n in range(400)]
    queue.enqueue(table, "lake_orders", "req-1", "erase", "token-1", now)
    assert queue.release(table, "job-1", claimed_by("job-1"), small)
    queue.enqueue(table, "lake_orders", "req-1", "erase", "token-2", now)  # the retry: a new token, same item
    second = claimed_by("job-2")
    assert (second.task_token, list(second.carried)) == ("token-2", small)

    # 403 shares of about 1 KB: past CARRIED_BYTES, so one summed share keeps the counts, not the list.
    assert queue.release(table, "job-2", second, large)
    queue.enqueue(table, "lake_orders", "req-1", "erase", "token-3", now)
    third = claimed_by("job-3")
    assert list(third.carried) == [{"found": 806, "deleted": 806, "anonymised": 0, "kept": 0, "status": "clean"}]

    # A job whose task was retried meanwhile (a new token) releases nothing, and the new item keeps its shares.
    queue.enqueue(table, "lake_orders", "req-1", "erase", "token-4", now)
    assert not queue.release(table, "job-3", third, small)
    assert list(claimed_by("job-4").carried) == list(third.carried)
