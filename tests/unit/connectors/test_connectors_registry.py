"""connector_for picks the connector by store kind and hands it the right client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from functions.privacy.connectors.base import StoreMisconfigured
from functions.privacy.connectors.dynamodb import DynamoDBConnector
from functions.privacy.connectors.registry import connector_for
from functions.privacy.connectors.s3 import S3Connector
from functions.privacy.connectors.ses_contact_list import SesContactListConnector
from functions.privacy.connectors.ses_suppression import SesSuppressionConnector
from functions.privacy.datamap.model import load_datamap

DATAMAP = load_datamap(Path(__file__).resolve().parents[3] / "datamap.yaml")


class RecordingClients:
    def __init__(self) -> None:
        self.services: list[str] = []

    def client(self, service: str) -> Any:
        self.services.append(service)
        return object()


@pytest.mark.parametrize(
    ("store", "kind", "service"),
    [
        ("customers", DynamoDBConnector, "dynamodb"),
        ("orders", DynamoDBConnector, "dynamodb"),
        ("uploads", S3Connector, "s3"),
        ("newsletter", SesContactListConnector, "sesv2"),
        ("suppression", SesSuppressionConnector, "sesv2"),
    ],
)
def test_each_sample_store_gets_its_connector(store, kind, service):
    clients = RecordingClients()
    connector = connector_for(store, DATAMAP.stores[store], clients, str, str, DATAMAP)
    assert isinstance(connector, kind)
    assert clients.services == [service]


def test_a_store_of_another_kind_is_refused_by_the_connector():
    store = DATAMAP.stores["newsletter"]
    with pytest.raises(StoreMisconfigured, match="store newsletter is not a ses_suppression store"):
        SesSuppressionConnector("newsletter", store, object(), str, ".*")
