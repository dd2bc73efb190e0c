"""Exported DynamoDB items are plain JSON that says exactly what the table holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from boto3.dynamodb.types import Binary

from functions.privacy.connectors.base import plain_response
from functions.privacy.connectors.dynamodb import plain_item, plain_json


def test_numbers_keep_every_digit():
    assert plain_json(Decimal("12")) == 12 and isinstance(plain_json(Decimal("12.0")), int)
    assert plain_json(Decimal("12.50")) == 12.5
    assert plain_json(Decimal("0.1")) == 0.1
    # More digits than a float holds: text rather than a silently rounded number.
    assert plain_json(Decimal("12345678901234567.5")) == "12345678901234567.5"


def test_sets_binary_and_nesting_become_json():
    item = {
        "ns": {"NS": ["3", "1", "2"]},
        "ss": {"SS": ["b", "a"]},
        "bs": {"BS": [b"\x01", b"\x00"]},
        "m": {"M": {"l": {"L": [{"N": "1"}, {"NULL": True}, {"BOOL": False}, {"B": b"\xff"}]}}},
    }
    plain = plain_item(item)
    assert plain == {"bs": ["AA==", "AQ=="], "m": {"l": [1, None, False, "/w=="]}, "ns": [1, 2, 3], "ss": ["a", "b"]}
    json.dumps(plain)  # serialisable as it is
    assert plain_json(Binary(b"\x00\x01")) == "AAE="


def test_aws_responses_become_json():
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert plain_response({"At": stamp, "L": [stamp], "N": 1}) == {
        "At": "2026-01-02T03:04:05+00:00",
        "L": ["2026-01-02T03:04:05+00:00"],
        "N": 1,
    }
