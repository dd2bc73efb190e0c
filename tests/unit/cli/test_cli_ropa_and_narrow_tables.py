"""`dsr ropa` (JSON shape, HTML escaping) and the list tables at 80 columns (whole ids and statuses)."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from cli import context
from cli.main import app
from functions.privacy.operations import retention_runs, timeline
from functions.privacy.requests.record import RequestRecord
from functions.privacy.subjects import holds
from functions.privacy.subjects.holds import Hold


@pytest.fixture
def outputs(tmp_path):
    """A local cloud's outputs file; nothing is called on it (the commands under test read what is stubbed)."""
    record = {"controller_name": "Example <Co> & Sons", "controller_contact": "dpo@example.com",
              "object_lock_years": 9, "api_requests_per_ip": 0}  # fmt: skip
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps(
            {
                "aws_endpoint": "http://127.0.0.1:9",
                "region": "us-east-1",
                "RequestsTableName": "requests",
                "HoldsTableName": "holds",
                "RetentionStateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:retention",
                "ProcessingRecord": json.dumps(record),
            }
        )
    )
    return path


def _dsr(outputs, *args, width=250):
    return CliRunner().invoke(app, ["--local", "--outputs", str(outputs), *args], env={"COLUMNS": str(width)})


def test_ropa_json_has_the_issue_shape_from_the_stack_output(outputs):
    result = _dsr(outputs, "ropa", "--json")

    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert set(record) == {"controller", "categories", "transfers", "measures"}
    assert record["controller"]["name"] == "Example <Co> & Sons"
    assert record["controller"]["contact"] == "dpo@example.com"
    assert {tuple(sorted(c)) for c in record["categories"]} == {
        ("legal_basis", "name", "purpose", "recipients", "retention", "stores")
    }
    assert {t["country"] for t in record["transfers"]} == {"Canada", "United States"}
    assert any("kept 9 years" in m for m in record["measures"])
    assert not any("firewall" in m for m in record["measures"])


def test_ropa_html_is_written_escaped(outputs, tmp_path):
    page = tmp_path / "ropa.html"
    result = _dsr(outputs, "ropa", "--html", str(page))

    assert result.exit_code == 0, result.output
    assert "Controller: Example <Co> & Sons (dpo@example.com)" in result.output
    text = page.read_text()
    assert "Example &lt;Co&gt; &amp; Sons" in text and "<Co>" not in text
    assert "Art. 30(1)" in text and "Standard contractual clauses" in text


def test_ropa_without_a_controller_is_one_clear_line(outputs):
    described = json.loads(outputs.read_text())
    described["ProcessingRecord"] = json.dumps({"controller_contact": "dpo@example.com"})
    outputs.write_text(json.dumps(described))
    result = _dsr(outputs, "ropa")
    assert result.exit_code == 1 and "controller_name" in result.output and "Traceback" not in result.output


@pytest.fixture
def narrow(monkeypatch):
    monkeypatch.setattr(context.console, "width", 80)


def _records():
    statuses = ["rejected_unverified", "partially_completed", "pending_verification"]
    return [
        RequestRecord(
            request_id=f"req-{uuid.uuid4()}",
            type=request_type,
            jurisdiction="CCPA",
            status=status,
            received_at="2026-11-01T10:00:00Z",
            due_at="2026-12-16T10:00:00Z",
        )
        for request_type, status in zip(["disclosure_notice", "rectification", "access"], statuses, strict=True)
    ]


def test_requests_list_keeps_whole_ids_and_statuses_at_80_columns(outputs, narrow, monkeypatch):
    records = _records()
    monkeypatch.setattr(timeline, "list_requests", lambda *_, **__: records)

    result = _dsr(outputs, "requests", "list", width=80)

    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    for record in records:
        [line] = [line for line in result.output.splitlines() if record.request_id in line]
        assert record.status in line  # id and status whole, on one line
        assert record.type.value in result.output
    assert "…" not in result.output and "2026-12-16T10:00:00Z" in result.output


def test_requests_list_is_one_table_when_it_fits(outputs, monkeypatch):
    records = _records()
    monkeypatch.setattr(timeline, "list_requests", lambda *_, **__: records)
    monkeypatch.setattr(context.console, "width", 200)
    result = _dsr(outputs, "requests", "list", width=200)
    [line] = [line for line in result.output.splitlines() if records[0].request_id in line]
    assert "disclosure_notice" in line and "CCPA" in line and "rejected_unverified" in line
    assert "Narrow terminal" not in result.output


def test_holds_list_keeps_whole_hold_ids_and_states_at_80_columns(outputs, narrow, monkeypatch):
    found = [
        Hold(subject_hmac="hmac-sha256:" + "ab" * 32, hold_id=f"hold-{uuid.uuid4()}", reason="litigation L-1",
             placed_by="ops", placed_at="2026-11-01T10:00:00Z", released_at=released)
        for released in (None, "2026-11-02T10:00:00Z")
    ]  # fmt: skip
    monkeypatch.setattr(holds, "all_holds", lambda *_, **__: found)

    result = _dsr(outputs, "holds", "list", "--all", width=80)

    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    for hold, state in zip(found, ("active", "released"), strict=True):
        [line] = [line for line in result.output.splitlines() if hold.hold_id in line]
        assert state in line
    assert "Reason: litigation L-1" in result.output and "…" not in result.output


def test_retention_status_keeps_whole_names_and_statuses_at_80_columns(outputs, narrow, monkeypatch):
    runs = [
        {"name": "manual-20261101T000000Z-20261102T101500123Z-dry-run", "started": "2026-11-02T10:15:00Z",
         "as_of": "2026-11-01T00:00:00Z", "dry_run": True, "execution_status": "SUCCEEDED", "status": "completed",
         "stores": [{"expired": 3, "skipped_unreadable": 1, "failed": 0}]},
    ]  # fmt: skip
    monkeypatch.setattr(retention_runs, "recent_runs", lambda *_, **__: runs)

    result = _dsr(outputs, "retention", "status", width=80)

    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    [line] = [line for line in result.output.splitlines() if runs[0]["name"] in line]
    assert "SUCCEEDED" in line and "completed" in line
    assert "Expired: 3" in result.output and "…" not in result.output
