"""docs/evidence.schema.json: strict where the shape is known, open to new events, never admits an address."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from functions.privacy.evidence.records import SCHEMA, canonical

ROOT = Path(__file__).resolve().parents[3]
REQUEST = "req-3e59e4ab-458f-4c5c-96ee-2686be4fa0b1"
HMAC = "hmac-sha256:" + "ab" * 32
SHA = "0f" * 32
AT = "2026-11-29T05:56:37.829000Z"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads((ROOT / "docs" / "evidence.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def chain(event, sequence=0, **fields):
    return {
        "schema": SCHEMA, "recorded_at": AT, "kind": "request_event", "event": event, "request_id": REQUEST,
        "sequence": sequence, "prev_sha256": SHA if sequence else None, **fields,
    }  # fmt: skip


RECORDS = {
    "received": chain(
        "received",
        request_type="erasure",
        jurisdiction="GDPR",
        subject=HMAC,
        received_at=AT,
        due_at=AT,
        channel="api",
        corrections=0,
    ),  # fmt: skip
    "verified": chain("verified", 1, verified_at=AT, method="email_code", wrong_attempts=0),
    "rejected": chain("rejected_unverified", 1, reason="code_expired", rejected_at=AT),
    "completed": chain(
        "completed",
        2,
        request_type="erasure",
        jurisdiction="GDPR",
        subject=HMAC,
        received_at=AT,
        due_at=AT,
        status="partially_completed",
        exceptions=["Invoices are kept for 7 years"],
        stores={
            "orders": {
                "status": "succeeded",
                "found": 3,
                "deleted": 0,
                "anonymised": 3,
                "kept": 3,
                "exceptions": ["Invoices are kept for 7 years"],
                "record": f"requests/{REQUEST}/stores/orders.erase.json",
                "record_sha256": SHA,
                "recheck": {"found": 3, "residual": 0, "kept": 3},
            },
            "uploads": {"status": "failed", "error": "StoreThrottled", "recheck": {"error": "StoreUnavailable"}},
        },
    ),  # fmt: skip
    "store_erased": {
        "schema": SCHEMA,
        "recorded_at": AT,
        "kind": "request_event",
        "event": "store_erased",
        "request_id": REQUEST,
        "subject": HMAC,
        "store": "orders",
        "store_kind": "dynamodb",
        "outcome": {"found": 3, "deleted": 0, "anonymised": 3, "kept": 3, "exceptions": ["tax"]},
        "erased_key_digests": [SHA],
    },  # fmt: skip
    "store_export": {
        "schema": SCHEMA,
        "recorded_at": AT,
        "kind": "request_event",
        "event": "store_export",
        "request_id": REQUEST,
        "store": "uploads",
        "outcome": {"records": 2, "objects": 2, "bytes": 120, "files": ["uploads/1.txt"]},
    },  # fmt: skip
    "a future event with fields of its own": chain("deadline_extended", 3, extended_by_days=60, new_due_at=AT),
    "retention": {
        "schema": SCHEMA,
        "recorded_at": AT,
        "kind": "retention_run",
        "run_id": "2031-01-01T00:00:00Z",
        "store": "customers",
        "scanned": 10,
        "expired": 2,
        "skipped_held": 1,
        "failures": 0,
        "expired_key_digests": [SHA],
        "category_totals": {"contact": 2},
    },  # fmt: skip
    "operator": {
        "schema": SCHEMA,
        "recorded_at": AT,
        "kind": "operator_action",
        "action": "hold_placed",
        "action_id": "hold-1",
        "subject": HMAC,
        "operator": "dpo",
        "reason": "litigation",
    },  # fmt: skip
    "digest": {
        "schema": SCHEMA,
        "kind": "digest",
        "since": None,
        "until": "2026-11-29T05:56:43Z",
        "previous_digest": None,
        "previous_digest_sha256": None,
        "records": [{"key": f"requests/{REQUEST}/chain/0000-received.json", "sha256": SHA}],
        "signature": "MEUCIQ==",
        "signing_key": "arn:aws:kms:us-east-1:123456789012:key/x",
        "signing_algorithm": "ECDSA_SHA_256",
    },  # fmt: skip
}


@pytest.mark.parametrize("name", RECORDS)
def test_records_as_the_engine_writes_them_validate(validator, name):
    record = json.loads(canonical(RECORDS[name]))
    assert not list(validator.iter_errors(record)), [e.message for e in validator.iter_errors(record)]


def _broken(name, change):
    record = copy.deepcopy(RECORDS[name])
    change(record)
    return record


@pytest.mark.parametrize(
    ("why", "record"),
    [
        ("an email address anywhere", _broken("operator", lambda r: r.update(operator="ops@example.com"))),
        ("an email nested deep", _broken("completed", lambda r: r["stores"]["orders"].update(error="a@b.c"))),
        ("a raw subject instead of an HMAC", _broken("received", lambda r: r.update(subject="C1001"))),
        ("a store record posing as a chain link", _broken("store_erased", lambda r: r.update(sequence=0))),
        ("a chain link without its predecessor hash", _broken("verified", lambda r: r.pop("prev_sha256"))),
        ("a completion without stores", _broken("completed", lambda r: r.pop("stores"))),
        ("an erase record without key digests", _broken("store_erased", lambda r: r.pop("erased_key_digests"))),
        ("key digests that are raw keys", _broken("store_erased", lambda r: r.update(erased_key_digests=["C1"]))),
        ("a negative count", _broken("retention", lambda r: r.update(expired=-1))),
        ("a digest with an unknown field", _broken("digest", lambda r: r.update(note="x"))),
        ("a digest listing a non-record", _broken("digest", lambda r: r["records"][0].update(key="x.json"))),
        ("an unknown kind", _broken("operator", lambda r: r.update(kind="note"))),
        ("another schema version", _broken("operator", lambda r: r.update(schema="privacy-evidence/v2"))),
        ("a record without its time", _broken("operator", lambda r: r.pop("recorded_at"))),
        ("a time that is not a time", _broken("received", lambda r: r.update(due_at="next week"))),
    ],
)
def test_records_the_schema_refuses(validator, why, record):
    assert list(validator.iter_errors(record)), why
