"""The S3 connector against moto: erasure removes every version and delete marker under the subject's prefix."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from functions.privacy.connectors.base import InvalidIdentifier, StoreMisconfigured, StoreThrottled, Subject
from functions.privacy.connectors.s3 import S3Connector

ADA = Subject({"email": "ada@example.com", "customer_id": "c1"})


def _connector(datamap: Any, client: Any, digest: Any, **kwargs: Any) -> S3Connector:
    pattern = re.compile(datamap.identifiers["customer_id"].pattern)
    return S3Connector("uploads", datamap.stores["uploads"], client, digest, pattern, **kwargs)


def _versions(s3: Any, bucket: str, prefix: str) -> list[tuple[str, str]]:
    """(key, version id) of every version and delete marker under a prefix."""
    entries = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        entries += [(e["Key"], e["VersionId"]) for e in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    return sorted(entries)


def test_erasure_deletes_2500_versions_and_markers_in_chunks_of_1000_and_spares_lookalike_prefixes(
    datamap, aws, bucket, digest, calls_to
):
    s3 = aws.client("s3")
    ada_versions, others = [], []
    for n in range(1000):  # 1,000 keys x 2 versions, then a delete marker on 500 of them: 2,500 entries
        key = f"users/c1/ticket-{n:04d}.txt"
        ada_versions.append((key, s3.put_object(Bucket=bucket, Key=key, Body=b"first draft")["VersionId"]))
        ada_versions.append((key, s3.put_object(Bucket=bucket, Key=key, Body=b"second draft")["VersionId"]))
        if n % 2:
            ada_versions.append((key, s3.delete_object(Bucket=bucket, Key=key)["VersionId"]))
    for key in ["users/c10/ticket.txt", "users/c1-old/ticket.txt", "users/c1.txt", "users/C1/ticket.txt"]:
        others.append((key, s3.put_object(Bucket=bucket, Key=key, Body=b"someone else")["VersionId"]))
        others.append((key, s3.put_object(Bucket=bucket, Key=key, Body=b"someone else, again")["VersionId"]))
    assert len(ada_versions) == 2500
    deletes = calls_to(s3, "DeleteObjects")

    # No find first: moto copies the whole bucket for every listed page, and erase lists anyway.
    result = _connector(datamap, s3, digest).erase(ADA)

    assert (result.found, result.deleted) == (2500, 2500)
    assert sorted(result.key_digests) == sorted(
        "digest:" + json.dumps({"key": k, "version_id": v}, sort_keys=True, separators=(",", ":"))
        for k, v in ada_versions
    )
    assert _versions(s3, bucket, "users/c1/") == []  # no version and no delete marker left
    assert _versions(s3, bucket, "") == sorted(others)
    assert len(deletes) <= math.ceil(2500 / 1000)
    assert [len(call["Delete"]["Objects"]) for call in deletes] == [1000, 1000, 500]
    assert all(call["Delete"]["Quiet"] is True for call in deletes)
    deleted = sorted((o["Key"], o["VersionId"]) for call in deletes for o in call["Delete"]["Objects"])
    assert deleted == sorted(ada_versions)


def test_find_counts_versions_and_delete_markers_across_pages(datamap, aws, bucket, digest, calls_to):
    s3 = aws.client("s3")
    for n in range(3):
        s3.put_object(Bucket=bucket, Key=f"users/c1/{n}.txt", Body=b"v1")
        s3.put_object(Bucket=bucket, Key=f"users/c1/{n}.txt", Body=b"v2")
    s3.delete_object(Bucket=bucket, Key="users/c1/0.txt")
    s3.put_object(Bucket=bucket, Key="users/c10/0.txt", Body=b"v1")
    listings = calls_to(s3, "ListObjectVersions")
    connector = _connector(datamap, s3, digest, page_size=3)

    found = connector.find(ADA)

    assert (found.found, found.personal) == (7, 7)
    assert len(listings) == 3  # 7 entries in pages of 3
    assert sorted(found.key_digests) == sorted(
        "digest:" + json.dumps({"key": k, "version_id": v}, sort_keys=True, separators=(",", ":"))
        for k, v in _versions(s3, bucket, "users/c1/")
    )
    assert connector.erase(ADA).key_digests == found.key_digests
    assert connector.find(ADA).found == 0


@pytest.mark.parametrize("value", ["../c1", "c1/", "*", "c1\n", "", "{customer_id}"])
def test_malicious_identifier_is_rejected_before_any_call(datamap, aws, bucket, digest, any_calls, value):
    s3 = aws.client("s3")
    calls = any_calls(s3)
    connector = _connector(datamap, s3, digest)

    for operation in (connector.find, connector.erase):
        with pytest.raises(InvalidIdentifier):
            operation(Subject({"email": "ada@example.com", "customer_id": value}))
    assert calls == []


def test_subject_without_a_customer_id_has_no_uploads(datamap, aws, bucket, digest, any_calls):
    s3 = aws.client("s3")
    calls = any_calls(s3)
    assert _connector(datamap, s3, digest).erase(Subject({"email": "ada@example.com"})).found == 0
    assert calls == []


def test_missing_bucket_is_misconfigured_without_personal_data(datamap, aws, digest):
    with pytest.raises(StoreMisconfigured) as raised:
        _connector(datamap, aws.client("s3"), digest).erase(Subject({"customer_id": "cust-secret-42"}))
    assert "NoSuchBucket" in str(raised.value) and "uploads" in str(raised.value)
    assert "secret" not in str(raised.value)


class SlowDeletes:
    """Wraps a client so DeleteObjects reports per-key SlowDown errors (moto never does)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        refused = Delete["Objects"][:2]
        self._client.delete_objects(Bucket=Bucket, Delete={**Delete, "Objects": Delete["Objects"][2:]})
        return {"Errors": [{**o, "Code": "SlowDown", "Message": "Please reduce your request rate."} for o in refused]}


def test_per_key_slowdown_raises_store_throttled_naming_no_keys(datamap, aws, bucket, digest):
    s3 = aws.client("s3")
    for n in range(5):
        s3.put_object(Bucket=bucket, Key=f"users/c1/{n}.txt", Body=b"x")
    connector = _connector(datamap, SlowDeletes(s3), digest)

    with pytest.raises(StoreThrottled) as raised:
        connector.erase(ADA)
    assert "2 of 5" in str(raised.value) and "SlowDown" in str(raised.value)
    assert "users/c1" not in str(raised.value)

    # The retry the workflow makes finds only what is left and removes it.
    assert _connector(datamap, s3, digest).erase(ADA).deleted == 2
    assert _versions(s3, bucket, "users/c1/") == []
