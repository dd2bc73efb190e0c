"""Case 6: a re-run of a partially completed access request serves the whole archive (every store, first run and
re-run), under the same key the first link points at; a part lost before then is read again, never left out."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from functions.privacy.request_workflow import exports
from functions.privacy.request_workflow.completion import complete_request
from functions.privacy.request_workflow.planning import plan_request
from functions.privacy.request_workflow.store_tasks import run_store_task
from functions.privacy.requests.record import RequestType
from local.seed import seed_sample_subjects
from tests.integration.request_workflow import test_rights_workflow as rights

EXPORTS, engine = rights.EXPORTS, rights.engine  # the same moto engine fixture as the other rights tests
FAULTED = "orders"


def _first_run_with_one_store_faulted(settings, clients, request_id):
    """What ActOnStores records when a store still fails after its retries: the error name only."""
    plan = plan_request(request_id, settings, clients)
    outcomes = [
        {"store": t["store"], "operation": "export", "status": "failed", "error": "StoreUnavailable"}
        if t["store"] == FAULTED
        else run_store_task(request_id, t["store"], "export", settings, clients)
        for t in plan["tasks"]
    ]
    return plan, outcomes


def _rerun(settings, clients, request_id):
    plan = plan_request(request_id, settings, clients)
    return [run_store_task(request_id, t["store"], "export", settings, clients) for t in plan["tasks"]]


def _archive(s3, key):
    obj = s3.get_object(Bucket=EXPORTS, Key=key)
    with zipfile.ZipFile(io.BytesIO(obj["Body"].read())) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return obj["Metadata"], files


def _stores_in(files):
    return {name.split("/", 1)[0] for name in files if name != exports.MANIFEST_NAME}


def _parts(s3, request_id):
    listing = s3.list_objects_v2(Bucket=EXPORTS, Prefix=exports.parts_prefix(request_id))
    return [o["Key"] for o in listing.get("Contents", [])]


def test_a_rerun_of_a_partially_completed_access_request_archives_every_store(engine, datamap):
    settings, clients = engine
    alice, *_ = seed_sample_subjects(datamap, clients)
    s3 = clients.client("s3")
    request_id = rights._request(clients, RequestType.ACCESS, alice["email"])
    _, outcomes = _first_run_with_one_store_faulted(settings, clients, request_id)
    with_data = {o["store"] for o in outcomes if o.get("records") or o.get("objects")}
    assert len(with_data) >= 2 and FAULTED not in with_data

    first = exports.package_export(request_id, outcomes, datamap, s3, EXPORTS)
    result = complete_request(request_id, outcomes, [], settings, clients, execution=request_id, export=first)
    assert result["status"] == "partially_completed"
    metadata, files = _archive(s3, first["archive_key"])
    assert metadata[exports.COMPLETE_METADATA] == "false" and first["complete"] is False
    assert _stores_in(files) == with_data
    # The parts wait for the re-run.
    assert {key.split("/")[3] for key in _parts(s3, request_id)} == with_data

    outcomes = _rerun(settings, clients, request_id)
    assert all(o["status"] == "succeeded" for o in outcomes)
    again = exports.package_export(request_id, outcomes, datamap, s3, EXPORTS)
    rerun = complete_request(
        request_id, outcomes, [], settings, clients, execution=f"{request_id}--rerun-1", export=again
    )

    assert rerun["status"] == "completed" and again["archive_key"] == first["archive_key"]
    metadata, files = _archive(s3, again["archive_key"])
    assert metadata[exports.COMPLETE_METADATA] == "true" and again["complete"] is True
    # Every store that holds Alice's data, the faulted one included, and her orders' content itself.
    assert _stores_in(files) == with_data | {FAULTED}
    orders = json.loads(files[f"{FAULTED}/records.json"])
    assert orders and all(o["customer_id"] == alice["customer_id"] for o in orders)
    manifest = json.loads(files[exports.MANIFEST_NAME])
    assert all(manifest["stores"][name]["status"] == "succeeded" for name in with_data | {FAULTED})
    assert _parts(s3, request_id) == []  # complete: the copies are gone
    # A retried packaging finds the complete archive and returns it as it is.
    retried = exports.package_export(request_id, outcomes, datamap, s3, EXPORTS)
    assert retried["complete"] is True and retried["archive_bytes"] == again["archive_bytes"]
    # Once the archive is complete a further store task has nothing to re-read: no new copy appears.
    run_store_task(request_id, "customers", "export", settings, clients)
    assert _parts(s3, request_id) == []


def test_a_part_lost_before_the_archive_completed_is_read_again_on_rerun(engine, datamap):
    settings, clients = engine
    alice, *_ = seed_sample_subjects(datamap, clients)
    s3 = clients.client("s3")
    request_id = rights._request(clients, RequestType.ACCESS, alice["email"])
    _, outcomes = _first_run_with_one_store_faulted(settings, clients, request_id)
    exports.package_export(request_id, outcomes, datamap, s3, EXPORTS)
    lost = exports.store_parts_prefix(request_id, "customers")
    expired = [key for key in _parts(s3, request_id) if key.startswith(lost)]
    assert expired
    for key in expired:  # what the bucket's lifecycle does to an old part
        s3.delete_object(Bucket=EXPORTS, Key=key)

    # Packaging never builds an archive without a store that had data.
    with pytest.raises(exports.ExportPartsMissing, match="customers") as raised:
        exports.package_export(request_id, outcomes, datamap, s3, EXPORTS)
    assert alice["email"] not in str(raised.value)

    outcomes = _rerun(settings, clients, request_id)
    again = exports.package_export(request_id, outcomes, datamap, s3, EXPORTS)
    _, files = _archive(s3, again["archive_key"])
    assert again["complete"] is True and {"customers", FAULTED} <= _stores_in(files)
    (customer,) = json.loads(files["customers/records.json"])
    assert customer["email"] == alice["email"]
