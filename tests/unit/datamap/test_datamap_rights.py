"""What the data map must say for the rights beyond erasure: who owns suppression, what may be rectified."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from functions.privacy.connectors.base import InvalidCorrection
from functions.privacy.connectors.corrections import store_corrections, validate_corrections
from functions.privacy.datamap.model import DataMapError, parse_datamap

SUPPRESSION = {
    "kind": "ses_suppression",
    "resource": "account",
    "categories": ["marketing"],
    "lookup": {"identifier": "email"},
}


def _rejected(raw: dict[str, Any]) -> str:
    with pytest.raises(DataMapError) as raised:
        parse_datamap(raw)
    return str(raised.value)


def test_the_sample_map_has_one_suppression_store_that_keeps_entries(sample_raw):
    datamap = parse_datamap(sample_raw)
    (name,) = [n for n, s in datamap.stores.items() if s.kind.value == "ses_suppression"]
    assert name == "suppression"
    assert datamap.stores[name].erasure.suppress is True
    assert all(s.erasure.suppress is None for n, s in datamap.stores.items() if n != name)


def test_suppress_on_another_store_is_rejected_naming_it(sample_raw):
    sample_raw["stores"]["newsletter"]["erasure"]["suppress"] = True
    assert "stores.newsletter: erasure.suppress belongs to the ses_suppression store" in _rejected(sample_raw)


def test_two_suppression_stores_are_rejected(sample_raw):
    sample_raw["stores"]["suppression_again"] = dict(SUPPRESSION)
    assert "['suppression', 'suppression_again'] all describe the one account suppression list" in _rejected(sample_raw)


def test_suppression_store_is_looked_up_by_the_email(sample_raw):
    sample_raw["stores"]["suppression"]["lookup"] = {"identifier": "customer_id"}
    message = _rejected(sample_raw)
    assert "stores.suppression: ses_suppression stores are looked up by the subject identifier" in message


def test_suppression_store_says_with_suppress_not_with_mode(sample_raw):
    sample_raw["stores"]["suppression"]["erasure"] = {"mode": "skip", "reason": "kept"}
    assert "stores.suppression: erasure: ses_suppression stores say with erasure.suppress" in _rejected(sample_raw)


def test_suppress_false_is_allowed_on_the_suppression_store(sample_raw):
    sample_raw["stores"]["suppression"]["erasure"] = {"suppress": False}
    assert parse_datamap(sample_raw).stores["suppression"].erasure.suppress is False


@pytest.mark.parametrize(
    ("store", "rectifiable", "detail"),
    [
        ("customers", {"email": "string"}, "stores.customers: rectifiable: ['email'] are keys or engine markers"),
        ("orders", {"order_id": "string"}, "stores.orders: rectifiable: ['order_id'] are keys"),
        ("orders", {"privacy_restricted": "string"}, "['privacy_restricted'] are keys or engine markers"),
        ("orders", {"privacy_anonymised_at": "string"}, "['privacy_anonymised_at'] are keys or engine markers"),
        ("uploads", {"name": "string"}, "stores.uploads: rectifiable: only dynamodb stores"),
        ("orders", {"name": "number"}, "rectifiable attribute 'name' has conflicting types (string in customers"),
    ],
)
def test_bad_rectifiable_attributes_are_rejected(sample_raw, store, rectifiable, detail):
    sample_raw["stores"][store]["rectifiable"] = rectifiable
    assert detail in _rejected(sample_raw)


def test_valid_corrections_come_back_normalised(sample_raw):
    sample_raw["stores"]["customers"]["rectifiable"].update({"points": "number", "vip": "boolean"})
    datamap = parse_datamap(sample_raw)
    corrections = {"name": "Ada", "points": 1.5, "vip": False, "shipping_address": "1 Main St"}
    assert validate_corrections(datamap, corrections) == {**corrections, "points": Decimal("1.5")}
    assert store_corrections(datamap.stores["orders"], corrections) == {"shipping_address": "1 Main St"}


@pytest.mark.parametrize(
    ("corrections", "detail"),
    [
        ({"points": True}, "attribute 'points': expected a number, got a boolean"),
        ({"points": "7"}, "attribute 'points': expected a number, got a string"),
        ({"points": float("nan")}, "attribute 'points': must be a finite number"),
        ({"vip": 1}, "attribute 'vip': expected a boolean, got a number"),
        ({"name": {"first": "x"}}, "attribute 'name': expected a string, got an object"),
        ({"name": "x" * 2049}, "attribute 'name': longer than 2048 characters"),
        ({"ada@example.com": "x"}, "attribute (unprintable name): no store in the data map allows rectifying it"),
        ({"": "x"}, "attribute (unprintable name)"),
    ],
)
def test_bad_corrections_name_the_attribute_and_problem_never_the_value(sample_raw, corrections, detail):
    sample_raw["stores"]["customers"]["rectifiable"].update({"points": "number", "vip": "boolean"})
    datamap = parse_datamap(sample_raw)
    with pytest.raises(InvalidCorrection) as raised:
        validate_corrections(datamap, corrections)
    assert detail in str(raised.value)
    assert "ada@" not in str(raised.value) and "xxx" not in str(raised.value) and "first" not in str(raised.value)
    assert isinstance(raised.value, ValueError)  # the workflow and the API treat it as bad input
