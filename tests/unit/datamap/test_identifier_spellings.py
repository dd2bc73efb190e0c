"""Identifier normalisation and the spellings a lookup tries (issue 13, case 1)."""

from __future__ import annotations

from pathlib import Path

from functions.privacy.datamap.model import load_datamap, normalise_identifier, parse_datamap, spellings

SAMPLE = Path(__file__).resolve().parents[3] / "datamap.yaml"


def test_case_insensitive_values_are_tried_as_typed_then_normalised():
    assert spellings("Alice@Example.com", "case_insensitive") == ["Alice@Example.com", "alice@example.com"]
    assert spellings("alice@example.com", "case_insensitive") == ["alice@example.com"]  # one spelling, one query
    assert spellings("Alice@Example.com", "case_insensitive", "normalised") == ["alice@example.com"]
    assert spellings("C1001", "exact") == ["C1001"]
    assert normalise_identifier(" Alice@Example.COM", "case_insensitive") == "alice@example.com"
    assert normalise_identifier("AbC", "exact") == "AbC"


def test_email_is_case_insensitive_unless_the_map_says_exact():
    sample = load_datamap(SAMPLE)
    assert sample.identifiers["email"].normalisation == "case_insensitive"
    assert sample.identifiers["customer_id"].normalisation == "exact"
    assert sample.lookup_spellings("customers", "Bob@Example.com") == ["Bob@Example.com", "bob@example.com"]
    assert sample.lookup_spellings("orders", "C1001") == ["C1001"]

    raw = {
        "subject_identifier": "email",
        "identifiers": {"email": {"pattern": ".+"}},
        "categories": {"c": {"description": "d", "purpose": "p", "legal_basis": "consent", "retention": "P1Y"}},
        "stores": {
            "list": {
                "kind": "ses_contact_list",
                "resource": "l",
                "categories": ["c"],
                "lookup": {"identifier": "email"},
            }
        },
    }
    assert parse_datamap(raw).identifiers["email"].normalisation == "case_insensitive"  # the default for email
    raw["identifiers"]["email"]["normalisation"] = "exact"
    strict = parse_datamap(raw)
    assert strict.lookup_spellings("list", "Bob@Example.com") == ["Bob@Example.com"]
