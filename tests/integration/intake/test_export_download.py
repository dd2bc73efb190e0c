"""The access archive's download through the intake API (moto): a download token minted with the confirmation,
stored as a digest only, answered with a redirect signed at request time for at most 300 s."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import requests as http

from functions.handlers import intake as api
from functions.privacy.core import clients as aws_clients
from functions.privacy.core.settings import NotifySettings
from functions.privacy.evidence import records as evidence
from functions.privacy.evidence.verify import verify_bucket
from functions.privacy.intake import downloads as archive_downloads
from functions.privacy.request_workflow import exports
from functions.privacy.request_workflow.confirmation import download_link
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestNotFound, RequestType
from tests.integration.conftest import AUDIT, EXPORTS
from tests.integration.intake import intake_support
from tests.integration.intake.test_intake_api import Context

ROOT = Path(__file__).resolve().parents[3]
API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/v1/"
SUBJECT_HMAC = "hmac-sha256:" + "ab" * 32
ARCHIVE = b"PK\x05\x06" + b"\x00" * 18  # an empty zip: the bytes are what the redirect must lead to


@pytest.fixture
def intake_engine(aws, engine_env, monkeypatch):
    monkeypatch.setattr(aws_clients, "_clients", {})
    yield from intake_support.intake_engine(aws, engine_env)


def _notify_settings(engine) -> NotifySettings:
    s = engine.settings
    return NotifySettings(
        REQUESTS_TABLE=s.REQUESTS_TABLE,
        HMAC_KEY_ID=s.HMAC_KEY_ID,
        SENDER_EMAIL=intake_support.SENDER,
        SES_CONFIGURATION_SET="dsr-transactional",
        DATAMAP_FILE=s.DATAMAP_FILE,
        API_URL=API_URL,
        EXPORT_LINK_SECONDS=7 * 24 * 3600,
    )


def _access_request_with_archive(engine) -> tuple[str, str]:
    """A completed access request whose archive is in the export bucket; returns (id, the emailed link)."""
    request_id = requests.create_request(
        engine.table, RequestType.ACCESS, {"email": "alice@example.com"}, attributes={"subject_hmac": SUBJECT_HMAC}
    ).request_id
    key = exports.archive_key(request_id)
    engine.clients.client("s3").put_object(Bucket=EXPORTS, Key=key, Body=ARCHIVE)
    link, _ = download_link(request_id, key, _notify_settings(engine), engine.clients, engine.table)
    return request_id, link


def _get(path: str, token: str | None) -> dict:
    """GET through the handler as API Gateway's proxy integration sends it (query string included)."""
    query = {"token": token} if token is not None else None
    event = {
        "resource": "/requests/{request_id}/export",
        "path": path,
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"request_id": path.split("/")[2]},
        "stageVariables": None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "resourcePath": "/requests/{request_id}/export",
            "httpMethod": "GET",
            "stage": "v1",
        },  # fmt: skip
        "body": None,
        "isBase64Encoded": False,
    }
    response = api.handler(event, Context())
    headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()} | (response.get("headers") or {})
    return {"status": response["statusCode"], "headers": headers, "body": json.loads(response["body"] or "null")}


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def test_the_link_names_the_api_and_the_record_keeps_only_a_digest_of_its_token(intake_engine):
    request_id, link = _access_request_with_archive(intake_engine)

    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{API_URL}requests/{request_id}/export"
    token = _token(link)
    assert len(token) >= 43  # 256 random bits
    item = intake_engine.item(request_id)
    (stored,) = item["download_tokens"]
    assert token not in json.dumps(item, default=str)  # only the digest is kept
    assert len(stored["digest"]) == 64 and stored["digest"] != item.get("status_token_digest")
    expires = datetime.fromisoformat(stored["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=7) - timedelta(minutes=1) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert item["export_archive_key"] == exports.archive_key(request_id)


def test_a_good_token_redirects_to_a_url_signed_now_for_at_most_300_seconds(intake_engine):
    request_id, link = _access_request_with_archive(intake_engine)
    before = datetime.now(UTC).replace(microsecond=0)

    answer = _get(f"/requests/{request_id}/export", _token(link))

    assert answer["status"] == 302 and answer["body"] is None
    assert answer["headers"]["Cache-Control"] == "no-store"
    signed = parse_qs(urlsplit(answer["headers"]["Location"]).query)
    assert int(signed["X-Amz-Expires"][0]) <= 300
    signed_at = datetime.strptime(signed["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed_at <= datetime.now(UTC)
    assert urlsplit(answer["headers"]["Location"]).path.endswith(f"/exports/{request_id}/archive.zip")
    with_s3 = http.get(answer["headers"]["Location"], timeout=30)  # moto's mock intercepts the signed GET
    assert with_s3.status_code == 200 and with_s3.content == ARCHIVE


def test_wrong_missing_or_foreign_tokens_get_the_same_404_as_an_unknown_id(intake_engine):
    request_id, link = _access_request_with_archive(intake_engine)
    other_id, other_link = _access_request_with_archive(intake_engine)
    not_found = {"error": "not_found", "message": "No such request.", "problems": []}

    answers = [
        _get(f"/requests/{request_id}/export", None),
        _get(f"/requests/{request_id}/export", "wrong"),
        _get(f"/requests/{request_id}/export", _token(other_link)),  # another request's token
        _get(f"/requests/req-{uuid.uuid4()}/export", _token(link)),
        _get("/requests/whatever/export", _token(link)),
    ]

    assert [(a["status"], a["body"]) for a in answers] == [(404, not_found)] * 5
    assert _get(f"/requests/{other_id}/export", _token(other_link))["status"] == 302  # that one still works


def test_a_token_stops_working_when_it_expires(intake_engine):
    request_id, link = _access_request_with_archive(intake_engine)
    settings, clients = intake_engine.settings, intake_engine.clients
    expires = datetime.fromisoformat(intake_engine.item(request_id)["download_tokens"][0]["expires_at"])

    just_before = expires - timedelta(seconds=1)
    assert archive_downloads.export_download_url(request_id, _token(link), settings, clients, now=just_before)
    for later in (expires, datetime.now(UTC) + timedelta(days=8)):
        with pytest.raises(RequestNotFound):
            archive_downloads.export_download_url(request_id, _token(link), settings, clients, now=later)


def test_an_archive_the_lifecycle_removed_is_410_with_a_clear_error(intake_engine):
    request_id, link = _access_request_with_archive(intake_engine)
    intake_engine.clients.client("s3").delete_object(Bucket=EXPORTS, Key=exports.archive_key(request_id))

    answer = _get(f"/requests/{request_id}/export", _token(link))

    assert answer["status"] == 410 and answer["body"]["error"] == "archive_gone"
    assert "no longer available" in answer["body"]["message"]
    assert "Location" not in answer["headers"]


def test_a_second_confirmation_adds_a_token_and_the_first_keeps_working(intake_engine):
    request_id, first = _access_request_with_archive(intake_engine)
    key = exports.archive_key(request_id)
    second, _ = download_link(request_id, key, _notify_settings(intake_engine), intake_engine.clients,
                              intake_engine.table)  # fmt: skip

    assert len(intake_engine.item(request_id)["download_tokens"]) == 2 and _token(first) != _token(second)
    assert _get(f"/requests/{request_id}/export", _token(first))["status"] == 302
    assert _get(f"/requests/{request_id}/export", _token(second))["status"] == 302


def test_each_download_writes_its_own_evidence_with_time_and_subject_hmac_only_and_the_verifier_accepts_it(
    intake_engine,
):
    request_id, link = _access_request_with_archive(intake_engine)
    s3 = intake_engine.clients.client("s3")
    evidence.append_request_event(s3, AUDIT, request_id, "received", _received())
    before = datetime.now(UTC).replace(microsecond=0)

    answers = [_get(f"/requests/{request_id}/export", _token(link)) for _ in range(3)]
    refused = _get(f"/requests/{request_id}/export", "wrong")  # no download, no record

    assert [a["status"] for a in answers] == [302] * 3 and refused["status"] == 404
    keys = intake_engine.evidence(request_id)
    assert keys[1:] == [f"requests/{request_id}/chain/{n:04d}-export_downloaded.json" for n in (1, 2, 3)]
    bodies = [s3.get_object(Bucket=AUDIT, Key=k)["Body"].read() for k in keys[1:]]
    records = [json.loads(b) for b in bodies]
    for record, body in zip(records, bodies, strict=True):
        assert record["event"] == "export_downloaded" and record["request_id"] == request_id
        assert record["subject"] == SUBJECT_HMAC and record["request_type"] == "access"
        assert before <= datetime.fromisoformat(record["downloaded_at"].replace("Z", "+00:00")) <= datetime.now(UTC)
        assert _token(link).encode() not in body
        # The whole record: the chain envelope, the time, the subject HMAC and the type; no IP, no token.
        envelope = {"schema", "recorded_at", "kind", "event", "request_id", "sequence", "prev_sha256"}
        assert set(record) == envelope | {"downloaded_at", "subject", "request_type"}
    versions = s3.list_object_versions(Bucket=AUDIT, Prefix=f"requests/{request_id}/chain/")["Versions"]
    assert sorted(v["Key"] for v in versions) == keys  # one version each: no download overwrote another's record
    validator = jsonschema.Draft202012Validator(json.loads((ROOT / "docs" / "evidence.schema.json").read_text()))
    assert [list(validator.iter_errors(r)) for r in records] == [[], [], []]
    report = verify_bucket(s3, intake_engine.clients.client("kms"), AUDIT, request_id)
    assert report.ok, report.problems
    assert report.records_checked == 4


def _received() -> dict:
    return {
        "request_type": "access",
        "jurisdiction": "GDPR",
        "subject": SUBJECT_HMAC,
        "received_at": "2030-01-01T00:00:00Z",
        "due_at": "2030-02-01T00:00:00Z",
    }
