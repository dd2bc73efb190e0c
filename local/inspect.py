"""Look at what the data stores hold about a subject, from outside the engine (demo and tests)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from functions.privacy.connectors.base import Subject
from functions.privacy.connectors.registry import connector_for
from functions.privacy.core.clients import Clients
from functions.privacy.datamap.model import DataMap, load_datamap, with_resource_names

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT, REGION = "123456789012", "us-east-1"


def local_datamap() -> DataMap:
    """The data map the local cloud was synthesized with (DATAMAP selects another)."""
    path = Path(os.environ.get("DATAMAP", ROOT / "datamap.yaml"))
    return with_resource_names(load_datamap(path), ACCOUNT, os.environ.get("AWS_DEFAULT_REGION", REGION))


def _plain_digest(text: str) -> str:
    # Inspection never writes evidence; an unkeyed digest is enough to count records.
    return hashlib.sha256(text.encode()).hexdigest()


def holdings(datamap: DataMap, clients: Clients, identifiers: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per store: records found for the subject and how many still hold personal data."""
    subject = Subject(identifiers)
    result = {}
    for name, store in datamap.stores.items():
        connector = connector_for(name, store, clients, _plain_digest, _plain_digest, datamap)
        found = connector.find(subject)
        result[name] = {"found": found.found, "personal": found.personal}
    return result
