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


def test_no_handler_imports_pyarrow_which_only_the_dataset_function_ships() -> None:
    # Every function but the dataset store task runs python3.11 without the pyarrow layer: importing it
    # there (say through the registry) would fail every invocation on AWS, though the venv has it.
    import subprocess
    import sys
    from pathlib import Path

    handlers = sorted(p.stem for p in (Path(__file__).parents[3] / "functions" / "handlers").glob("*.py"))
    code = "import importlib, sys\n" + "".join(
        f"importlib.import_module('functions.handlers.{name}')\n" for name in handlers if name != "__init__"
    )
    code += "print('pyarrow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
