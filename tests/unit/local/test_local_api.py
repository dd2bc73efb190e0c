"""The local API Gateway emulation: routes from the deployed API, proxy events, API Gateway's answers."""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import pytest
import requests

from local.api import MAX_PAYLOAD, LocalApi, rest_api_id_from_url

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:intake"
URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION}/invocations"


def _resource(rid: str, path: str, *methods: str) -> dict[str, Any]:
    return {
        "id": rid,
        "path": path,
        "resourceMethods": {m: {"methodIntegration": {"type": "AWS_PROXY", "uri": URI}} for m in methods},
    }


class FakeApiGateway:
    def get_rest_apis(self) -> dict[str, Any]:
        return {"items": [{"id": "abc123", "name": "privacy-requests"}]}

    def get_paginator(self, name: str) -> Any:
        resources = [
            _resource("r0", "/"),
            _resource("r1", "/requests", "POST", "OPTIONS"),
            _resource("r2", "/requests/{request_id}", "GET"),
            _resource("r3", "/requests/{request_id}/verify", "POST"),
        ]
        return type("Paginator", (), {"paginate": lambda self, **_: [{"items": resources}]})()


class FakeLambda:
    """Answers like a proxy integration that echoes the event, or fails when asked to."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        event = json.loads(Payload)
        self.events.append(event)
        if (event.get("body") or "") == "crash":
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorType": "Boom"}')}
        answer = {
            "statusCode": 201,
            "multiValueHeaders": {"Content-Type": ["application/json"], "X-Echo": ["1"]},
            "body": json.dumps({"function": FunctionName, "resource": event["resource"]}),
            "isBase64Encoded": False,
        }
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


@pytest.fixture
def served(tmp_path):
    (tmp_path / "index.html").write_text("<h1>form</h1>")
    (tmp_path / "form.js").write_text("// js")
    fake_lambda = FakeLambda()
    clients = {"apigateway": FakeApiGateway(), "lambda": fake_lambda}
    with LocalApi(lambda service, **_config: clients[service], port=0, web_root=tmp_path) as api:
        yield api, fake_lambda


def test_requests_become_proxy_events_for_the_matching_route(served):
    api, fake = served
    answer = requests.post(
        f"{api.url}/requests/req-1/verify?x=1&x=2", json={"code": "123456"}, headers={"X-Status-Token": "t"}, timeout=10
    )
    assert answer.status_code == 201 and answer.headers["X-Echo"] == "1"
    assert answer.json() == {"function": FUNCTION, "resource": "/requests/{request_id}/verify"}
    (event,) = fake.events
    assert event["httpMethod"] == "POST" and event["path"] == "/requests/req-1/verify"
    assert event["pathParameters"] == {"request_id": "req-1"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["headers"]["X-Status-Token"] == "t"
    assert json.loads(event["body"]) == {"code": "123456"} and event["isBase64Encoded"] is False
    assert event["requestContext"]["resourcePath"] == "/requests/{request_id}/verify"


def test_a_method_or_path_without_a_route_gets_api_gateways_403(served):
    api, fake = served
    for method, path in [("DELETE", "/requests"), ("GET", "/requests/a/b/c"), ("TRACE", "/requests"), ("PUT", "/x")]:
        answer = requests.request(method, f"{api.url}{path}", timeout=10)
        assert answer.status_code == 403, (method, path)
        assert answer.json() == {"error": "api_error", "message": "Missing Authentication Token"}
    assert not fake.events


def test_a_failing_function_is_a_502(served):
    api, _ = served
    answer = requests.post(f"{api.url}/requests", data="crash", timeout=10)
    assert answer.status_code == 502 and answer.json()["error"] == "api_error"


def test_bodies_over_api_gateways_limit_are_refused_unread(served):
    api, fake = served
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"POST /requests HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_PAYLOAD + 1}\r\n\r\n".encode())
        reply = connection.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 413")
    assert not fake.events


def test_the_form_is_served_from_web_and_nothing_outside_it(served):
    api, _ = served
    page = requests.get(f"{api.url}/", timeout=10)
    assert page.status_code == 200 and page.text == "<h1>form</h1>"
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert requests.get(f"{api.url}/form.js", timeout=10).status_code == 200
    for path in ("/../pyproject.toml", "/%2e%2e/pyproject.toml", "/missing.html"):
        assert requests.get(f"{api.url}{path}", timeout=10).status_code == 403


def test_the_rest_api_id_comes_from_the_api_url_output():
    assert rest_api_id_from_url("https://abc123.execute-api.us-east-1.amazonaws.com/v1/") == "abc123"


def test_a_burst_of_connections_is_queued_not_reset(served) -> None:
    api, _ = served
    assert api._server.request_queue_size >= 64
    # Open more connections than http.server's default backlog of 5 before any is served: none is refused.
    host, port = api._server.server_address[:2]
    sockets = [socket.create_connection((host, port), timeout=5) for _ in range(64)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers = [sock.recv(64) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)
