"""Every record the engine's own writers produce (store tasks, completion, rejection, operator actions, digests)
validates against docs/evidence.schema.json (moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import jsonschema

from functions.privacy.core.clients import Clients
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.evidence import records as evidence
from functions.privacy.evidence.digests import SETTLE, write_digest
from functions.privacy.intake.filing import reject_unverified
from functions.privacy.request_workflow.completion import complete_request
from functions.privacy.request_workflow.planning import plan_request
from functions.privacy.request_workflow.store_tasks import erase_store, recheck_store
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestType
from local.seed import seed_sample_subjects
from tests.integration.engine_settings import ErasureSettings

SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "evidence.schema.json"


def test_records_written_by_the_engine_validate_against_the_schema(
    engine_env, tables, bucket, contact_list, suppression_list, datamap
):
    with lambda_environment(engine_env):
        settings, clients = ErasureSettings.load(), Clients(boto3.session.Session(region_name="us-east-1"))
        alice = seed_sample_subjects(datamap, clients, count=1)[0]
        table = clients.resource_table(settings.REQUESTS_TABLE)
        erased = requests.create_request(table, RequestType.ERASURE, {"email": alice["email"]})
        tasks = plan_request(erased.request_id, settings, clients)["tasks"]
        outcomes = [erase_store(erased.request_id, t["store"], settings, clients) for t in tasks]
        rechecks = [recheck_store(erased.request_id, t["store"], settings, clients) for t in tasks]
        complete_request(erased.request_id, outcomes, rechecks, settings, clients)
        unverified = requests.create_request(table, RequestType.ACCESS, {"email": "nobody@example.org"})
        reject_unverified(unverified.request_id, "States.Timeout", settings, clients)
    s3, kms = clients.client("s3"), clients.client("kms")
    evidence.write_operator_action(
        s3, settings.AUDIT_BUCKET, "hold_placed", "hold-1", {"subject": "hmac-sha256:" + "0" * 64, "operator": "dpo"}
    )
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    assert write_digest(s3, kms, settings.AUDIT_BUCKET, signing, now=datetime.now(UTC) + SETTLE + timedelta(seconds=1))

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    kinds = []
    for version in s3.list_object_versions(Bucket=settings.AUDIT_BUCKET)["Versions"]:
        body = s3.get_object(Bucket=settings.AUDIT_BUCKET, Key=version["Key"], VersionId=version["VersionId"])["Body"]
        record = json.loads(body.read())
        assert not [e.message for e in validator.iter_errors(record)], version["Key"]
        kinds.append(record.get("event") or record["kind"])
    assert sorted(set(kinds)) == ["completed", "digest", "operator_action", "rejected_unverified", "store_erased"]
