"""Tampering with a versioned audit trail (moto): each kind is detected and named by key, and the
digest writer never chains over what it finds wrong.

The bucket is versioned like the audit bucket but has no Object Lock, so the tests can also do what
only a root user with the break-glass role could do after retention ends: remove versions outright.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from functions.privacy.evidence import records as evidence
from functions.privacy.evidence.digests import list_digests, schedule_interval
from functions.privacy.evidence.records import append_request_event, canonical, write_record
from functions.privacy.evidence.verify import verify_bucket
from tests.integration.evidence.digest_support import digest_now

BUCKET = "audit-versioned"
LAST = "requests/req-a/chain/0002-completed.json"
CLOSED = {"req-a": "completed", "req-b": "partially_completed"}
MAX_AGE = 2 * schedule_interval("rate(1 hour)")


def _digest_now(s3, kms, key):
    return digest_now(s3, kms, BUCKET, key)


@pytest.fixture
def audit(aws):
    s3, kms = aws.client("s3"), aws.client("kms")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    for request in ("req-a", "req-b"):
        store_key = evidence.store_outcome_key(request, "customers", "erase")
        _, store_hash = write_record(s3, BUCKET, store_key, {"kind": "request_event", "event": "store_erased"})
        append_request_event(s3, BUCKET, request, "received", {"subject": "hmac-sha256:00"})
        append_request_event(s3, BUCKET, request, "verified", {})
        append_request_event(
            s3, BUCKET, request, "completed",
            {"status": CLOSED[request], "stores": {"customers": {"record": store_key, "record_sha256": store_hash}}},
        )  # fmt: skip
    assert _digest_now(s3, kms, key)["records"] == 8
    return s3, kms, key


def _verify(s3, kms, **overrides):
    return verify_bucket(s3, kms, BUCKET, **{"closed_requests": CLOSED, "max_digest_age": MAX_AGE, **overrides})


def _kinds(report):
    return {(p.kind, p.key) for p in report.problems}


def _body(s3, key):
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_an_untouched_versioned_trail_verifies_with_closed_requests_and_a_fresh_digest(audit):
    s3, kms, key = audit
    write_record(s3, BUCKET, "operator/2026/12/01/x-hold.json", {"kind": "operator_action"})
    _digest_now(s3, kms, key)
    report = _verify(s3, kms)
    assert report.ok, [str(p) for p in report.problems]
    assert (report.records_checked, report.digests_checked, report.pending) == (9, 2, [])


def test_an_overwrite_through_a_new_version_is_named_even_after_the_next_digest_covers_it(audit):
    s3, kms, key = audit
    forged = {**_body(s3, LAST), "status": "completed"}
    s3.put_object(Bucket=BUCKET, Key=LAST, Body=canonical(forged))  # a plain PUT: a second version
    _digest_now(s3, kms, key)

    report = _verify(s3, kms)

    assert ("overwritten_record", LAST) in _kinds(report)
    assert ("modified_record", LAST) not in _kinds(report)  # the first version is intact and digested


def test_versions_written_within_one_second_are_listed_oldest_first_so_the_first_is_the_record(audit):
    s3 = audit[0]
    for attempt in range(5):  # the three writes must share one whole second (S3's time unit)
        key = f"requests/req-c/stores/customers-{attempt}.erase.json"
        written = [
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
            for body in (b'{"n": 1}', b'{"forged": true}', b'{"n": 1}')
        ]
        versions = evidence.list_versions(s3, BUCKET, (key,))[key]
        if len({v["modified"] for v in versions}) == 1:
            break
    else:
        pytest.fail("could not write three versions within one second")

    assert [v["version_id"] for v in versions] == written
    assert ("overwritten_record", key) in _kinds(_verify(s3, audit[1]))


def test_a_modified_record_in_a_copy_is_named_against_the_digested_hash(audit):
    s3, kms, _ = audit
    copy = "audit-copy"
    s3.create_bucket(Bucket=copy)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page["Contents"]:
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            if obj["Key"] == LAST:
                body = canonical({**json.loads(body), "status": "completed", "exceptions": []})
            s3.put_object(Bucket=copy, Key=obj["Key"], Body=body)

    kinds = _kinds(verify_bucket(s3, kms, copy, closed_requests=CLOSED))

    assert ("modified_record", LAST) in kinds


def test_a_delete_marker_on_the_last_record_and_the_newest_digest_is_named_and_not_chained_over(audit):
    s3, kms, key = audit
    (newest,) = list_digests(s3, BUCKET)
    s3.delete_object(Bucket=BUCKET, Key=LAST)
    s3.delete_object(Bucket=BUCKET, Key=newest)

    written = _digest_now(s3, kms, key)

    assert written["gaps"] == 1
    following = _body(s3, written["key"])
    assert following["previous_digest"] == newest  # linked to the hidden digest, not the one before it
    assert following["gaps"] == [{"key": newest, "problem": "delete_marker"}]
    kinds = _kinds(_verify(s3, kms))
    assert {("delete_marker", LAST), ("delete_marker", newest), ("digest_gap", newest)} <= kinds
    assert not {kind for kind, _ in kinds} & {"broken_digest_chain", "removed_record", "truncated_chain"}


def test_a_deleted_last_record_of_a_closed_request_is_a_truncated_chain(audit):
    s3, kms, key = audit
    # Written and removed before any digest saw it: only the requests table knows it must exist.
    append_request_event(s3, BUCKET, "req-c", "received", {"subject": "hmac-sha256:00"})
    ending = "requests/req-c/chain/0001-completed.json"
    append_request_event(s3, BUCKET, "req-c", "completed", {"status": "completed", "stores": {}})
    for version in s3.list_object_versions(Bucket=BUCKET, Prefix=ending)["Versions"]:
        s3.delete_object(Bucket=BUCKET, Key=ending, VersionId=version["VersionId"])

    report = _verify(s3, kms, closed_requests={**CLOSED, "req-c": "completed"})

    assert ("truncated_chain", "requests/req-c/chain/") in _kinds(report)
    assert verify_bucket(s3, kms, BUCKET, closed_requests=CLOSED).ok  # without the table it looks complete


def test_a_deleted_digested_record_is_named_removed(audit):
    s3, kms, _ = audit
    for version in s3.list_object_versions(Bucket=BUCKET, Prefix=LAST)["Versions"]:
        s3.delete_object(Bucket=BUCKET, Key=LAST, VersionId=version["VersionId"])
    kinds = _kinds(_verify(s3, kms))
    assert {("removed_record", LAST), ("truncated_chain", "requests/req-a/chain/")} <= kinds


def test_a_reordered_chain_is_named(audit):
    s3, kms, _ = audit
    first, second = "requests/req-b/chain/0000-received.json", "requests/req-b/chain/0001-verified.json"
    a, b = (s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in (first, second))
    for version in s3.list_object_versions(Bucket=BUCKET, Prefix="requests/req-b/chain/000")["Versions"]:
        s3.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    s3.put_object(Bucket=BUCKET, Key=first, Body=b)
    s3.put_object(Bucket=BUCKET, Key=second, Body=a)
    kinds = _kinds(_verify(s3, kms))
    assert {("reordered_chain", first), ("reordered_chain", second)} <= kinds
    # The digested versions are gone and the keys hold other bytes.
    assert {("removed_record", first), ("removed_record", second)} <= kinds


def test_a_forged_digest_is_named(audit):
    s3, kms, key = audit
    (real,) = list_digests(s3, BUCKET)
    forged = {**_body(s3, real), "since": _body(s3, real)["until"], "until": "2099-01-01T00:00:00Z"}
    forged["previous_digest"], forged["records"] = real, []
    fake = "digests/2099/01/01/20990101T000000Z.json"
    s3.put_object(Bucket=BUCKET, Key=fake, Body=canonical(forged))
    kinds = _kinds(_verify(s3, kms))
    assert ("forged_digest", fake) in kinds
    # and one rewritten in place through a new version: both versions are named
    s3.put_object(Bucket=BUCKET, Key=real, Body=canonical({**_body(s3, real), "records": []}))
    assert {("overwritten_record", real), ("forged_digest", fake)} <= _kinds(_verify(s3, kms))


def test_an_omitted_digest_is_named_missing_and_leaves_a_gap(audit):
    s3, kms, key = audit
    for name in ("req-d", "req-e"):
        append_request_event(s3, BUCKET, name, "received", {"subject": "hmac-sha256:00"})
        _digest_now(s3, kms, key)
    first, middle, last = list_digests(s3, BUCKET)
    for version in s3.list_object_versions(Bucket=BUCKET, Prefix=middle)["Versions"]:
        s3.delete_object(Bucket=BUCKET, Key=middle, VersionId=version["VersionId"])

    kinds = _kinds(_verify(s3, kms))

    assert {("missing_digest", middle), ("digest_gap", last), ("broken_digest_chain", last)} <= kinds
    assert ("undigested_record", "requests/req-d/chain/0000-received.json") in kinds
    # The writer names the missing digest instead of chaining over it.
    assert _body(s3, _digest_now(s3, kms, key)["key"])["gaps"] == [{"key": middle, "problem": "missing"}]


def test_a_stale_newest_digest_is_named(audit):
    s3, kms, _ = audit
    (newest,) = list_digests(s3, BUCKET)
    later = datetime.now(UTC) + 3 * MAX_AGE / 2
    assert ("stale_digest", newest) in _kinds(_verify(s3, kms, now=later))
    assert _verify(s3, kms).ok


def test_records_with_no_digest_at_all_are_named_once_the_schedule_should_have_run(aws):
    s3, kms = aws.client("s3"), aws.client("kms")
    s3.create_bucket(Bucket=BUCKET)
    append_request_event(s3, BUCKET, "req-a", "received", {"subject": "hmac-sha256:00"})
    later = datetime.now(UTC) + 3 * MAX_AGE
    assert ("missing_digest", "digests/") in _kinds(verify_bucket(s3, kms, BUCKET, max_digest_age=MAX_AGE, now=later))


def test_a_quiet_period_still_gets_a_signed_digest(audit):
    s3, kms, key = audit
    written = _digest_now(s3, kms, key)
    assert (written["records"], written["gaps"]) == (0, 0)
    assert _body(s3, written["key"])["records"] == []
    assert _verify(s3, kms).ok


def test_a_retried_write_over_a_hidden_record_keeps_the_first_version(audit):
    s3, kms, _ = audit
    store_key = evidence.store_outcome_key("req-a", "customers", "erase")
    s3.delete_object(Bucket=BUCKET, Key=store_key)
    record, _ = write_record(s3, BUCKET, store_key, {"kind": "request_event", "event": "store_erased_again"})
    assert record["event"] == "store_erased"
    assert len(s3.list_object_versions(Bucket=BUCKET, Prefix=store_key)["Versions"]) == 1
