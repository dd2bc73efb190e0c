"""disclosure_notice end to end on the local cloud: filed through the API by a California resident, verified
with the mailed code; the notice lists exactly the categories the data map's direct-marketing recipients get."""

from __future__ import annotations

import json
import time

import pytest

from local.inspect import holdings
from tests.e2e import intake_support as support
from tests.e2e.intake_support import ApiClient, emails_for, read_code

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def intake(local_cloud):
    with support.serve_api(local_cloud) as served:
        yield served


@pytest.fixture(scope="module")
def api(intake) -> ApiClient:
    return ApiClient(intake.url)


def _notice(outbox, request_id: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        for _, text in emails_for(outbox, request_id):
            if "direct marketing" in text and "Verification code" not in text:
                return text
        if time.monotonic() > deadline:
            raise TimeoutError(f"no disclosure notice for {request_id}")
        time.sleep(0.2)


def test_a_californian_gets_the_categories_shared_for_direct_marketing_and_no_store_changes(
    api, intake, local_cloud, fresh_subject
):
    person = fresh_subject("cal")
    before = holdings(local_cloud.datamap, local_cloud.clients, person)
    refused = api.file({"type": "disclosure_notice", "email": person["email"], "jurisdiction": "GDPR"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "not_in_jurisdiction" and "CCPA" in refused.json()["message"]

    filed = api.file({"type": "disclosure_notice", "email": person["email"], "jurisdiction": "CCPA"})
    assert filed.status_code == 202, filed.text
    request = filed.json()
    verified = api.verify(request["request_id"], read_code(intake.outbox, request["request_id"]))
    assert verified.status_code == 200, verified.text
    final = api.wait_for(request["request_id"], request["status_token"])

    assert final["status"] == "completed", final
    flagged = local_cloud.datamap.direct_marketing_categories()
    assert list(flagged) == ["contact"]  # the sample map: affiliates may market to the contact details they get
    text = _notice(intake.outbox, request["request_id"])
    listed = [line[2:].split(":", 1)[0] for line in text.splitlines() if line.startswith("- ")]
    assert listed == list(flagged)
    assert local_cloud.datamap.categories["contact"].description in text
    assert holdings(local_cloud.datamap, local_cloud.clients, person) == before
    s3 = intake.client("s3")
    body = s3.get_object(Bucket=intake.outputs["AuditBucketName"], Key=final["result"]["evidence_key"])["Body"].read()
    record = json.loads(body)
    assert record["request_type"] == "disclosure_notice" and record["stores"] == {}
    assert record["disclosure_notice"]["categories"] == ["contact"]
    assert person["email"] not in body.decode()
