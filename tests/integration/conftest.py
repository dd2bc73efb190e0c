"""Fixtures for connector tests: moto-backed clients and the sample data map's stores, created in-process."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.privacy.datamap.model import DataMap, StoreKind, load_datamap, with_resource_names

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
AUDIT = "audit-bucket"
EXPORTS = "export-bucket"
HOLDS = "holds"
SAMPLE = Path(__file__).resolve().parents[2] / "datamap.yaml"


class MotoClients:
    """One client per service, so hooks a test registers see every call a connector makes."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]


class CallLog:
    """Records the parameters of every call to one operation (moto accepts oversized batches, so we count)."""

    def __init__(self, client: Any, operation: str) -> None:
        self.calls: list[dict[str, Any]] = []
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"provide-client-params.{service}.{operation}", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(params)


@pytest.fixture
def calls_to() -> Callable[[Any, str], list[dict[str, Any]]]:
    """``calls_to(client, "BatchWriteItem")``: a live list of the params of each such call."""
    return lambda client, operation: CallLog(client, operation).calls


@pytest.fixture
def any_calls() -> Callable[[Any], list[str]]:
    """``any_calls(client)``: a live list of the operation names of every call made through the client."""

    def register(client: Any) -> list[str]:
        names: list[str] = []
        client.meta.events.register("before-call", lambda model, **_: names.append(model.name))
        return names

    return register


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoClients]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield MotoClients()


@pytest.fixture(scope="session")
def datamap() -> DataMap:
    return with_resource_names(load_datamap(SAMPLE), ACCOUNT, REGION)


@pytest.fixture
def tables(aws: MotoClients, datamap: DataMap) -> Any:
    """The sample map's tables, created as the sample data-stores stack does (string keys, KEYS_ONLY GSIs)."""
    dynamodb = aws.client("dynamodb")
    for store in datamap.stores.values():
        if store.table is None:
            continue
        keys = [(store.table.partition_key, "HASH")] + (
            [(store.table.sort_key, "RANGE")] if store.table.sort_key else []
        )
        attributes = {name for name, _ in keys} | set(store.table.indexes.values())
        params: dict[str, Any] = {
            "TableName": store.resource,
            "KeySchema": [{"AttributeName": n, "KeyType": t} for n, t in keys],
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if store.table.indexes:
            params["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index,
                    "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
                for index, attribute in store.table.indexes.items()
            ]
        dynamodb.create_table(**params)
    return dynamodb


@pytest.fixture
def bucket(aws: MotoClients, datamap: DataMap) -> str:
    """The sample uploads bucket, versioned like the sample stack's (and the sample lake bucket beside it)."""
    name = datamap.stores["uploads"].resource
    s3 = aws.client("s3")
    lakes = {store.resource for store in datamap.stores_of_kind(StoreKind.S3_DATASET).values()}
    for bucket_name in [name, *sorted(lakes)]:
        s3.create_bucket(Bucket=bucket_name)
        s3.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def contact_list(aws: MotoClients, datamap: DataMap) -> str:
    store = datamap.stores["newsletter"]
    aws.client("sesv2").create_contact_list(
        ContactListName=store.resource,
        Topics=[{"TopicName": t, "DisplayName": t, "DefaultSubscriptionStatus": "OPT_OUT"} for t in store.topics],
    )
    return store.resource


@pytest.fixture
def suppression_list(aws: MotoClients, tmp_path: Path) -> Iterator[None]:
    """The SESv2 account suppression-list calls, which moto lacks, served by the local cloud's adapters."""
    from local import adapters

    if adapters._installed.users:  # a local cloud in this process already serves them (and owns the state dir)
        yield
        return
    adapters.install(tmp_path / "local-state")
    try:
        yield
    finally:
        adapters.uninstall()


@pytest.fixture
def digest() -> Callable[[str], str]:
    """A transparent stand-in for the KMS-derived key digester, so tests see exactly what was digested."""
    return lambda text: "digest:" + text


@pytest.fixture
def keyed_hash() -> Callable[[str], str]:
    """A deterministic stand-in for the masking HMAC."""
    return lambda text: "kh:" + hashlib.sha256(b"test-key" + text.encode()).hexdigest()[:16]


@pytest.fixture
def engine_env(aws: MotoClients, datamap: DataMap, tmp_path: Path) -> dict[str, str]:
    """The engine's own resources (requests and holds tables, Object Lock audit bucket, export bucket, HMAC key,
    the data map file), as the Lambda environment that names them; use cases run inside
    ``lambda_environment(engine_env)``.
    """
    aws.client("dynamodb").create_table(
        TableName="requests",
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}, {"AttributeName": "record", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "request_id", "AttributeType": "S"},
            {"AttributeName": "record", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.client("dynamodb").create_table(
        TableName=HOLDS,
        KeySchema=[
            {"AttributeName": "subject_hmac", "KeyType": "HASH"},
            {"AttributeName": "hold_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "subject_hmac", "AttributeType": "S"},
            {"AttributeName": "hold_id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=AUDIT, ObjectLockEnabledForBucket=True)
    s3.create_bucket(Bucket=EXPORTS)
    s3.put_object_lock_configuration(
        Bucket=AUDIT,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    key = aws.client("kms").create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]
    datamap_file = tmp_path / "datamap.json"
    datamap_file.write_text(datamap.model_dump_json(by_alias=True))
    return {
        "REQUESTS_TABLE": "requests",
        "HOLDS_TABLE": HOLDS,
        "AUDIT_BUCKET": AUDIT,
        "EXPORT_BUCKET": EXPORTS,
        "HMAC_KEY_ID": key,
        "DATAMAP_FILE": str(datamap_file),
    }


@pytest.fixture
def notify_env(aws: MotoClients, engine_env: dict[str, str]) -> dict[str, str]:
    """engine_env plus what the Notify function also reads: a verified sender, the transactional configuration
    set and the API URL its links point to (one place, so no test's Notify lacks one)."""
    aws.client("sesv2").create_email_identity(EmailIdentity="privacy@example.com")
    return {
        **engine_env,
        "SENDER_EMAIL": "privacy@example.com",
        "SES_CONFIGURATION_SET": "dsr-transactional",
        "API_URL": "https://api.example/v1/",
    }
