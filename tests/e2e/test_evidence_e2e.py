"""Issue 5 end to end: signed digests from the deployed Lambda, the locked audit bucket, concurrent requests under
injected data-store faults, all verified with the verifier."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from functions.privacy.evidence import records as evidence
from functions.privacy.evidence.digests import SETTLE, list_digests, write_digest
from functions.privacy.evidence.records import canonical, list_versions
from functions.privacy.evidence.verify import verify_bucket
from functions.privacy.requests.record import RequestType
from local.inspect import holdings
from local.workflow import failed_states, start_request, wait_for_execution
from tests.e2e.evidence_support import DataStoreFaults, all_versions, digest_now

pytestmark = pytest.mark.e2e


def _erase(local_cloud, subject):
    request_id, arn = start_request(local_cloud.clients, local_cloud.outputs, RequestType.ERASURE, subject["email"])
    execution = wait_for_execution(local_cloud.clients, arn)
    assert execution["status"] == "SUCCEEDED", failed_states(local_cloud.clients, arn)
    return request_id, json.loads(execution["output"])


def test_the_signing_key_is_an_asymmetric_p256_key_that_signs_and_verifies(local_cloud):
    kms = local_cloud.clients.client("kms")
    metadata = kms.describe_key(KeyId=local_cloud.outputs["EvidenceSigningKeyArn"])["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert "ECDSA_SHA_256" in metadata["SigningAlgorithms"]
    assert kms.get_public_key(KeyId=metadata["Arn"])["PublicKey"]  # auditors can verify without KMS access


def test_the_digest_lambda_signs_new_records_and_the_bucket_verifies(local_cloud, fresh_subject):
    clients, outputs = local_cloud.clients, local_cloud.outputs
    s3, kms, bucket = clients.client("s3"), clients.client("kms"), outputs["AuditBucketName"]
    request_id, result = _erase(local_cloud, fresh_subject("digested"))

    written = digest_now(clients, outputs)

    assert written["records"] >= 1 + len(local_cloud.datamap.stores)
    digest = json.loads(s3.get_object(Bucket=bucket, Key=written["key"])["Body"].read())
    listed = {entry["key"] for entry in digest["records"]}
    assert result["evidence_key"] in listed
    for store in local_cloud.datamap.stores:
        assert evidence.store_outcome_key(request_id, store, "erase") in listed
    assert digest["signing_key"] == outputs["EvidenceSigningKeyArn"]
    report = verify_bucket(s3, kms, bucket)
    assert report.ok, [str(p) for p in report.problems]
    assert not [key for key in report.pending if request_id in key]
    # Nothing new since: a second run lists no record (it still signs an empty digest, so digests never go stale).
    assert digest_now(clients, outputs)["records"] == 0


def test_the_audit_bucket_refuses_deleting_or_replacing_a_locked_record(local_cloud, fresh_subject):
    clients, outputs = local_cloud.clients, local_cloud.outputs
    s3, kms, bucket = clients.client("s3"), clients.client("kms"), outputs["AuditBucketName"]
    request_id, _ = _erase(local_cloud, fresh_subject("locked"))
    digest_now(clients, outputs)
    key = evidence.store_outcome_key(request_id, "customers", "erase")
    original = s3.get_object(Bucket=bucket, Key=key)
    body, version = original["Body"].read(), original["VersionId"]
    assert original["ObjectLockMode"] == "COMPLIANCE"

    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as conditional:
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}", IfNoneMatch="*", ChecksumAlgorithm="SHA256")
    assert conditional.value.response["Error"]["Code"] in {"PreconditionFailed", "412"}

    # A plain PUT adds a version: the bucket policy refuses it on AWS, but moto's CloudFormation skips bucket
    # policies. Shown on a copy locked the same way, so the session's audit bucket stays untouched.
    locked = f"locked-{request_id[-12:]}"
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=locked,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    for name in sorted(list_versions(s3, bucket, (f"requests/{request_id}/",))):
        copied = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
        s3.put_object(Bucket=locked, Key=name, Body=copied, IfNoneMatch="*", ChecksumAlgorithm="SHA256")
    signing_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    write_digest(s3, kms, locked, signing_key, now=datetime.now(UTC) + SETTLE)  # its cut-off: this second
    time.sleep(1)  # so the forgery below is written after that cut-off, as a real one would be
    version = s3.head_object(Bucket=locked, Key=key)["VersionId"]
    forged = json.loads(body)
    forged["outcome"]["deleted"] += 1
    put = s3.put_object(Bucket=locked, Key=key, Body=canonical(forged), ChecksumAlgorithm="SHA256")
    assert put["VersionId"] != version
    assert s3.get_object(Bucket=locked, Key=key, VersionId=version)["Body"].read() == body
    assert ("overwritten_record", key) in {(p.kind, p.key) for p in verify_bucket(s3, kms, locked).problems}
    # Putting the original bytes back does not undo it: the verifier reads every version.
    s3.put_object(Bucket=locked, Key=key, Body=body, ChecksumAlgorithm="SHA256")
    assert len(list(all_versions(s3, locked, key))) == 3
    problems = verify_bucket(s3, kms, locked).problems
    assert [(p.kind, p.key) for p in problems] == [("overwritten_record", key)], [str(p) for p in problems]
    report = verify_bucket(s3, kms, bucket)
    assert report.ok, [str(p) for p in report.problems]


def test_twenty_concurrent_erasures_under_store_faults_finish_clean_with_one_record_per_store(
    local_cloud, fresh_subject
):
    clients, outputs, datamap = local_cloud.clients, local_cloud.outputs, local_cloud.datamap
    s3, kms, bucket = clients.client("s3"), clients.client("kms"), outputs["AuditBucketName"]
    subjects = [fresh_subject("crowd") for _ in range(20)]
    digests_before = len(list_digests(s3, bucket))
    started = time.monotonic()

    with DataStoreFaults(datamap, rate=0.2) as faults:
        with ThreadPoolExecutor(max_workers=20) as pool:
            launched = list(
                pool.map(lambda s: start_request(clients, outputs, RequestType.ERASURE, s["email"]), subjects)
            )
            # Generous: 20 workflows with retries share one interpreter on a 2-core machine (about 200 s under a
            # loaded suite). The test asserts what the trail holds, not how fast; the figure is printed below.
            executions = list(pool.map(lambda r: wait_for_execution(clients, r[1], timeout=600), launched))

    elapsed = time.monotonic() - started
    assert sum(faults.injected.values()) >= 10, (faults.injected, faults.calls)  # the faults really happened
    for (request_id, arn), execution in zip(launched, executions, strict=True):
        assert execution["status"] == "SUCCEEDED", (request_id, failed_states(clients, arn))
        assert json.loads(execution["output"])["status"] == "completed", request_id
        store_records = list(all_versions(s3, bucket, f"requests/{request_id}/stores/"))
        assert sorted(v["Key"] for v in store_records) == sorted(
            evidence.store_outcome_key(request_id, store, "erase") for store in datamap.stores
        ), "exactly one evidence record (one version) per store"
        chain = list(all_versions(s3, bucket, evidence.chain_prefix(request_id)))
        # One version each: received and verified (the harness files as verified), then one completion.
        assert [v["Key"].rsplit("/", 1)[-1] for v in chain] == [
            "0000-received.json",
            "0001-verified.json",
            "0002-completed.json",
        ]
    for subject in subjects:
        assert {name: h["personal"] for name, h in holdings(datamap, clients, subject).items()} == dict.fromkeys(
            datamap.stores, 0
        ), subject["customer_id"]

    written = digest_now(clients, outputs)
    assert written["records"] >= 20 * (1 + len(datamap.stores))
    assert len(list_digests(s3, bucket)) == digests_before + 1
    report = verify_bucket(s3, kms, bucket)
    assert report.ok, [str(p) for p in report.problems]
    assert not [key for key in report.pending if any(request_id in key for request_id, _ in launched)]
    print(f"20 erasures under faults {faults.injected} of {faults.calls} store calls in {elapsed:.0f}s")
