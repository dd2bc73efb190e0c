"""The access archive's download on the local cloud: the emailed link goes to the intake API, which signs a
short-lived S3 URL when the requester follows it, so the link outlives the signer's session; it stops working
when its token expires (a simulated 8 days later) or the archive is gone."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests as http

from functions.privacy.evidence.verify import verify_bucket
from functions.privacy.request_workflow import exports
from local.api import LocalApi, rest_api_id_from_url
from tests.e2e.intake_support import ApiClient, read_code
from tests.e2e.rights_support import LINK_LINE, confirmation_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(local_cloud):
    rest_api = rest_api_id_from_url(local_cloud.outputs["ApiUrl"])
    with LocalApi(local_cloud.cloud.client, rest_api_id=rest_api, port=0) as served:
        yield served


def _signed_at(url: str) -> tuple[datetime, int]:
    query = parse_qs(urlsplit(url).query)
    return datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC), int(
        query["X-Amz-Expires"][0]
    )


def _tokens(local_cloud, request_id):
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    return table, table.get_item(Key={"request_id": request_id, "record": "request"})["Item"]["download_tokens"]


def test_the_emailed_link_downloads_the_archive_signed_at_download_time_until_the_token_expires(
    local_cloud, fresh_subject, api
):
    subject, outputs = fresh_subject("download"), local_cloud.outputs
    requester = ApiClient(api.url)
    filed = requester.file({"type": "access", "email": subject["email"]}).json()
    request_id = filed["request_id"]
    assert requester.verify(request_id, read_code(local_cloud.outbox, request_id)).status_code == 200
    assert requester.wait_for(request_id, filed["status_token"])["status"] == "completed"

    (text,) = confirmation_for(local_cloud.outbox, request_id)
    link = LINK_LINE.search(text).group(1)
    # The email carries a token for the API, not an S3 signature of the Notify function's session.
    assert link.startswith(f"{outputs['ApiUrl']}requests/{request_id}/export?token=") and "X-Amz-" not in link
    (token,) = _tokens(local_cloud, request_id)[1]
    assert parse_qs(urlsplit(link).query)["token"][0] not in json.dumps(token)  # only its digest is stored
    expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
    assert f"The link expires at {expires:%Y-%m-%d %H:%M} (UTC)." in text  # the token's real validity
    time.sleep(1.1)  # so a URL signed at download time is visibly later than anything signed with the email

    asked = datetime.now(UTC).replace(microsecond=0)
    redirect = http.get(api.local_link(link), allow_redirects=False, timeout=30)
    assert redirect.status_code == 302 and redirect.headers["Cache-Control"] == "no-store"
    signed_at, lifetime = _signed_at(redirect.headers["Location"])
    assert asked <= signed_at <= datetime.now(UTC) and lifetime <= 300
    archive = http.get(redirect.headers["Location"], timeout=30)
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        customers = json.loads(zipped.read("customers/records.json"))
        assert "manifest.json" in zipped.namelist()
    assert [(c["email"], c["customer_id"]) for c in customers] == [(subject["email"], subject["customer_id"])]

    # A second download signs again, at its own time: nothing signed earlier is reused.
    time.sleep(1.1)
    again = http.get(api.local_link(link), allow_redirects=False, timeout=30)
    assert again.status_code == 302 and _signed_at(again.headers["Location"])[0] > signed_at

    # 8 days later (the token's expiry moved 8 days into the past, as the clock would have moved forward).
    table, tokens = _tokens(local_cloud, request_id)
    earlier = (expires - timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    table.update_item(
        Key={"request_id": request_id, "record": "request"},
        UpdateExpression="SET download_tokens = :tokens",
        ExpressionAttributeValues={":tokens": [{**tokens[0], "expires_at": earlier}]},
    )
    late = http.get(api.local_link(link), allow_redirects=False, timeout=30)
    unknown = http.get(f"{api.url}/requests/req-00000000-0000-0000-0000-000000000000/export?token=x", timeout=30)
    assert (late.status_code, late.json()) == (404, unknown.json()) and "Location" not in late.headers

    # Each of the two downloads left its own chain record (the refused late one none): time and subject HMAC.
    s3, audit = local_cloud.clients.client("s3"), outputs["AuditBucketName"]
    chain = [o["Key"] for o in s3.list_objects_v2(Bucket=audit, Prefix=f"requests/{request_id}/chain/")["Contents"]]
    records = {k: json.loads(s3.get_object(Bucket=audit, Key=k)["Body"].read()) for k in chain}
    downloads = [r for r in records.values() if r["event"] == "export_downloaded"]
    (received,) = [r for r in records.values() if r["event"] == "received"]
    assert len(downloads) == 2 and downloads[0]["sequence"] < downloads[1]["sequence"]
    assert {d["subject"] for d in downloads} == {received["subject"]}
    assert downloads[0]["downloaded_at"] <= downloads[1]["downloaded_at"]
    assert asked <= datetime.fromisoformat(downloads[0]["downloaded_at"].replace("Z", "+00:00"))
    token_text = parse_qs(urlsplit(link).query)["token"][0]
    assert not [d for d in downloads if token_text in json.dumps(d) or "127.0.0.1" in json.dumps(d)]
    report = verify_bucket(s3, local_cloud.clients.client("kms"), audit, request_id)
    assert report.ok, report.problems


def test_a_good_link_to_an_archive_the_lifecycle_removed_is_410(local_cloud, fresh_subject, api):
    subject = fresh_subject("gone")
    requester = ApiClient(api.url)
    filed = requester.file({"type": "access", "email": subject["email"]}).json()
    request_id = filed["request_id"]
    assert requester.verify(request_id, read_code(local_cloud.outbox, request_id)).status_code == 200
    assert requester.wait_for(request_id, filed["status_token"])["status"] == "completed"
    (text,) = confirmation_for(local_cloud.outbox, request_id)
    link = LINK_LINE.search(text).group(1)
    s3, bucket = local_cloud.clients.client("s3"), local_cloud.outputs["ExportBucketName"]
    s3.delete_object(Bucket=bucket, Key=exports.archive_key(request_id))  # what export_expiry_days does

    answer = http.get(api.local_link(link), allow_redirects=False, timeout=30)

    assert answer.status_code == 410 and answer.json()["error"] == "archive_gone"
