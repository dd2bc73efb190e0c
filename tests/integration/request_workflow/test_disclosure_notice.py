"""disclosure_notice (Cal. Civ. Code 1798.83) through plan, completion and notify on moto: no store touched,
the notice and the evidence name the flagged categories, and a map with none flagged says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import jsonschema
import pytest

from functions.privacy.core.clients import Clients
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.datamap.model import DataMap, Recipient
from functions.privacy.evidence import records as evidence
from functions.privacy.request_workflow.completion import complete_request
from functions.privacy.request_workflow.confirmation import notify_requester
from functions.privacy.request_workflow.planning import plan_request
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import Jurisdiction, RequestType
from infra.config import ROOT
from local.inspect import holdings
from local.seed import seed_sample_subjects
from tests.integration.engine_settings import RightsWorkflowSettings

AUDIT, EXPORTS, HOLDS = "audit-bucket", "export-bucket", "holds"


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


def _unflagged(datamap: DataMap) -> DataMap:
    recipients = {name: Recipient(description=r.description) for name, r in datamap.recipients.items()}
    return datamap.model_copy(update={"recipients": recipients})


@pytest.fixture(params=["flagged", "none_flagged"])
def engine(request, notify_env, tables, bucket, contact_list, suppression_list, datamap, tmp_path: Path):
    used = datamap if request.param == "flagged" else _unflagged(datamap)
    datamap_file = tmp_path / "datamap.json"
    datamap_file.write_text(used.model_dump_json(by_alias=True))
    env = {**notify_env, "DATAMAP_FILE": str(datamap_file)}
    with lambda_environment(env):
        yield request.param, RightsWorkflowSettings.load(), Clients(boto3.session.Session(region_name="us-east-1"))


class _Recording(Clients):
    """The engine's clients, with one sesv2 client whose SendEmail calls the test reads."""

    def __init__(self, clients: Clients) -> None:
        super().__init__()
        self._clients, self.sent = clients, []
        self._sesv2 = clients.client("sesv2")
        self._sesv2.meta.events.register(
            "provide-client-params.sesv2.SendEmail", lambda params, **_: self.sent.append(params)
        )

    def client(self, service):
        return self._sesv2 if service == "sesv2" else self._clients.client(service)

    def resource_table(self, name):
        return self._clients.resource_table(name)


def test_disclosure_notice_names_the_flagged_categories_and_touches_no_store(engine, datamap):
    case, settings, clients = engine
    alice, *_ = seed_sample_subjects(datamap, clients)
    before = holdings(datamap, clients, alice)
    record = requests.create_request(
        clients.resource_table("requests"),
        RequestType.DISCLOSURE_NOTICE,
        {"email": alice["email"]},
        Jurisdiction.CCPA,
        received=datetime(2026, 3, 2, tzinfo=UTC),
    )
    recording = _Recording(clients)

    plan = plan_request(record.request_id, settings, recording)
    result = complete_request(record.request_id, [], [], settings, recording, execution=record.request_id)
    notified = notify_requester(
        record.request_id, result["status"], [], settings, recording, execution=record.request_id
    )

    assert plan["tasks"] == [] and plan["recheck"] is False
    assert result["status"] == "completed" and notified["sent"]
    assert holdings(datamap, clients, alice) == before  # nothing read into, nothing changed
    body, _ = evidence.read_record(clients.client("s3"), AUDIT, result["evidence_key"])
    schema = json.loads((ROOT / "docs" / "evidence.schema.json").read_text())
    jsonschema.validate(body, schema)
    [mail] = recording.sent
    text = mail["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert mail["Destination"]["ToAddresses"] == [alice["email"]]
    assert "during 2025" in text
    if case == "flagged":
        assert body["disclosure_notice"] == {"year": 2025, "categories": ["contact"], "recipients": ["affiliates"]}
        listed = [line for line in text.splitlines() if line.startswith("- ")]
        assert listed == [
            "- contact: Name, postal address, telephone number, email address "
            "(shared with: Corporate affiliates and subsidiaries)"
        ]
    else:
        assert body["disclosure_notice"] == {"year": 2025, "categories": [], "recipients": []}
        assert "we did not share any category of personal information" in text
        assert not [line for line in text.splitlines() if line.startswith("- ")]
    assert body["stores"] == {} and alice["email"] not in json.dumps(body)
