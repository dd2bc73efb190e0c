"""Chooses the connector for a store by its kind, wiring in the client and keyed functions it needs."""

from __future__ import annotations

import re
from typing import Any, Protocol

from functions.privacy.connectors.base import Connector, KeyDigester, KeyedHasher, StoreMisconfigured
from functions.privacy.connectors.dynamodb import DynamoDBConnector
from functions.privacy.connectors.s3 import S3Connector
from functions.privacy.connectors.ses_contact_list import SesContactListConnector
from functions.privacy.connectors.ses_suppression import SesSuppressionConnector
from functions.privacy.datamap.model import DataMap, Store, StoreKind


class ClientProvider(Protocol):
    """Gives boto3 clients by service name (core.clients.Clients in Lambdas, test doubles in tests)."""

    def client(self, service: str) -> Any: ...


def connector_for(
    store_name: str,
    store: Store,
    clients: ClientProvider,
    digest: KeyDigester,
    keyed_hash: KeyedHasher,
    datamap: DataMap,
) -> Connector:
    """The connector for one store of the data map (``datamap`` supplies the identifier patterns)."""
    identifier = datamap.identifiers[store.lookup.identifier]
    pattern, normalisation = re.compile(identifier.pattern), identifier.normalisation
    if store.kind is StoreKind.DYNAMODB:
        return DynamoDBConnector(
            store_name, store, clients.client("dynamodb"), digest, keyed_hash, pattern, normalisation=normalisation
        )
    if store.kind is StoreKind.S3:
        return S3Connector(store_name, store, clients.client("s3"), digest, pattern, normalisation=normalisation)
    if store.kind is StoreKind.S3_DATASET:
        # Imported here: it needs pyarrow, which only the dataset store-task function (python3.12) ships; the
        # other functions import this module and run python3.11 without it.
        from functions.privacy.connectors.s3_dataset import S3DatasetConnector

        # Rows are found by every identifier the dataset has a column for, each with its own pattern.
        return S3DatasetConnector(store_name, store, clients.client("s3"), digest, keyed_hash, datamap.identifiers)
    if store.kind is StoreKind.SES_CONTACT_LIST:
        return SesContactListConnector(store_name, store, clients.client("sesv2"), digest, pattern, normalisation)
    if store.kind is StoreKind.SES_SUPPRESSION:
        return SesSuppressionConnector(store_name, store, clients.client("sesv2"), digest, pattern, normalisation)
    raise StoreMisconfigured(f"store {store_name}: no connector for kind {store.kind.value} yet")
