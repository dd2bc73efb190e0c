"""erase_key, the dataset job's per-key work, on moto: rows of several queued subjects, one rewrite, each share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from functions.privacy.connectors.base import Subject
from functions.privacy.connectors.s3_dataset import S3DatasetConnector
from functions.privacy.dataset_jobs.job import erase_key
from functions.privacy.dataset_jobs.queue import Entry
from functions.privacy.dataset_jobs.subjects import QueuedSubjects, merge_subjects
from tests.integration.datasets.test_s3_dataset_connector import (
    IDENTIFIERS,
    JSONL_KEY,
    LAKE,
    MASK_BUYER,
    NESTED,
    dataset_store,
    digest,
    every_version,
    jsonl_file,
    keyed_hash,
    order,
    put,
)


@pytest.fixture
def s3(aws: Any) -> Any:
    client = aws.client("s3")
    client.create_bucket(Bucket=LAKE)
    client.put_bucket_versioning(Bucket=LAKE, VersioningConfiguration={"Status": "Enabled"})
    return client


ANN = Subject({"email": "Ann@Example.com", "customer_id": "c-42"})
BEN = Subject({"customer_id": "c-8"})
ROWS = [
    order("c-1", "one@example.com", 1),
    order("c-42", "ann@example.com", 42),  # Ann by her id (and her address, normalised)
    order("c-8", "ben@example.com", 8),  # Ben
    order("c-7", "Ann@Example.com", 7),  # Ann by her address as typed, another customer id
    order("c-2", "two@example.com", 2),
]


def _queued(connector: S3DatasetConnector, subjects: dict[str, Subject]) -> QueuedSubjects:
    """What queued_subjects builds from the requests table, for subjects given directly."""
    return merge_subjects(
        (
            (Entry("orders", request_id, "erase", f"token-{request_id}"), subject, digest)
            for request_id, subject in subjects.items()
        ),
        connector,
    )


def _puts(s3: Any) -> list[dict[str, Any]]:
    puts: list[dict[str, Any]] = []
    s3.meta.events.register("provide-client-params.s3.PutObject", lambda params, **_: puts.append(params))
    return puts


def test_two_subjects_in_one_file_are_deleted_by_one_rewrite_and_each_gets_its_own_share(s3: Any, tmp_path: Path):
    put(s3, JSONL_KEY, jsonl_file(ROWS[:3]))  # an older version holds Ann and Ben too
    put(s3, JSONL_KEY, jsonl_file(ROWS))
    store = dataset_store("jsonl", "orders/", NESTED)
    connector = S3DatasetConnector("orders", store, s3, digest, keyed_hash, IDENTIFIERS, work_root=tmp_path)
    queued = _queued(connector, {"req-ann": ANN, "req-ben": BEN})
    puts = _puts(s3)

    shares = erase_key(connector, JSONL_KEY, queued, "customer_id", tmp_path)

    assert len(puts) == 1
    [rows] = every_version(s3, JSONL_KEY)  # one version left: the older one held them too
    assert rows == [ROWS[0], ROWS[4]]
    ann, ben = shares["req-ann#erase"], shares["req-ben#erase"]
    assert (ann["found"], ann["deleted"], ben["found"], ben["deleted"]) == (2, 2, 1, 1)
    assert ann["object"]["new_version_id"] == ben["object"]["new_version_id"]  # the same single rewrite
    assert (ann["object"]["subject_rows"], ann["object"]["removed_rows"]) == (2, 3)
    assert ann["matched_spelling"] == "as_typed" and len(ann["key_digests"]) == 2  # current and older version
    assert erase_key(connector, JSONL_KEY, queued, "customer_id", tmp_path) == {} and len(puts) == 1  # clean now


def test_anonymise_masks_every_queued_subjects_rows_once_and_a_rerun_writes_nothing(s3: Any, tmp_path: Path):
    put(s3, JSONL_KEY, jsonl_file(ROWS))
    store = dataset_store("jsonl", "orders/", NESTED, MASK_BUYER)
    connector = S3DatasetConnector("orders", store, s3, digest, keyed_hash, IDENTIFIERS, work_root=tmp_path)
    queued = _queued(connector, {"req-ann": ANN, "req-ben": BEN})
    puts = _puts(s3)

    shares = erase_key(connector, JSONL_KEY, queued, "customer_id", tmp_path)

    assert len(puts) == 1
    [rows] = every_version(s3, JSONL_KEY)
    assert len(rows) == len(ROWS) and [rows[0], rows[4]] == [ROWS[0], ROWS[4]]
    assert [r["customer"] for r in rows[1:4]] == [
        {"id": "c-42", "email": None, "name": keyed_hash("name 42")},
        {"id": "c-8", "email": None, "name": keyed_hash("name 8")},
        {"id": "c-7", "email": None, "name": keyed_hash("name 7")},
    ]
    ann, ben = shares["req-ann#erase"], shares["req-ben#erase"]
    assert (ann["anonymised"], ann["kept"], ann["deleted"], ben["anonymised"]) == (2, 2, 0, 1)
    again = erase_key(connector, JSONL_KEY, queued, "customer_id", tmp_path)
    assert len(puts) == 1  # masked rows hold nobody: nothing is written
    assert again["req-ann#erase"]["found"] == 1 and "object" not in again["req-ann#erase"]  # found by her id only
