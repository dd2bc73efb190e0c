"""Resolving a subject from the email through the data map (email -> customer id via the by-email GSI)."""

from __future__ import annotations

import pytest

from functions.privacy.connectors.base import InvalidIdentifier, StoreMisconfigured
from functions.privacy.subjects.resolution import AmbiguousIdentifier, resolve_subject


def _customer(tables, customer_id: str, email: str) -> None:
    tables.put_item(
        TableName="dsr-sample-customers",
        Item={"customer_id": {"S": customer_id}, "email": {"S": email}, "name": {"S": "someone"}},
    )


def test_email_resolves_to_the_customer_id_through_the_gsi(datamap, aws, tables):
    _customer(tables, "c1", "ada@example.com")
    _customer(tables, "c10", "grace@example.com")

    subject = resolve_subject(datamap, "ada@example.com", aws)

    assert dict(subject.identifiers) == {"email": "ada@example.com", "customer_id": "c1"}
    assert "ada" not in repr(subject) and "c1" not in repr(subject)


def test_unknown_email_gives_a_subject_with_only_the_email(datamap, aws, tables):
    _customer(tables, "c1", "ada@example.com")

    subject = resolve_subject(datamap, "nobody@example.com", aws)

    assert dict(subject.identifiers) == {"email": "nobody@example.com"}
    assert subject.get("customer_id") is None


def test_two_customer_ids_for_one_email_are_refused(datamap, aws, tables):
    _customer(tables, "c1", "ada@example.com")
    _customer(tables, "c2", "ada@example.com")

    with pytest.raises(AmbiguousIdentifier, match="identifiers.customer_id: 2 different values") as raised:
        resolve_subject(datamap, "ada@example.com", aws)
    assert "c1" not in str(raised.value) and "ada" not in str(raised.value)


def test_a_stored_customer_id_that_breaks_its_pattern_is_refused(datamap, aws, tables):
    _customer(tables, "../c1", "ada@example.com")  # would widen the uploads prefix to users/../c1/

    with pytest.raises(InvalidIdentifier, match="customer_id"):
        resolve_subject(datamap, "ada@example.com", aws)


def test_malformed_email_is_refused_before_any_lookup(datamap, aws, tables, any_calls):
    calls = any_calls(aws.client("dynamodb"))
    with pytest.raises(InvalidIdentifier, match="email"):
        resolve_subject(datamap, "ada@example.com/..", aws)
    assert calls == []


def test_a_missing_customers_table_is_misconfigured(datamap, aws):
    with pytest.raises(StoreMisconfigured, match="store customers"):
        resolve_subject(datamap, "ada@example.com", aws)
