"""The intake Lambda behind API Gateway (proxy events, moto): every bad input is a named 4xx, never a 5xx."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from functions.handlers import intake as api
from functions.privacy.core import clients as aws_clients
from functions.privacy.intake.status import request_status
from tests.integration.intake import intake_support

ORIGIN = "https://form.example"


@pytest.fixture
def intake_engine(aws, engine_env, monkeypatch):
    # The handler uses the process-wide client cache; clients made under moto must not outlive the test.
    monkeypatch.setattr(aws_clients, "_clients", {})
    yield from intake_support.intake_engine(aws, engine_env)


@dataclass
class Context:
    function_name: str = "intake"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:intake"
    aws_request_id: str = "ctx"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def call(
    method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, base64_encoded: bool = False
) -> tuple[int, dict, dict]:
    """Invoke the handler with an API Gateway REST proxy event; returns (status, JSON body, headers)."""
    resource = "/requests" if path == "/requests" else "/requests/{request_id}"
    parts = path.split("/")
    if path.endswith("/verify"):
        resource += "/verify"
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    headers = {"Content-Type": "application/json", **(headers or {})}
    event = {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"request_id": parts[2]} if len(parts) > 2 else None,
        "stageVariables": None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "resourcePath": resource,
            "httpMethod": method,
            "stage": "v1",
        },
        "body": text,
        "isBase64Encoded": base64_encoded,
    }
    response = api.handler(event, Context())
    merged = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()} | (response.get("headers") or {})
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else {}, merged


def file(email: str = "alice@example.com", **fields) -> tuple[int, dict, dict]:
    return call("POST", "/requests", {"type": "erasure", "email": email, **fields})


def test_filing_answers_202_with_id_status_token_and_deadline(intake_engine):
    status, body, _ = file()
    assert status == 202
    assert set(body) == {"request_id", "status", "status_token", "due_at"}
    assert body["status"] == "pending_verification"


def test_unknown_and_known_addresses_get_the_same_answer(intake_engine, tables, bucket, contact_list, datamap):
    from local.seed import seed_sample_subjects

    (alice,) = seed_sample_subjects(datamap, intake_engine.clients, count=1)
    known, unknown = file(alice["email"]), file("nobody-at-all@example.org")
    assert known[0] == unknown[0] == 202
    assert {k: type(v) for k, v in known[1].items()} == {k: type(v) for k, v in unknown[1].items()}
    assert known[1]["due_at"][:10] == unknown[1]["due_at"][:10]


@pytest.mark.parametrize(
    ("body", "status", "error", "field"),
    [
        ('{"type": "erasure", "email": ', 400, "malformed_json", None),
        ("[1, 2]", 422, "invalid_request", "body"),
        ({"type": "erasure"}, 422, "invalid_request", "body.email"),
        ({"type": "erasure", "email": 42}, 422, "invalid_request", "body.email"),
        ({"type": "forget-me", "email": "a@example.com"}, 422, "invalid_request", "body.type"),
        ({"type": "erasure", "email": "not-an-address"}, 422, "invalid_request", "body.email"),
        ({"type": "erasure", "email": "a@b.com", "jurisdiction": "LGPD"}, 422, "invalid_request", "body.jurisdiction"),
        ({"type": "erasure", "email": "a@example.com", "extra": 1}, 422, "invalid_request", "body.extra"),
        ({"type": "erasure", "email": "a@example.com", "corrections": {"name": "B"}}, 422, "invalid_request", "body"),
        ({"type": "rectification", "email": "a@example.com"}, 422, "invalid_request", "body"),
        ({"type": "erasure", "email": "a@example.com", "note": "x" * 2001}, 422, "invalid_request", "body.note"),
    ],
)
def test_bad_input_is_a_4xx_that_names_the_problem(intake_engine, body, status, error, field):
    got, answer, _ = call("POST", "/requests", body)
    assert (got, answer["error"]) == (status, error)
    assert answer["message"]
    if field:
        assert field in [p["field"] for p in answer["problems"]], answer
    assert not intake_engine.executions()  # nothing was filed


def test_an_oversized_body_is_refused_before_it_is_parsed(intake_engine):
    status, body, headers = call(
        "POST", "/requests", {"type": "erasure", "email": "a@example.com", "note": "x" * 40_000}, {"Origin": ORIGIN}
    )
    assert (status, body["error"]) == (413, "body_too_large")
    assert headers["Access-Control-Allow-Origin"] == ORIGIN


def test_bodies_that_are_not_utf8_json_are_refused_by_name(intake_engine):
    event_body = base64.b64encode(b'{"code": "\xd3\xb3\xff"}').decode()
    status, body, _ = call("POST", f"/requests/req-{uuid.uuid4()}/verify", event_body, base64_encoded=True)
    assert (status, body["error"]) == (400, "malformed_json")
    status, body, _ = call("POST", "/requests", "type=erasure", {"Content-Type": "multipart/form-data"})
    assert (status, body["error"]) == (415, "unsupported_content_type")


def test_validation_errors_never_echo_the_input(intake_engine):
    _, body, _ = call("POST", "/requests", {"type": "nope", "email": "secret.person@example.com", "note": 5})
    assert "secret.person" not in json.dumps(body)


def test_status_needs_the_token_and_a_missing_or_wrong_one_looks_like_an_unknown_id(intake_engine):
    _, filed, _ = file()
    request_id, token = filed["request_id"], filed["status_token"]

    status, body, _ = call("GET", f"/requests/{request_id}", headers={"X-Status-Token": token})
    assert status == 200
    assert set(body) == {"request_id", "type", "status", "due_at", "created_at", "completed_at", "result"}
    assert (body["type"], body["status"]) == ("erasure", "pending_verification")

    answers = [
        call("GET", f"/requests/{request_id}")[:2],
        call("GET", f"/requests/{request_id}", headers={"X-Status-Token": "wrong"})[:2],
        call("GET", f"/requests/req-{uuid.uuid4()}", headers={"X-Status-Token": token})[:2],
        call("GET", "/requests/whatever", headers={"X-Status-Token": token})[:2],
    ]
    not_found = (404, {"error": "not_found", "message": "No such request.", "problems": []})
    assert all(answer == not_found for answer in answers)


def test_verify_route_answers_each_problem_by_name(intake_engine):
    _, filed, _ = file()
    request_id = filed["request_id"]
    assert call("POST", f"/requests/{request_id}/verify", {"code": "123456"})[:2][1]["error"] == "code_not_sent"
    intake_support_code = _send_code(intake_engine, request_id)

    status, body, _ = call("POST", f"/requests/{request_id}/verify", {"code": "12ab"})
    assert (status, body["problems"][0]["field"]) == (422, "body.code")
    wrong = f"{(int(intake_support_code) + 1) % 10**6:06d}"
    status, body, _ = call("POST", f"/requests/{request_id}/verify", {"code": wrong})
    assert (status, body["error"], body["attempts_left"]) == (400, "code_incorrect", 4)
    status, body, _ = call("POST", f"/requests/{request_id}/verify", {"code": intake_support_code})
    assert (status, body) == (200, {"request_id": request_id, "status": "verified"})
    status, body, _ = call("POST", f"/requests/{request_id}/verify", {"code": intake_support_code})
    assert (status, body["error"]) == (409, "not_awaiting_verification")  # codes work once
    assert call("POST", f"/requests/req-{uuid.uuid4()}/verify", {"code": "123456"})[0] == 404


def test_the_idempotency_header_files_a_double_submit_once(intake_engine):
    headers = {"Idempotency-Key": "form-submit-0001"}
    first = call("POST", "/requests", {"type": "access", "email": "bob@example.com"}, headers)
    second = call("POST", "/requests", {"type": "access", "email": "bob@example.com"}, headers)
    assert first[0] == second[0] == 202
    assert first[1] == second[1]
    assert len(intake_engine.executions()) == 1


def test_cors_admits_the_form_origin_only(intake_engine):
    status, _, headers = call("OPTIONS", "/requests", None, {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert status == 204 and headers["Access-Control-Allow-Origin"] == ORIGIN
    _, _, headers = call("POST", "/requests", {"type": "erasure", "email": "a@example.com"}, {"Origin": "https://evil"})
    assert "Access-Control-Allow-Origin" not in headers


def _send_code(engine, request_id: str) -> str:
    from datetime import UTC, datetime

    from functions.privacy.intake.verification import send_code

    send_code(request_id, "token", datetime.now(UTC).isoformat(), 600, engine.settings, engine.clients)
    return engine.code_sent_for(request_id)


def test_the_status_answer_writes_every_time_in_one_format(intake_engine):
    _, filed, _ = file()
    request_id = filed["request_id"]
    # The workflow's close step writes $$.State.EnteredTime, which arrives with fractions and an offset.
    intake_engine.table.update_item(
        Key={"request_id": request_id, "record": "request"},
        UpdateExpression="SET #s = :s, completed_at = :c",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "completed", ":c": "2026-12-01T19:57:23.765150+00:00"},
    )
    status, body, _ = call("GET", f"/requests/{request_id}", headers={"X-Status-Token": filed["status_token"]})
    assert status == 200
    assert body["completed_at"] == "2026-12-01T19:57:23Z"
    pattern = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    assert all(pattern.match(body[name]) for name in ("due_at", "created_at", "completed_at")), body


def test_a_stored_time_without_a_zone_is_refused_by_name_not_read_as_host_time(intake_engine):
    _, filed, _ = file()
    intake_engine.table.update_item(
        Key={"request_id": filed["request_id"], "record": "request"},
        UpdateExpression="SET completed_at = :c",
        ExpressionAttributeValues={":c": "2026-12-01T19:57:23"},
    )
    with pytest.raises(ValueError, match="completed_at '2026-12-01T19:57:23' needs a time zone"):
        request_status(filed["request_id"], filed["status_token"], intake_engine.settings, intake_engine.clients)
