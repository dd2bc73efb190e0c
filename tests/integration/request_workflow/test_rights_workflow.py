"""The rights workflow's use cases on moto without Step Functions: holds, corrections, export packaging, completion."""

from __future__ import annotations

import io
import json
import os
import zipfile
from decimal import Decimal

import boto3
import pytest

from functions.privacy.connectors.base import InvalidCorrection
from functions.privacy.core.clients import Clients
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.evidence import records as evidence
from functions.privacy.request_workflow import exports
from functions.privacy.request_workflow.completion import complete_request, completion_event
from functions.privacy.request_workflow.confirmation import notify_requester
from functions.privacy.request_workflow.downstream import completion_detail
from functions.privacy.request_workflow.planning import plan_request
from functions.privacy.request_workflow.store_tasks import erase_store, recheck_store
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestType
from functions.privacy.subjects import holds
from infra.config import ROOT
from local.inspect import holdings
from local.seed import seed_sample_subjects
from tests.integration.engine_settings import RightsWorkflowSettings

AUDIT, EXPORTS, HOLDS = "audit-bucket", "export-bucket", "holds"
MIB = 1024 * 1024


def _table(dynamodb, name, hash_key, range_key):
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": range_key, "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": hash_key, "AttributeType": "S"},
            {"AttributeName": range_key, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def engine(aws, tables, bucket, contact_list, suppression_list, datamap, tmp_path):
    dynamodb = aws.client("dynamodb")
    _table(dynamodb, "requests", "request_id", "record")
    _table(dynamodb, HOLDS, "subject_hmac", "hold_id")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=AUDIT, ObjectLockEnabledForBucket=True)
    s3.create_bucket(Bucket=EXPORTS)
    aws.client("sesv2").create_email_identity(EmailIdentity="privacy@example.com")
    key = aws.client("kms").create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]
    datamap_file = tmp_path / "datamap.json"
    datamap_file.write_text(datamap.model_dump_json(by_alias=True))
    env = {
        "REQUESTS_TABLE": "requests",
        "AUDIT_BUCKET": AUDIT,
        "EXPORT_BUCKET": EXPORTS,
        "HOLDS_TABLE": HOLDS,
        "HMAC_KEY_ID": key,
        "DATAMAP_FILE": str(datamap_file),
        "SENDER_EMAIL": "privacy@example.com",
        "SES_CONFIGURATION_SET": "dsr-transactional",
        "API_URL": "https://api.example/v1/",
    }
    with lambda_environment(env):
        yield RightsWorkflowSettings.load(), Clients(boto3.session.Session(region_name="us-east-1"))


def _request(clients, request_type, email, **attributes):
    return requests.create_request(
        clients.resource_table("requests"), request_type, {"email": email}, attributes=attributes or None
    ).request_id


def test_a_bad_correction_fails_planning_by_name_and_changes_nothing(engine, datamap):
    settings, clients = engine
    alice, *_ = seed_sample_subjects(datamap, clients)
    before = holdings(datamap, clients, alice)
    request_id = _request(
        clients, RequestType.RECTIFICATION, alice["email"], details={"corrections": {"name": "A", "card_last4": "1"}}
    )
    with pytest.raises(InvalidCorrection) as error:
        plan_request(request_id, settings, clients)
    assert "card_last4" in str(error.value) and "alice" not in str(error.value)
    assert holdings(datamap, clients, alice) == before
    assert requests.get_request(clients.resource_table("requests"), request_id).status == "verified"


def test_rectification_plans_tasks_only_for_stores_whose_attributes_change(engine, datamap):
    settings, clients = engine
    alice, *_ = seed_sample_subjects(datamap, clients)
    request_id = _request(
        clients, RequestType.RECTIFICATION, alice["email"], details={"corrections": {"phone": "+44 1"}}
    )
    plan = plan_request(request_id, settings, clients)
    assert plan["operation"] == "rectify" and not plan["recheck"]
    assert [t["store"] for t in plan["tasks"]] == ["customers"]


def test_a_held_store_gets_no_erase_task_and_the_hold_is_the_recorded_exception(engine, datamap):
    settings, clients = engine
    alice, *_ = seed_sample_subjects(datamap, clients)
    request_id = _request(clients, RequestType.ERASURE, alice["email"])
    first = plan_request(request_id, settings, clients)
    hold = holds.place_hold(
        clients.resource_table(HOLDS),
        subject_hmac=first["subject_hmac"],
        identifiers=alice,
        reason="Litigation L-42",
        placed_by="operator-1",
        category="support",
    )

    plan = plan_request(request_id, settings, clients)
    # Support requests live in the uploads bucket and the lake's ticket export: the hold covers both.
    assert {t["store"] for t in plan["tasks"]} == set(datamap.stores) - {"uploads", "lake_tickets"}
    held_by_store = {h["store"]: h for h in plan["held"]}
    assert set(held_by_store) == {"uploads", "lake_tickets"}
    held = held_by_store["uploads"]
    assert held == {
        "store": "uploads",
        "operation": "erase",
        "status": "held",
        "holds": [hold.hold_id],
        "exceptions": ["legal hold: Litigation L-42"],
    }
    outcomes = [erase_store(request_id, t["store"], settings, clients) for t in plan["tasks"]]
    rechecks = [recheck_store(request_id, t["store"], settings, clients) for t in plan["tasks"]]
    result = complete_request(
        request_id, outcomes, rechecks, settings, clients, held=plan["held"], execution=request_id
    )
    assert result["status"] == "partially_completed"
    after = holdings(datamap, clients, alice)
    assert after["uploads"]["personal"] == 4 and after["customers"]["found"] == 0
    assert after["lake_tickets"]["personal"] == 4  # the held rows stay in the shared files
    record = json.loads(clients.client("s3").get_object(Bucket=AUDIT, Key=result["evidence_key"])["Body"].read())
    assert record["stores"]["uploads"]["status"] == "held"
    assert "legal hold: Litigation L-42" in record["exceptions"]

    # Released and re-run (a new execution of the same request): the held store is erased, nothing twice.
    holds.release_hold(clients.resource_table(HOLDS), first["subject_hmac"], hold.hold_id, released_by="operator-1")
    rerun = plan_request(request_id, settings, clients)
    assert rerun["held"] == [] and len(rerun["tasks"]) == len(datamap.stores)
    outcomes = [erase_store(request_id, t["store"], settings, clients) for t in rerun["tasks"]]
    assert {o["store"]: o["deleted"] for o in outcomes}["customers"] == 1  # the recorded outcome, not a second delete
    rechecks = [recheck_store(request_id, t["store"], settings, clients) for t in rerun["tasks"]]
    execution = f"{request_id}--rerun-1"
    second = complete_request(request_id, outcomes, rechecks, settings, clients, execution=execution)
    assert second["status"] == "completed" and second["evidence_key"].endswith("-completed_rerun_1.json")
    assert holdings(datamap, clients, alice)["uploads"] == {"found": 0, "personal": 0}
    store_records = clients.client("s3").list_objects_v2(Bucket=AUDIT, Prefix=f"requests/{request_id}/stores/")
    assert len(store_records["Contents"]) == len(datamap.stores)  # one evidence record per store


def test_completion_event_names_are_stable_per_execution():
    assert completion_event("req-1", "req-1") == "completed"
    assert completion_event("req-1", None) == "completed"
    assert completion_event("req-1", "req-1--rerun-2") == "completed_rerun_2"


def test_sink_streams_records_and_packaging_builds_one_zip_with_a_manifest_in_bounded_parts(aws, engine, datamap):
    settings, clients = engine
    s3 = clients.client("s3")
    source = datamap.stores["uploads"].resource
    payload = os.urandom(11 * MIB)  # incompressible: the archive is at least this big
    version = s3.put_object(Bucket=source, Key="users/C1/support/big.bin", Body=payload)["VersionId"]
    sink = exports.S3ExportSink(s3, EXPORTS, "req-x", part_size=5 * MIB)
    records = ({"customer_id": "C1", "n": Decimal(i), "tags": {"a"}} for i in range(5000))
    path, count, size = sink.write_records("orders", records)
    assert (path, count) == ("orders/records.json", 5000) and size > 0
    assert sink.copy_object("uploads", source, "users/C1/support/big.bin", version, "support/big.bin") == 11 * MIB
    with pytest.raises(exports.InvalidArchivePath):
        sink.copy_object("uploads", source, "users/C1/support/big.bin", None, "../escape")
    uploads = []
    s3.meta.events.register(
        "provide-client-params.s3.UploadPart", lambda params, **_: uploads.append(_size(params["Body"]))
    )

    outcomes = [
        {"store": "orders", "status": "succeeded", "records": 5000, "objects": 0},
        {"store": "uploads", "status": "succeeded", "records": 0, "objects": 1},
    ]
    result = exports.package_export("req-x", outcomes, datamap, s3, EXPORTS, part_size=5 * MIB)

    assert result["archive_key"] == "exports/req-x/archive.zip" and result["files"] == 2
    assert result["upload_parts"] == len(uploads) == -(-result["archive_bytes"] // (5 * MIB)) >= 3
    assert max(uploads) == 5 * MIB  # memory: one part buffered at a time
    body = s3.get_object(Bucket=EXPORTS, Key=result["archive_key"])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert set(archive.namelist()) == {"manifest.json", "orders/records.json", "uploads/objects/support/big.bin"}
        assert archive.read("uploads/objects/support/big.bin") == payload
        exported = json.loads(archive.read("orders/records.json"))
        manifest = json.loads(archive.read("manifest.json"))
    assert len(exported) == 5000 and exported[7] == {"customer_id": "C1", "n": 7, "tags": ["a"]}
    assert manifest["stores"]["orders"]["records"] == 5000
    assert manifest["stores"]["uploads"]["files"] == ["uploads/objects/support/big.bin"]
    orders = manifest["categories"]["orders"]
    assert orders["legal_basis"] == "legal_obligation" and orders["retention_period"] == "P7Y"
    assert set(orders["recipients"]) == {"hosting_provider", "payment_processor"} and orders["purpose"]
    # Only the categories of stores that held the subject's data (no customers record in this test).
    assert set(manifest["categories"]) == {"orders", "payment", "support"}
    # Parts are gone; packaging again returns the archive as it is.
    assert "Contents" not in s3.list_objects_v2(Bucket=EXPORTS, Prefix="exports/req-x/parts/")
    again = exports.package_export("req-x", outcomes, datamap, s3, EXPORTS, part_size=5 * MIB)
    assert again["archive_bytes"] == len(body) and len(uploads) == result["upload_parts"]


def test_confirmation_says_what_was_done_and_kept_once_per_execution(engine, datamap):
    settings, clients = engine
    alice, *_ = seed_sample_subjects(datamap, clients)
    request_id = _request(clients, RequestType.ERASURE, alice["email"])
    outcomes = [
        {"store": "customers", "operation": "erase", "status": "succeeded", "deleted": 1},
        {"store": "orders", "operation": "erase", "status": "succeeded", "anonymised": 3, "exceptions": ["tax"]},
        {"store": "uploads", "operation": "erase", "status": "held", "exceptions": ["legal hold: L-1"]},
    ]
    sent = []
    sesv2 = clients.client("sesv2")
    sesv2.meta.events.register("provide-client-params.sesv2.SendEmail", lambda params, **_: sent.append(params))
    clients = _FixedClients(clients, sesv2)
    first = notify_requester(request_id, "partially_completed", outcomes, settings, clients, execution=request_id)
    again = notify_requester(request_id, "partially_completed", outcomes, settings, clients, execution=request_id)
    assert first["sent"] and not again["sent"] and len(sent) == 1
    text = sent[0]["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert sent[0]["Destination"]["ToAddresses"] == [alice["email"]]
    assert "customers" in text and "deleted 1 record" in text
    assert "removed your details from 3 records we must keep" in text and "kept because: tax" in text
    assert "uploads" in text and "kept: legal hold: L-1" in text


def test_event_detail_names_categories_and_recipients_not_people(datamap):
    detail = completion_detail(
        "req-1",
        "erasure",
        "hmac-sha256:ab",
        "completed",
        [
            {"store": "newsletter", "status": "succeeded", "found": 1, "deleted": 1},
            {"store": "customers", "status": "succeeded", "found": 0},  # held nothing: its recipients got nothing
            {"store": "uploads", "status": "failed"},
        ],
        datamap,
    )
    assert detail["categories"] == ["marketing"] and detail["recipients"] == ["email_service"]
    assert "@" not in json.dumps(detail)


def _size(body):
    return body.getbuffer().nbytes if isinstance(body, io.BytesIO) else len(body)


class _FixedClients:
    """Hands out one given client for a service (so a test's event hooks see the calls)."""

    def __init__(self, clients, sesv2):
        self._clients, self._sesv2 = clients, sesv2

    def client(self, service):
        return self._sesv2 if service == "sesv2" else self._clients.client(service)

    def resource_table(self, name):
        return self._clients.resource_table(name)


def test_rights_records_validate_against_the_evidence_schema_and_rerun_links_are_verified(engine, datamap):
    import jsonschema

    from functions.privacy.evidence.verify import verify_bucket
    from functions.privacy.request_workflow.store_tasks import run_store_task

    settings, clients = engine
    alice, bob, *_ = seed_sample_subjects(datamap, clients)
    s3 = clients.client("s3")
    for request_type, operation, details in (
        (RequestType.ACCESS, "export", None),
        (RequestType.RECTIFICATION, "rectify", {"corrections": {"name": "Alice Corrected"}}),
        (RequestType.RESTRICTION, "restrict", None),
        (RequestType.OPT_OUT, "opt_out", None),
    ):
        request_id = _request(clients, request_type, alice["email"], **({"details": details} if details else {}))
        plan = plan_request(request_id, settings, clients)
        outcomes = [run_store_task(request_id, t["store"], operation, settings, clients) for t in plan["tasks"]]
        export = exports.package_export(request_id, outcomes, datamap, s3, EXPORTS) if operation == "export" else None
        complete_request(request_id, outcomes, [], settings, clients, execution=request_id, export=export)
    # A held erasure, then its re-run: completed and completed_rerun_1 both link store records.
    erasure = _request(clients, RequestType.ERASURE, bob["email"])
    first = plan_request(erasure, settings, clients)
    hold = holds.place_hold(
        clients.resource_table(HOLDS), subject_hmac=first["subject_hmac"], identifiers=bob, reason="L-9",
        placed_by="dpo", store="orders",
    )  # fmt: skip
    plan = plan_request(erasure, settings, clients)
    outcomes = [erase_store(erasure, t["store"], settings, clients) for t in plan["tasks"]]
    complete_request(erasure, outcomes, [], settings, clients, held=plan["held"], execution=erasure)
    holds.release_hold(clients.resource_table(HOLDS), first["subject_hmac"], hold.hold_id, released_by="dpo")
    rerun = plan_request(erasure, settings, clients)
    outcomes = [erase_store(erasure, t["store"], settings, clients) for t in rerun["tasks"]]
    complete_request(erasure, outcomes, [], settings, clients, execution=f"{erasure}--rerun-1")

    schema = json.loads((ROOT / "docs" / "evidence.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    events = set()
    for obj in s3.list_objects_v2(Bucket=AUDIT)["Contents"]:
        record = json.loads(s3.get_object(Bucket=AUDIT, Key=obj["Key"])["Body"].read())
        assert not [e.message for e in validator.iter_errors(record)], obj["Key"]
        events.add(record["event"])
    assert {"store_export", "store_rectify", "store_restrict", "store_opt_out", "completed_rerun_1"} <= events
    # Removing the orders record, which only the re-run's completion names, is caught.
    orders = evidence.store_outcome_key(erasure, "orders", "erase")
    s3.put_bucket_versioning(Bucket=AUDIT, VersioningConfiguration={"Status": "Enabled"})
    s3.delete_object(Bucket=AUDIT, Key=orders)
    problems = {(p.kind, p.key) for p in verify_bucket(s3, clients.client("kms"), AUDIT, erasure).problems}
    # The verifier reads versions: hidden behind a delete marker the record is still there, and the marker is named.
    assert ("delete_marker", orders) in problems
    for version in s3.list_object_versions(Bucket=AUDIT, Prefix=orders)["Versions"]:
        s3.delete_object(Bucket=AUDIT, Key=orders, VersionId=version["VersionId"])
    problems = {(p.kind, p.key) for p in verify_bucket(s3, clients.client("kms"), AUDIT, erasure).problems}
    assert ("removed_record", orders) in problems
