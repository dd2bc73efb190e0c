"""The data map model: the sample is valid, and each kind of mistake is rejected naming the entry at fault."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from functions.privacy.datamap.model import (
    DataMapError,
    StoreKind,
    json_schema,
    load_datamap,
    parse_datamap,
    with_resource_names,
)
from functions.privacy.datamap.schema import SCHEMA_PATH

SAMPLE = Path(__file__).resolve().parents[3] / "datamap.yaml"


def test_sample_data_map_loads():
    datamap = load_datamap(SAMPLE)

    assert datamap.subject_identifier == "email"
    assert datamap.resolution_order() == ["email", "customer_id"]
    assert set(datamap.stores) == {
        *("customers", "orders", "uploads", "newsletter", "suppression"),
        *("lake_orders", "lake_clicks", "lake_tickets"),
    }
    assert datamap.stores["orders"].erasure.mode == "anonymise"
    assert datamap.stores["customers"].lookup.index == "by-email"
    assert set(datamap.stores_of_kind(StoreKind.DYNAMODB)) == {"customers", "orders"}
    assert datamap.categories["orders"].retention_days() == 7 * 365
    assert datamap.categories["location"].retention_days() == 13 * 30


def test_resource_names_are_filled_with_account_and_region():
    datamap = with_resource_names(load_datamap(SAMPLE), "123456789012", "eu-west-2")
    assert datamap.stores["uploads"].resource == "dsr-sample-uploads-123456789012-eu-west-2"
    assert datamap.stores["orders"].resource == "dsr-sample-orders"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = raw
        for part in parents:
            node = node[part]
        node[last] = value

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = raw
        for part in parents:
            node = node[part]
        del node[last]

    return change


BROKEN = {
    "unknown category": (_set("stores.orders.categories", ["orders", "invoices"]), "stores.orders", "'invoices'"),
    "key template without trailing slash": (
        _set("stores.uploads.lookup.key_template", "users/{customer_id}"),
        "stores.uploads",
        "must end with '/'",
    ),
    "key template with the wrong placeholder": (
        _set("stores.uploads.lookup.key_template", "users/{email}/"),
        "stores.uploads",
        "must use exactly {customer_id}",
    ),
    "key template that does not parse": (
        _set("stores.uploads.lookup.key_template", "users/{customer_id/"),
        "stores.uploads",
        "bad key_template",
    ),
    "index that does not exist": (
        _set("stores.customers.lookup.index", "by-mail"),
        "stores.customers",
        "index 'by-mail' does not exist",
    ),
    "lookup on a non-key attribute without an index": (
        _delete("stores.customers.lookup.index"),
        "stores.customers",
        "not the partition key",
    ),
    "anonymising a key attribute": (
        _set("stores.orders.erasure.attributes.order_id", {"strategy": "null"}),
        "stores.orders",
        "cannot anonymise key attributes ['order_id']",
    ),
    "anonymise with no attributes": (
        _set("stores.orders.erasure.attributes", {}),
        "stores.orders.erasure",
        "at least one attribute",
    ),
    "anonymise without a reason": (
        _delete("stores.orders.erasure.reason"),
        "stores.orders.erasure",
        "needs a reason",
    ),
    "anonymise outside dynamodb": (
        _set("stores.uploads.erasure", {"mode": "anonymise", "reason": "r", "attributes": {"a": {"strategy": "null"}}}),
        "stores.uploads",
        "only supported for dynamodb",
    ),
    "unknown identifier in a lookup": (
        _set("stores.orders.lookup.identifier", "account_id"),
        "stores.orders",
        "unknown identifier 'account_id'",
    ),
    "resolution from an unknown store": (
        _set("identifiers.customer_id.resolved_by.store", "crm"),
        "identifiers.customer_id.resolved_by",
        "unknown store 'crm'",
    ),
    "resolution through a store looked up by another identifier": (
        _set("identifiers.customer_id.resolved_by.store", "orders"),
        "identifiers.customer_id.resolved_by",
        "looked up by 'customer_id', not 'email'",
    ),
    "resolution through a store that is not a table": (
        _set("identifiers.customer_id.resolved_by.store", "uploads"),
        "identifiers.customer_id.resolved_by",
        "not a dynamodb table",
    ),
    "bad retention duration": (_set("categories.location.retention", "13 months"), "categories.location.retention", ""),
    "empty retention duration": (_set("categories.location.retention", "P"), "categories.location.retention", ""),
    "unknown legal basis": (
        _set("categories.marketing.legal_basis", "because"),
        "categories.marketing.legal_basis",
        "",
    ),
    "unknown recipient": (_set("categories.contact.recipients", ["data_broker"]), "categories.contact", "data_broker"),
    "fixed mask without a value": (
        _set("stores.orders.erasure.attributes.buyer_name", {"strategy": "fixed"}),
        "stores.orders.erasure.attributes.buyer_name",
        "needs a value",
    ),
    "unknown store kind": (_set("stores.uploads.kind", "ftp"), "stores.uploads.kind", ""),
    "dynamodb store without a key schema": (_delete("stores.orders.table"), "stores.orders", "table key schema"),
    "identifier pattern that does not compile": (
        _set("identifiers.customer_id.pattern", "^[a-z"),
        "identifiers.customer_id.pattern",
        "does not compile",
    ),
    "misspelt field": (_set("stores.orders.lookup.key_atribute", "customer_id"), "stores.orders.lookup", ""),
}


@pytest.mark.parametrize("change,entry,detail", BROKEN.values(), ids=BROKEN.keys())
def test_broken_data_map_is_rejected_naming_the_entry(sample_raw, change, entry, detail):
    change(sample_raw)

    with pytest.raises(DataMapError) as raised:
        parse_datamap(sample_raw)

    message = str(raised.value)
    assert entry in message
    assert detail in message


def test_a_resolution_cycle_is_rejected(sample_raw):
    sample_raw["identifiers"]["email"]["resolved_by"] = {"store": "orders", "from": "customer_id", "attribute": "email"}
    sample_raw["stores"]["orders"]["lookup"] = {"identifier": "customer_id", "key_attribute": "customer_id"}

    with pytest.raises(DataMapError, match="resolution cycle"):
        parse_datamap(sample_raw)


def test_every_problem_is_reported_at_once(sample_raw):
    sample_raw["stores"]["orders"]["categories"] = ["invoices"]
    sample_raw["stores"]["customers"]["lookup"]["index"] = "by-mail"

    with pytest.raises(DataMapError) as raised:
        parse_datamap(sample_raw)
    assert "stores.orders: unknown category 'invoices'" in str(raised.value)
    assert "stores.customers: lookup: index 'by-mail'" in str(raised.value)


def test_unreadable_and_non_mapping_files_are_rejected(tmp_path):
    with pytest.raises(DataMapError, match="cannot read data map"):
        load_datamap(tmp_path / "missing.yaml")
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(DataMapError, match="mapping at the top level"):
        load_datamap(listing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("stores: [")
    with pytest.raises(DataMapError, match="not valid YAML"):
        load_datamap(broken)


def test_json_form_loads_like_the_yaml(tmp_path, sample_raw):
    path = tmp_path / "datamap.json"
    path.write_text(json.dumps(sample_raw))
    assert load_datamap(path) == load_datamap(SAMPLE)


def test_committed_json_schema_is_up_to_date():
    # Regenerate with: python -m functions.privacy.datamap.schema
    assert SCHEMA_PATH == Path(__file__).resolve().parents[3] / "docs" / "datamap.schema.json"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


# --- s3_dataset entries -----------------------------------------------------------------------------

CLICKS = {
    "kind": "s3_dataset",
    "resource": "dsr-sample-lake",
    "categories": ["orders"],
    "lookup": {"identifier": "customer_id"},
    "dataset": {"prefix": "clicks/", "format": "parquet", "columns": {"customer_id": "user.id", "email": "user.email"}},
    "retention_timestamp": "event.at",
    "erasure": {"mode": "delete"},
}


def _with_clicks(raw: dict[str, Any], **changes: Any) -> dict[str, Any]:
    clicks = copy.deepcopy(CLICKS)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = clicks
        for part in parents:
            node = node[part]
        if value is _DROP:
            del node[last]
        else:
            node[last] = value
    raw["stores"]["clicks"] = clicks
    return raw


_DROP = object()
_ANONYMISE = {
    "mode": "anonymise",
    "reason": "Kept for fraud analysis",
    "attributes": {"user.email": {"strategy": "null"}},
}


def test_a_dataset_store_loads_with_its_columns(sample_raw):
    datamap = parse_datamap(_with_clicks(sample_raw))

    clicks = datamap.stores["clicks"]
    assert clicks.kind is StoreKind.S3_DATASET
    assert clicks.dataset is not None and clicks.dataset.columns == {"customer_id": "user.id", "email": "user.email"}
    assert (clicks.dataset.prefix, clicks.dataset.format) == ("clicks/", "parquet")


def test_a_dataset_store_may_anonymise_its_rows(sample_raw):
    datamap = parse_datamap(_with_clicks(sample_raw, erasure=_ANONYMISE))

    assert datamap.stores["clicks"].erasure.attributes["user.email"].strategy.value == "null"


DATASET_BROKEN = {
    "dataset store without a dataset": ({"dataset": _DROP}, "s3_dataset stores need dataset (prefix, format, columns)"),
    "unknown identifier in columns": (
        {"dataset__columns": {"customer_id": "user.id", "account_id": "user.account"}},
        "dataset.columns: unknown identifier 'account_id'",
    ),
    "lookup identifier without a column": (
        {"dataset__columns": {"email": "user.email"}},
        "identifier 'customer_id' has no column in dataset.columns",
    ),
    "key_template on a dataset store": (
        {"lookup__key_template": "users/{customer_id}/"},
        "key_template means nothing for s3_dataset stores",
    ),
    "key_attribute on a dataset store": (
        {"lookup__key_attribute": "customer_id"},
        "key_attribute means nothing for s3_dataset stores",
    ),
    "erasure skip on a dataset store": (
        {"erasure": {"mode": "skip", "reason": "kept"}},
        "s3_dataset stores delete or anonymise rows",
    ),
    "mask on something that is not a column path": (
        {"erasure": {**_ANONYMISE, "attributes": {"user email": {"strategy": "null"}}}},
        "'user email' is not a column path",
    ),
    "retention timestamp that is not a column path": ({"retention_timestamp": ".at"}, "'.at' is not a column path"),
    "rectifiable columns on a dataset store": (
        {"rectifiable": {"user.name": "string"}},
        "only dynamodb stores have rectifiable attributes, not s3_dataset",
    ),
}


@pytest.mark.parametrize("changes,detail", DATASET_BROKEN.values(), ids=DATASET_BROKEN.keys())
def test_broken_dataset_store_is_rejected_naming_it(sample_raw, changes, detail):
    with pytest.raises(DataMapError) as raised:
        parse_datamap(_with_clicks(sample_raw, **changes))

    message = str(raised.value)
    assert "stores.clicks:" in message
    assert detail in message


def test_a_dataset_column_path_with_spaces_is_rejected(sample_raw):
    with pytest.raises(DataMapError, match="stores.clicks.dataset.columns.email"):
        parse_datamap(_with_clicks(sample_raw, dataset__columns={"customer_id": "user.id", "email": "user email"}))


def test_a_dataset_on_a_store_of_another_kind_is_rejected(sample_raw):
    sample_raw["stores"]["uploads"]["dataset"] = CLICKS["dataset"]

    with pytest.raises(DataMapError, match="stores.uploads: dataset belongs to s3_dataset stores"):
        parse_datamap(sample_raw)
