"""Runs last in the e2e session (pytest collects files in name order): every object version written to the audit
bucket by any e2e test validates against docs/evidence.schema.json and carries none of the sample subjects' data.

Kept in its own module, named to sort last, so it sees what every other module wrote. Run alone it still checks the
session's own records (the sample data seed writes none; the digest run below writes at least one request's).
"""

from __future__ import annotations

import json

import pytest

from functions.privacy.requests.record import RequestType
from local.seed import SAMPLE_PEOPLE
from local.workflow import start_request, wait_for_execution
from tests.e2e.evidence_support import all_versions, digest_now, evidence_validator, read_version

pytestmark = pytest.mark.e2e


def test_every_object_in_the_audit_bucket_matches_the_evidence_schema(local_cloud, fresh_subject):
    clients, outputs = local_cloud.clients, local_cloud.outputs
    s3, bucket = clients.client("s3"), outputs["AuditBucketName"]
    # Make sure the session holds at least one request chain, store records and a digest, whatever ran before.
    _, arn = start_request(clients, outputs, RequestType.ERASURE, fresh_subject("schema")["email"])
    assert wait_for_execution(clients, arn)["status"] == "SUCCEEDED"
    digest_now(clients, outputs)

    validator = evidence_validator()
    problems: dict[str, list[str]] = {}
    kinds: dict[str, int] = {}
    versions = list(all_versions(s3, bucket))
    for version in versions:
        name = f"{version['Key']}?versionId={version['VersionId']}"
        raw = read_version(s3, bucket, version)
        try:
            record = json.loads(raw)
        except ValueError:
            problems[name] = ["not JSON"]
            continue
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(record)]
        if errors:
            problems[name] = errors[:5]
        kinds[record.get("kind", "?")] = kinds.get(record.get("kind", "?"), 0) + 1
        text = raw.decode("utf-8", "replace").lower()
        for person in SAMPLE_PEOPLE:
            assert not [value for value in (person[0].lower(), person[1]) if value in text], name
    assert not problems, problems
    assert kinds.get("request_event", 0) >= 2 and kinds.get("digest", 0) >= 1, kinds
