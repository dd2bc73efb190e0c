"""`dsr holds` on the local cloud: place, list and release, with operator evidence and no personal data shown."""

from __future__ import annotations

import re

import pytest

from tests.e2e import cli_support
from tests.e2e.cli_support import operator_records

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture

PLACED = re.compile(r"Placed (hold-[0-9a-f-]+) on (hmac-sha256:[0-9a-f]+)")


def test_a_hold_is_placed_listed_and_released_with_evidence(local_cloud, fresh_subject, dsr):
    subject = fresh_subject("held")
    holds_table = local_cloud.clients.resource_table(local_cloud.outputs["HoldsTableName"])
    placed = dsr(
        "holds", "place", "--email", subject["email"], "--reason", "Litigation ref LIT-42", "--store", "orders"
    )
    hold_id, subject_hmac = PLACED.search(placed.output).groups()

    item = holds_table.get_item(Key={"subject_hmac": subject_hmac, "hold_id": hold_id})["Item"]
    assert item["store"] == "orders" and item["reason"] == "Litigation ref LIT-42"
    assert item["identifiers"] == {"email": subject["email"], "customer_id": subject["customer_id"]}  # resolved
    evidence = [r for r in operator_records(local_cloud, "hold_placed") if r["action_id"] == hold_id]
    assert evidence and evidence[0]["subject_hmac"] == subject_hmac and evidence[0]["placed_by"] == "test-operator"
    assert subject["email"] not in str(evidence) and subject["customer_id"] not in str(evidence)

    listing = dsr("holds", "list").output
    assert hold_id in listing and subject_hmac in listing and "store orders" in listing
    assert subject["email"] not in listing

    released = dsr("holds", "release", subject_hmac, hold_id)
    assert f"Released {hold_id}" in released.output
    item = holds_table.get_item(Key={"subject_hmac": subject_hmac, "hold_id": hold_id})["Item"]
    assert item["released_by"] == "test-operator" and "identifiers" not in item
    assert any(r["action_id"] == hold_id for r in operator_records(local_cloud, "hold_released"))
    assert hold_id not in dsr("holds", "list").output
    assert hold_id in dsr("holds", "list", "--all").output
    again = dsr("holds", "release", subject_hmac, hold_id, expect=1)
    assert "no active hold" in again.output


def test_holds_refuse_unknown_stores_and_categories(fresh_subject, dsr):
    email = fresh_subject("typo")["email"]
    assert "unknown store 'order'" in dsr("holds", "place", "--email", email, "--reason", "x", "--store", "order",
                                          expect=1).output  # fmt: skip
    assert "unknown category" in dsr("holds", "place", "--email", email, "--reason", "x", "--category", "pets",
                                     expect=1).output  # fmt: skip
    assert "the reason is required" in dsr("holds", "place", "--email", email, "--reason", " ", expect=1).output
    bad_date = dsr("holds", "place", "--email", email, "--reason", "x", "--expires", "someday", expect=1).output
    assert "is not an ISO 8601 date" in bad_date
    typed_address = dsr("holds", "place", "--email", email, "--reason", f"asked by {email}", expect=1).output
    assert "must not contain an email address" in typed_address


def test_a_hold_blocks_erasure_of_the_held_store_until_released_and_redriven(local_cloud, lake_people, dsr):
    from local.inspect import holdings
    from tests.e2e.cli_support import chain_events, wait_for_status

    datamap, clients = local_cloud.datamap, local_cloud.clients
    (subject,) = lake_people("litigant")  # with lake rows: the hold keeps the ticket export's rows too
    placed = dsr("holds", "place", "--email", subject["email"], "--reason", "Litigation L-7", "--category", "support")
    hold_id, subject_hmac = PLACED.search(placed.output).groups()
    held_stores = {name for name, store in datamap.stores.items() if "support" in store.categories}
    assert held_stores

    filed = dsr("requests", "file", "--type", "erasure", "--email", subject["email"], "--reason", "letter").output
    request_id = filed.split("Filed ", 1)[1].split(" ", 1)[0]
    assert wait_for_status(local_cloud, request_id, {"completed", "partially_completed", "failed"})["status"] == (
        "partially_completed"
    )
    after = holdings(datamap, clients, subject)
    assert all(after[name]["personal"] > 0 for name in held_stores)  # kept under the hold
    assert all(after[name]["personal"] == 0 for name in set(datamap.stores) - held_stores)
    completed = [e for e in chain_events(local_cloud, request_id) if e["event"] == "completed"][0]
    assert "legal hold: Litigation L-7" in completed["exceptions"]

    dsr("holds", "release", subject_hmac, hold_id)
    dsr("executions", "redrive", request_id)
    assert wait_for_status(local_cloud, request_id, {"completed"})["status"] == "completed"
    assert {n: h["personal"] for n, h in holdings(datamap, clients, subject).items()} == dict.fromkeys(
        datamap.stores, 0
    )
