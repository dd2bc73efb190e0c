"""Issue 15 end to end: erasure and access reach the rows of shared data-lake files (Parquet, JSON Lines, CSV)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import zipfile
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests as http

from functions.privacy.datamap.model import StoreKind
from functions.privacy.requests.record import RequestType
from local.api import LocalApi, rest_api_id_from_url
from local.inspect import holdings
from local.workflow import start_request, wait_for_execution
from tests.e2e.rights_support import confirmation_for

pytestmark = pytest.mark.e2e

LINK = "/export?token="


def _rows(body: bytes, file_format: str) -> list[dict[str, Any]]:
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    if file_format == "parquet":
        return pq.read_table(io.BytesIO(body)).to_pylist()
    if file_format == "jsonl":
        return [json.loads(line) for line in body.decode().splitlines() if line]
    return list(csv.DictReader(io.StringIO(body.decode())))


def _leaves(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_leaves(v) for v in value.values())) if value else set()
    return {str(value)}


def _lake_versions(local_cloud) -> dict[str, list[tuple[str, str, list[dict[str, Any]]]]]:
    """Per dataset store: (key, version id, rows) of every version of every file under its prefix."""
    s3 = local_cloud.clients.client("s3")
    found: dict[str, list[tuple[str, str, list[dict[str, Any]]]]] = {}
    for name, store in local_cloud.datamap.stores_of_kind(StoreKind.S3_DATASET).items():
        assert store.dataset is not None
        found[name] = []
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=store.resource, Prefix=store.dataset.prefix)
        for page in pages:
            for version in page.get("Versions", []):
                body = s3.get_object(Bucket=store.resource, Key=version["Key"], VersionId=version["VersionId"])
                rows = _rows(body["Body"].read(), store.dataset.format)
                found[name].append((version["Key"], version["VersionId"], rows))
    return found


def _values(person: dict[str, str]) -> set[str]:
    return {person["email"], person["customer_id"]}


def _holding(versions, person) -> int:
    return sum(1 for _key, _version, rows in versions for row in rows if _leaves(row) & _values(person))


def test_erasure_removes_the_subjects_rows_from_every_version_of_every_lake_file(local_cloud, lake_people):
    datamap, clients, outputs = local_cloud.datamap, local_cloud.clients, local_cloud.outputs
    subject, bystander = lake_people("lakeerase", "lakebystander")
    before = _lake_versions(local_cloud)
    lake = sorted(before)
    assert len(lake) >= 2 and all(_holding(before[name], subject) == 2 for name in lake)
    bystander_rows = {name: _holding(before[name], bystander) for name in lake}
    other_rows = {name: sum(len(rows) for *_, rows in before[name]) for name in lake}

    request_id, arn = start_request(clients, outputs, RequestType.ERASURE, subject["email"])
    execution = wait_for_execution(clients, arn)

    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"])["status"] == "completed"
    after = _lake_versions(local_cloud)
    for name in lake:
        assert _holding(after[name], subject) == 0, name  # no version of any file holds the subject
        assert _holding(after[name], bystander) == bystander_rows[name], name  # sharing the file, kept
        assert sum(len(rows) for *_, rows in after[name]) == other_rows[name] - 2, name
    assert all(holdings(datamap, clients, subject)[name]["found"] == 0 for name in lake)
    parquet = next(n for n in lake if datamap.stores[n].dataset.format == "parquet")  # type: ignore[union-attr]
    tagged = [key for key, *_ in after[parquet] if key.split("/")[-1].startswith(subject["customer_id"].lower())]
    (key,) = tagged
    raw = clients.client("s3").get_object(Bucket=datamap.stores[parquet].resource, Key=key)["Body"].read()
    column = pq.ParquetFile(io.BytesIO(raw)).metadata.row_group(0).column(0)
    assert column.compression == "ZSTD"  # the codec kept by the rewrite

    evidence_raw = _evidence(local_cloud, json.loads(execution["output"])["evidence_key"])
    evidence = json.loads(evidence_raw)
    for name in lake:
        outcome = evidence["stores"][name]
        assert outcome["status"] == "succeeded" and outcome["deleted"] == 2, outcome
        # The per-object evidence is in the store's record, which the completion record pins by digest.
        assert "objects" not in outcome
        record_raw = _evidence(local_cloud, outcome["record"])
        assert hashlib.sha256(record_raw.encode()).hexdigest() == outcome["record_sha256"]
        (obj,) = [o for o in json.loads(record_raw)["outcome"]["objects"] if o["status"] == "rewritten"]
        assert subject["email"] not in record_raw and subject["customer_id"] not in record_raw
        assert obj["rows_before"] - obj["rows_after"] == 2 and obj["source_version_id"] != obj["new_version_id"]
        assert obj["new_sha256"] and obj["schema_hash"]
    assert not _values(subject) & set(evidence_raw.replace('"', " ").split())
    assert subject["email"] not in evidence_raw and subject["customer_id"] not in evidence_raw


def _evidence(local_cloud, key: str) -> str:
    s3 = local_cloud.clients.client("s3")
    return s3.get_object(Bucket=local_cloud.outputs["AuditBucketName"], Key=key)["Body"].read().decode()


def test_access_archive_holds_the_subjects_lake_rows_and_no_one_elses(local_cloud, lake_people):
    clients, outputs, datamap = local_cloud.clients, local_cloud.outputs, local_cloud.datamap
    subject, bystander = lake_people("lakeaccess", "lakeneighbour")

    request_id, arn = start_request(clients, outputs, RequestType.ACCESS, subject["email"])
    execution = wait_for_execution(clients, arn)

    assert execution["status"] == "SUCCEEDED", execution
    (text,) = confirmation_for(local_cloud.outbox, request_id)
    link = next(word for word in text.split() if LINK in word)
    with LocalApi(local_cloud.cloud.client, rest_api_id=rest_api_id_from_url(outputs["ApiUrl"]), port=0) as api:
        response = http.get(api.local_link(link), timeout=30)
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        lake = {
            name: [
                row for part in sorted(names) if part.startswith(f"{name}/") for row in json.loads(archive.read(part))
            ]
            for name in datamap.stores_of_kind(StoreKind.S3_DATASET)
        }
        everything = b"".join(archive.read(n) for n in names)
    for name, rows in lake.items():
        assert len(rows) == 2, name  # the subject's two rows in that store's files
        assert all(_leaves(row) & _values(subject) for row in rows), name
        assert manifest["stores"][name]["records"] == 2
    assert bystander["email"].encode() not in everything and bystander["customer_id"].encode() not in everything
    assert {"location", "support"} <= set(manifest["categories"])
