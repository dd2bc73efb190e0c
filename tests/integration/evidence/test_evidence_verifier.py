"""The verifier names each kind of tampering: modified, removed, reordered, forged, undigested."""

from __future__ import annotations

import json

import pytest

from functions.privacy.evidence import records as evidence
from functions.privacy.evidence.digests import list_digests
from functions.privacy.evidence.records import append_request_event, canonical, write_record
from functions.privacy.evidence.verify import verify_bucket
from tests.integration.evidence.digest_support import digest_now

BUCKET = "audit-copy"  # no Object Lock: tampering must be possible to test detection


def _digest_now(s3, kms, key):
    return digest_now(s3, kms, BUCKET, key)


@pytest.fixture
def audit(aws):
    s3, kms = aws.client("s3"), aws.client("kms")
    s3.create_bucket(Bucket=BUCKET)
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    for request in ("req-a", "req-b"):
        store_key = evidence.store_outcome_key(request, "customers", "erase")
        _, store_hash = write_record(s3, BUCKET, store_key, {"kind": "request_event", "event": "store_erased"})
        append_request_event(s3, BUCKET, request, "received", {"subject": "hmac-sha256:00"})
        append_request_event(s3, BUCKET, request, "verified", {})
        append_request_event(
            s3, BUCKET, request, "completed",
            {"stores": {"customers": {"record": store_key, "record_sha256": store_hash}}},
        )  # fmt: skip
    assert _digest_now(s3, kms, key)["records"] == 8
    return s3, kms, key


def _kinds(report):
    return {(p.kind, p.key) for p in report.problems}


def test_an_untouched_bucket_verifies(audit):
    s3, kms, _ = audit
    report = verify_bucket(s3, kms, BUCKET)
    assert report.ok, report.problems
    assert report.records_checked == 8 and report.digests_checked == 1


def test_a_modified_record_is_named(audit):
    s3, kms, _ = audit
    key = "requests/req-a/chain/0001-verified.json"
    body = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    s3.put_object(Bucket=BUCKET, Key=key, Body=canonical({**body, "event": "rejected_unverified"}))
    report = verify_bucket(s3, kms, BUCKET)
    assert ("modified_record", key) in _kinds(report)
    assert ("broken_chain", "requests/req-a/chain/0002-completed.json") in _kinds(report)


def test_a_removed_record_is_named(audit):
    s3, kms, _ = audit
    key = evidence.store_outcome_key("req-b", "customers", "erase")
    s3.delete_object(Bucket=BUCKET, Key=key)
    assert ("removed_record", key) in _kinds(verify_bucket(s3, kms, BUCKET))


def test_a_reordered_chain_is_named(audit):
    s3, kms, _ = audit
    first, second = "requests/req-a/chain/0000-received.json", "requests/req-a/chain/0001-verified.json"
    a = s3.get_object(Bucket=BUCKET, Key=first)["Body"].read()
    b = s3.get_object(Bucket=BUCKET, Key=second)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=first, Body=b)
    s3.put_object(Bucket=BUCKET, Key=second, Body=a)
    kinds = {kind for kind, _ in _kinds(verify_bucket(s3, kms, BUCKET))}
    assert "reordered_chain" in kinds


def test_a_forged_digest_is_named(audit):
    s3, kms, _ = audit
    (digest_key,) = list_digests(s3, BUCKET)
    digest = json.loads(s3.get_object(Bucket=BUCKET, Key=digest_key)["Body"].read())
    # Hide a modification by rewriting the digest's hash for it (without the private key).
    digest["records"][0]["sha256"] = "0" * 64
    s3.put_object(Bucket=BUCKET, Key=digest_key, Body=canonical(digest))
    assert ("forged_digest", digest_key) in _kinds(verify_bucket(s3, kms, BUCKET))


def test_a_record_slipped_in_before_the_cutoff_is_named(audit):
    s3, kms, key = audit
    write_record(s3, BUCKET, "requests/req-c/stores/orders.erase.json", {"kind": "request_event"})
    # A later digest covers it, then the attacker deletes that digest's entry... simplest: no digest lists it
    # although its time is before the newest cut-off.
    _digest_now(s3, kms, key)
    digests = list_digests(s3, BUCKET)
    latest = json.loads(s3.get_object(Bucket=BUCKET, Key=digests[-1])["Body"].read())
    latest["records"] = [r for r in latest["records"] if "req-c" not in r["key"]]
    s3.put_object(Bucket=BUCKET, Key=digests[-1], Body=canonical(latest))
    kinds = _kinds(verify_bucket(s3, kms, BUCKET))
    assert ("undigested_record", "requests/req-c/stores/orders.erase.json") in kinds
    assert ("forged_digest", digests[-1]) in kinds


def test_records_newer_than_the_last_digest_are_pending_not_errors(audit):
    s3, kms, _ = audit
    write_record(s3, BUCKET, "requests/req-d/stores/orders.erase.json", {"kind": "request_event"})
    report = verify_bucket(s3, kms, BUCKET)
    assert report.ok and report.pending == ["requests/req-d/stores/orders.erase.json"]


def test_one_request_can_be_verified_alone(audit):
    s3, kms, _ = audit
    s3.delete_object(Bucket=BUCKET, Key="requests/req-b/chain/0000-received.json")
    assert verify_bucket(s3, kms, BUCKET, request_id="req-a").ok
    assert not verify_bucket(s3, kms, BUCKET, request_id="req-b").ok


def test_digests_chain_to_each_other(audit):
    s3, kms, key = audit
    write_record(s3, BUCKET, "requests/req-e/stores/orders.erase.json", {"kind": "request_event"})
    _digest_now(s3, kms, key)
    first, second = list_digests(s3, BUCKET)
    s3.delete_object(Bucket=BUCKET, Key=first)
    assert ("broken_digest_chain", second) in _kinds(verify_bucket(s3, kms, BUCKET))
