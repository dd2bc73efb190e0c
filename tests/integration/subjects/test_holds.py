"""Legal holds: placed, scoped to stores or categories, expired and released, on a moto table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.privacy.subjects import holds

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def holds_table(aws):
    aws.client("dynamodb").create_table(
        TableName="holds",
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
    import boto3

    return boto3.resource("dynamodb", region_name="us-east-1").Table("holds")


def _place(table, **kwargs):
    args = {
        "subject_hmac": "hmac-sha256:aa",
        "identifiers": {"email": "held@example.com", "customer_id": "C9"},
        "reason": "litigation L-1",
        "placed_by": "operator-1",
        "now": NOW,
    }
    return holds.place_hold(table, **{**args, **kwargs})


def test_hold_scopes_and_release(holds_table, datamap):
    everything = _place(holds_table)
    orders_only = _place(holds_table, subject_hmac="hmac-sha256:bb", identifiers={"customer_id": "C7"}, store="orders")
    assert {h.hold_id for h in holds.holds_for(holds_table, "hmac-sha256:aa", NOW)} == {everything.hold_id}
    stores = datamap.stores
    assert everything.covers("uploads", stores["uploads"]) and everything.covers("orders", stores["orders"])
    assert orders_only.covers("orders", stores["orders"]) and not orders_only.covers("customers", stores["customers"])
    active = holds.all_holds(holds_table, now=NOW)
    assert holds.held_values(active, datamap, "orders") == {"C9", "C7"}
    assert holds.held_values(active, datamap, "customers") == {"held@example.com"}
    assert holds.held_prefixes(active, datamap, "uploads") == {"users/C9/"}
    assert "held@example.com" not in str(everything.public()) and "held@example.com" not in repr(everything)

    released = holds.release_hold(holds_table, "hmac-sha256:aa", everything.hold_id, released_by="operator-2", now=NOW)
    assert released.released_by == "operator-2" and released.identifiers == {}
    assert holds.holds_for(holds_table, "hmac-sha256:aa", NOW) == []
    with pytest.raises(holds.HoldNotFound):
        holds.release_hold(holds_table, "hmac-sha256:aa", everything.hold_id, released_by="x", now=NOW)
    assert len(holds.all_holds(holds_table, include_inactive=True, now=NOW)) == 2


def test_expired_hold_is_inactive(holds_table):
    _place(holds_table, expires_at=(NOW + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert len(holds.holds_for(holds_table, "hmac-sha256:aa", NOW)) == 1
    assert holds.holds_for(holds_table, "hmac-sha256:aa", NOW + timedelta(days=2)) == []


def test_hold_needs_a_reason(holds_table):
    with pytest.raises(ValueError, match="reason"):
        _place(holds_table, reason="  ")
