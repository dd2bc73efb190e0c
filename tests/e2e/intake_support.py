"""Helpers for the intake end-to-end tests: the local REST API, the outbox and the request status."""

from __future__ import annotations

import email
import re
import time
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import requests

CODE_LINE = re.compile(r"^Verification code: (\d{6})\s*$", re.MULTILINE)
TERMINAL = {"completed", "partially_completed", "failed", "rejected_unverified"}


def email_text(path: Path) -> str:
    """The plain-text part of an .eml file from the outbox."""
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, f"{path.name} has no text part"
    return str(part.get_content())


def emails_for(outbox: Path, request_id: str) -> list[tuple[Path, str]]:
    """Outbox messages that mention the request id, oldest first."""
    found = []
    for path in sorted(outbox.glob("*.eml")):
        text = email_text(path)
        if request_id in text:
            found.append((path, text))
    return found


def read_code(outbox: Path, request_id: str, timeout: float = 30.0) -> str:
    """Wait for the verification email of ``request_id`` and return its code (the latest one sent)."""
    deadline = time.monotonic() + timeout
    while True:
        for _, text in reversed(emails_for(outbox, request_id)):
            match = CODE_LINE.search(text)
            if match:
                return match.group(1)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no verification code for {request_id} in {outbox} after {timeout}s")
        time.sleep(0.2)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


class ApiClient:
    """A requester talking HTTP to the local REST API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def file(self, request: dict[str, Any], **headers: str) -> requests.Response:
        return self.session.post(f"{self.base_url}/requests", json=request, headers=headers, timeout=60)

    def verify(self, request_id: str, code: str) -> requests.Response:
        return self.session.post(f"{self.base_url}/requests/{request_id}/verify", json={"code": code}, timeout=60)

    def status(self, request_id: str, token: str | None) -> requests.Response:
        headers = {"X-Status-Token": token} if token is not None else {}
        return self.session.get(f"{self.base_url}/requests/{request_id}", headers=headers, timeout=60)

    def wait_for(self, request_id: str, token: str, statuses: set[str] = TERMINAL, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            answer = self.status(request_id, token)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            if body["status"] in statuses:
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(f"{request_id} still {body['status']} after {timeout}s")
            time.sleep(0.5)


class ServedApi:
    """The local REST API in front of the deployed intake Lambda, plus what tests need to look behind it."""

    def __init__(self, cloud: Any, outputs: dict[str, str], outbox: Path) -> None:
        from local.api import LocalApi, rest_api_id_from_url

        self.client = cloud.client
        self.outputs = outputs
        self.outbox = outbox
        self._api = LocalApi(cloud.client, rest_api_id=rest_api_id_from_url(outputs["ApiUrl"]), port=0)

    @property
    def url(self) -> str:
        return self._api.url

    def __enter__(self) -> ServedApi:
        self._started = datetime.now(UTC) - timedelta(seconds=1)
        self._api.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._api.stop()
        self._stop_waiting_executions()

    def _stop_waiting_executions(self) -> None:
        """Requests filed here and never verified would wait out their code after the session ends."""
        sfn = self.client("stepfunctions")
        machine = self.outputs["RequestStateMachineArn"]
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="RUNNING"):
            for execution in page["executions"]:
                if execution["startDate"] < self._started:
                    continue  # not ours
                sfn.stop_execution(executionArn=execution["executionArn"], error="TestSessionEnded")


def serve_api(local_cloud: Any) -> ServedApi:
    """Serve the API of the session's local cloud on a free port (the `local_cloud` fixture's parts)."""
    return ServedApi(local_cloud.cloud, local_cloud.outputs, local_cloud.outbox)


def sample_subjects(local_cloud: Any) -> list[dict[str, str]]:
    return list(local_cloud.subjects)
