"""`dsr evidence verify` on the local cloud: an intact copy verifies; a tampered record is named, exit 1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from functions.privacy.evidence.digests import SETTLE, write_digest
from functions.privacy.evidence.records import canonical
from tests.e2e import cli_support
from tests.e2e.cli_support import wait_for_status

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture


def test_verify_passes_on_an_intact_copy_and_names_a_tampered_record(local_cloud, fresh_subject, dsr):
    subject = fresh_subject("audited")
    filed = dsr("requests", "file", "--type", "erasure", "--email", subject["email"], "--reason", "letter").output
    request_id = filed.split("Filed ", 1)[1].split(" ", 1)[0]
    wait_for_status(local_cloud, request_id, {"completed", "partially_completed", "failed"})
    assert "OK" in dsr("evidence", "verify", "--request", request_id).output  # the locked bucket itself

    # The audit bucket is Object Locked, so tampering is tried on a copy without Object Lock.
    s3, kms = local_cloud.clients.client("s3"), local_cloud.clients.client("kms")
    audit, copy = local_cloud.outputs["AuditBucketName"], f"audit-copy-{request_id[-12:]}"
    s3.create_bucket(Bucket=copy)
    listing = s3.list_objects_v2(Bucket=audit, Prefix=f"requests/{request_id}/")["Contents"]
    for obj in listing:
        s3.put_object(Bucket=copy, Key=obj["Key"], Body=s3.get_object(Bucket=audit, Key=obj["Key"])["Body"].read())
    signing_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    digest = write_digest(s3, kms, copy, signing_key, now=datetime.now(UTC) + SETTLE + timedelta(seconds=1))
    assert digest is not None

    intact = dsr("evidence", "verify", "--bucket", copy)
    assert "OK" in intact.output and f"{len(listing)} record(s), 1 digest(s)" in intact.output

    key = next(o["Key"] for o in listing if o["Key"].endswith("-verified.json"))
    body = json.loads(s3.get_object(Bucket=copy, Key=key)["Body"].read())
    s3.put_object(Bucket=copy, Key=key, Body=canonical({**body, "method": "email_code"}))
    tampered = dsr("evidence", "verify", "--bucket", copy, expect=1)
    assert "modified_record" in tampered.output and key in tampered.output
    assert "broken_chain" in tampered.output  # the next record no longer links to it
