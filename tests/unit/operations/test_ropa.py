"""The record of processing (GDPR Art. 30(1)): built from the data map and the stack's settings."""

from __future__ import annotations

import pytest

from functions.privacy.datamap.model import DataMapError, parse_datamap
from functions.privacy.operations.ropa import StackFacts, build_ropa, render_html, text_lines

FACTS = StackFacts(controller_name="Example Co", controller_contact="privacy@example.com")


def test_the_record_has_the_issue_shape_and_the_data_map_content(sample_raw):
    datamap = parse_datamap(sample_raw)
    record = build_ropa(datamap, FACTS)

    assert set(record) == {"controller", "categories", "transfers", "measures"}
    assert record["controller"]["name"] == "Example Co" and record["controller"]["contact"] == "privacy@example.com"
    assert record["controller"]["data_subjects"] == sample_raw["data_subjects"]
    assert [c["name"] for c in record["categories"]] == list(sample_raw["categories"])
    for category in record["categories"]:
        assert set(category) == {"name", "purpose", "legal_basis", "retention", "recipients", "stores"}
    orders = next(c for c in record["categories"] if c["name"] == "orders")
    assert orders == {
        "name": "orders",
        "purpose": sample_raw["categories"]["orders"]["purpose"],
        "legal_basis": "legal_obligation",
        "retention": "P7Y",
        "recipients": ["hosting_provider", "payment_processor"],
        "stores": ["orders", "lake_orders"],
    }
    marketing = next(c for c in record["categories"] if c["name"] == "marketing")
    assert marketing["stores"] == ["newsletter", "suppression"]
    assert [t["country"] for t in record["transfers"]] == ["Canada", "United States"]
    assert all(set(t) == {"country", "categories", "recipients", "safeguards"} for t in record["transfers"])


def test_measures_are_worded_from_the_configuration(sample_raw):
    datamap = parse_datamap(sample_raw)
    default = build_ropa(datamap, FACTS)["measures"]
    tuned = build_ropa(
        datamap,
        FACTS.model_copy(
            update={"object_lock_years": 10, "export_link_days": 2, "api_requests_per_ip": 0,
                    "verification_timeout_seconds": 3600}
        ),
    )["measures"]  # fmt: skip

    assert any("COMPLIANCE mode, kept 7 years" in m for m in default)
    assert any("COMPLIANCE mode, kept 10 years" in m for m in tuned)
    assert any("valid for 2 days" in m for m in tuned) and any("(valid 1 hour)" in m for m in tuned)
    assert any("100 requests in 5 minutes" in m for m in default)
    assert not any("firewall" in m for m in tuned)  # no WAF deployed, none claimed
    assert any("HMAC" in m for m in default)
    assert any(m.startswith("Erasure in orders keeps") and "buyer_email as keyed HMACs" in m for m in default)


def test_html_is_standalone_and_escapes_every_value(sample_raw):
    sample_raw["categories"]["contact"]["purpose"] = "<script>alert(1)</script> & more"
    sample_raw["transfers"][0]["safeguards"] = '"quoted" <b>'
    datamap = parse_datamap(sample_raw)
    page = render_html(build_ropa(datamap, FACTS.model_copy(update={"controller_name": "A & <B>"})), datamap)

    assert page.startswith("<!doctype html>") and "<script" not in page and "http" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "A &amp; &lt;B&gt;" in page and "&quot;quoted&quot; &lt;b&gt;" in page
    assert "<h2>Transfers to third countries</h2>" in page and "Canada" in page


def test_text_lines_name_controller_transfers_and_measures(sample_raw):
    lines = text_lines(build_ropa(parse_datamap(sample_raw), FACTS))
    assert "Controller: Example Co (privacy@example.com)" in lines
    assert any(line.startswith("  Canada: ") for line in lines)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw["transfers"][0]["categories"].append("nope"), "transfers.0: unknown category 'nope'"),
        (lambda raw: raw["transfers"][1]["recipients"].append("ghost"), "transfers.1: unknown recipient 'ghost'"),
    ],
)
def test_transfers_name_known_categories_and_recipients(sample_raw, change, message):
    change(sample_raw)
    with pytest.raises(DataMapError, match=message):
        parse_datamap(sample_raw)
