"""Issue 12 end to end: each way of tampering with a request's trail is named by `dsr evidence verify`, exit 1.

The session's audit bucket is Object Locked and shared by every e2e test, so each test copies one real
request's trail (first versions, as the verifier reads them) into its own versioned bucket, digests it with
its own signing key, tampers there and verifies that bucket with --bucket.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from functions.privacy.evidence.digests import SETTLE, list_digests, write_digest
from functions.privacy.evidence.records import canonical, list_versions, objects_of, read_version
from tests.e2e import cli_support
from tests.e2e.cli_support import wait_for_status

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture
_copies = count()
_erased: dict[str, str] = {}


@pytest.fixture
def request_id(local_cloud, fresh_subject, dsr):
    """One erasure filed by an operator and run by the deployed workflow, shared by this file's tests."""
    if "id" not in _erased:
        subject = fresh_subject("tampered")
        filed = dsr("requests", "file", "--type", "erasure", "--email", subject["email"], "--reason", "letter").output
        _erased["id"] = filed.split("Filed ", 1)[1].split(" ", 1)[0]
        wait_for_status(local_cloud, _erased["id"], {"completed", "partially_completed"})
    return _erased["id"]


@pytest.fixture
def trail(local_cloud, request_id):
    """A versioned copy of the request's trail with one signed digest: (s3, kms, bucket, signing key, keys)."""
    s3, kms = local_cloud.clients.client("s3"), local_cloud.clients.client("kms")
    audit, copy = local_cloud.outputs["AuditBucketName"], f"tamper-{request_id[-12:]}-{next(_copies)}"
    s3.create_bucket(Bucket=copy)
    s3.put_bucket_versioning(Bucket=copy, VersioningConfiguration={"Status": "Enabled"})
    keys = []
    for key, versions in sorted(list_versions(s3, audit, (f"requests/{request_id}/",)).items()):
        body = read_version(s3, audit, key, objects_of(versions)[0]["version_id"])
        s3.put_object(Bucket=copy, Key=key, Body=body, IfNoneMatch="*")
        keys.append(key)
    signing_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    assert write_digest(s3, kms, copy, signing_key, now=_soon(1))["records"] == len(keys)
    return s3, kms, copy, signing_key, keys


def _soon(seconds: int) -> datetime:
    return datetime.now(UTC) + SETTLE + timedelta(seconds=seconds)


def _last_record(keys: list[str]) -> str:
    return max(k for k in keys if "/chain/" in k)


def _named(result, kind: str, key: str) -> bool:
    return any(kind in line and key in line for line in result.output.splitlines())


def test_an_untouched_copy_of_a_real_trail_verifies(trail, dsr):
    _, _, copy, _, keys = trail
    result = dsr("evidence", "verify", "--bucket", copy)
    assert "OK" in result.output and f"{len(keys)} record(s), 1 digest(s)" in result.output


def _plain_copy(s3, trail, bodies):
    """An unversioned copy of the trail and its digest, where ``bodies`` replace some keys' bytes in place."""
    _, _, versioned, _, keys = trail
    copy = f"{versioned}-plain"
    s3.create_bucket(Bucket=copy)
    for name in [*keys, *list_digests(s3, versioned)]:
        body = s3.get_object(Bucket=versioned, Key=name)["Body"].read()
        s3.put_object(Bucket=copy, Key=name, Body=bodies.get(name, body))
    return copy


def test_a_modified_record_is_named(trail, dsr):
    s3, _, versioned, _, keys = trail
    key = _last_record(keys)
    body = json.loads(s3.get_object(Bucket=versioned, Key=key)["Body"].read())
    copy = _plain_copy(s3, trail, {key: canonical({**body, "status": "completed", "exceptions": []})})
    assert _named(dsr("evidence", "verify", "--bucket", copy, expect=1), "modified_record", key)


def test_an_overwrite_through_a_new_version_is_named(trail, dsr):
    s3, kms, copy, signing_key, keys = trail
    key = _last_record(keys)
    body = json.loads(s3.get_object(Bucket=copy, Key=key)["Body"].read())
    s3.put_object(Bucket=copy, Key=key, Body=canonical({**body, "status": "completed"}))  # no If-None-Match
    write_digest(s3, kms, copy, signing_key, now=_soon(2))  # the next digest covers the new version
    assert _named(dsr("evidence", "verify", "--bucket", copy, expect=1), "overwritten_record", key)


def test_a_delete_marker_is_named_and_the_next_digest_names_a_hidden_digest(trail, dsr):
    s3, kms, copy, signing_key, keys = trail
    key = _last_record(keys)
    (digest,) = list_digests(s3, copy)
    s3.delete_object(Bucket=copy, Key=key)
    s3.delete_object(Bucket=copy, Key=digest)
    assert write_digest(s3, kms, copy, signing_key, now=_soon(2))["gaps"] == 1
    result = dsr("evidence", "verify", "--bucket", copy, expect=1)
    assert _named(result, "delete_marker", key) and _named(result, "delete_marker", digest)
    assert _named(result, "digest_gap", digest)


def test_a_deleted_last_record_of_a_closed_request_is_named_truncated(local_cloud, request_id, dsr):
    s3, kms = local_cloud.clients.client("s3"), local_cloud.clients.client("kms")
    audit, copy = local_cloud.outputs["AuditBucketName"], f"truncated-{request_id[-12:]}"
    s3.create_bucket(Bucket=copy)
    chain = sorted(list_versions(s3, audit, (f"requests/{request_id}/",)))
    last = max(k for k in chain if "/chain/" in k)
    for key in chain:
        if key != last:  # a copy made after the last record was removed, then digested
            s3.put_object(Bucket=copy, Key=key, Body=s3.get_object(Bucket=audit, Key=key)["Body"].read())
    signing_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    write_digest(s3, kms, copy, signing_key, now=_soon(1))
    result = dsr("evidence", "verify", "--bucket", copy, expect=1)
    assert _named(result, "truncated_chain", f"requests/{request_id}/chain/")


def test_a_reordered_chain_is_named(trail, dsr):
    s3, _, versioned, _, keys = trail
    chain = sorted(k for k in keys if "/chain/" in k)
    assert len(chain) >= 3  # received, verified, completed
    first, second = chain[0], chain[1]
    a, b = (s3.get_object(Bucket=versioned, Key=k)["Body"].read() for k in (first, second))
    # In a versioned bucket a swap is two overwrites (named as such); a copy can be assembled out of order.
    copy = _plain_copy(s3, trail, {first: b, second: a})
    assert _named(dsr("evidence", "verify", "--bucket", copy, expect=1), "reordered_chain", first)
    assert "OK" in dsr("evidence", "verify", "--bucket", versioned).output


def test_a_forged_digest_is_named(trail, dsr):
    s3, _, copy, _, _ = trail
    (real,) = list_digests(s3, copy)
    digest = json.loads(s3.get_object(Bucket=copy, Key=real)["Body"].read())
    digest["records"] = digest["records"][1:]  # drop a record from the digest without the private key
    fake = real.replace(".json", "9.json")
    s3.put_object(Bucket=copy, Key=fake, Body=canonical({**digest, "previous_digest": real}))
    assert _named(dsr("evidence", "verify", "--bucket", copy, expect=1), "forged_digest", fake)


def test_an_omitted_digest_is_named_missing(trail, dsr):
    s3, kms, copy, signing_key, _ = trail
    write_digest(s3, kms, copy, signing_key, now=_soon(2))
    write_digest(s3, kms, copy, signing_key, now=_soon(3))
    _, middle, last = list_digests(s3, copy)
    for version in s3.list_object_versions(Bucket=copy, Prefix=middle)["Versions"]:
        s3.delete_object(Bucket=copy, Key=middle, VersionId=version["VersionId"])
    result = dsr("evidence", "verify", "--bucket", copy, expect=1)
    assert _named(result, "missing_digest", middle) and _named(result, "digest_gap", last)


def test_a_stale_digest_is_named(trail, dsr):
    s3, _, copy, _, _ = trail
    (newest,) = list_digests(s3, copy)
    later = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")  # the schedule is hourly
    assert _named(dsr("evidence", "verify", "--bucket", copy, "--as-of", later, expect=1), "stale_digest", newest)
    assert "OK" in dsr("evidence", "verify", "--bucket", copy).output
