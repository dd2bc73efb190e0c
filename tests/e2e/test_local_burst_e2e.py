"""Issue 16: the local cloud holds a burst the way AWS does. 100 filings from 20 threads, plus concurrent retries of
5 Idempotency-Keys, against the local REST API: no 5xx and no reset connection, every fresh filing 202 with its own
id, one id per key, one code mailed per address."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e import intake_support as support

FRESH, THREADS, KEYS, RETRIES = 100, 20, 5, 4
_answered: dict[str, float] = {}  # address -> when its first filing was answered (epoch seconds)


@pytest.fixture(scope="module")
def intake(local_cloud):
    with support.serve_api(local_cloud) as served:
        yield served


def _file(url: str, body: dict[str, Any], key: str | None = None) -> tuple[int, dict[str, Any] | str]:
    answer = _post(url, body, key)
    _answered.setdefault(body["email"], time.time())  # the first answer to an address: its code is due after it
    return answer


def _post(url: str, body: dict[str, Any], key: str | None) -> tuple[int, dict[str, Any] | str]:
    headers = {"Idempotency-Key": key} if key else {}
    try:
        answer = requests.post(f"{url}/requests", json=body, headers=headers, timeout=120)
    except requests.ConnectionError as exc:  # a reset or refused connection: what the burst must never cause
        return 0, f"{type(exc).__name__}: {exc}"
    try:
        return answer.status_code, answer.json()
    except ValueError:
        return answer.status_code, answer.text


def _codes_mailed(outbox: Path) -> dict[str, list[float]]:
    """Recipient -> when each code mail to it was written (epoch seconds)."""
    sent: dict[str, list[float]] = {}
    for path in outbox.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        if body is not None and support.CODE_LINE.search(str(body.get_content())):
            sent.setdefault(str(message["To"]), []).append(path.stat().st_mtime)
    return sent


def _why_no_code(local_cloud, request_ids: list[str]) -> dict[str, str]:
    """What became of the requests whose address got no code: their status and failure, for the assertion."""
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    found = {}
    for request_id in request_ids:
        item = table.get_item(Key={"request_id": request_id, "record": "request"}).get("Item") or {}
        found[request_id] = f"{item.get('status')} ({item.get('failure')})"
    return found


def test_a_burst_of_filings_is_answered_like_api_gateway_would(intake, local_cloud) -> None:
    run = uuid.uuid4().hex[:8]
    fresh = [{"type": "access", "email": f"burst-{run}-{n}@example.org", "jurisdiction": "GDPR"} for n in range(FRESH)]
    keyed = [
        (f"burst-{run}-key-{k}", {"type": "access", "email": f"burst-{run}-keyed-{k}@example.org"}) for k in range(KEYS)
    ]
    jobs = [(body, None) for body in fresh] + [(body, key) for key, body in keyed for _ in range(RETRIES)]
    # Interleave so the retries of one key arrive together with the fresh filings, not after them.
    jobs.sort(key=lambda job: hash((run, job[0]["email"], id(job))))
    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda job: (job, _file(intake.url, *job)), jobs))
    elapsed = time.monotonic() - started

    failures = [(job[0]["email"], status, body) for job, (status, body) in answers if status == 0 or status >= 500]
    assert not failures, failures[:5]
    by_email = {job[0]["email"]: answer for job, answer in answers if job[1] is None}
    assert {status for status, _ in by_email.values()} == {202}, Counter(s for s, _ in by_email.values())
    ids = [body["request_id"] for _, body in by_email.values()]
    assert len(set(ids)) == FRESH  # each fresh filing its own request
    for key, _ in keyed:
        tries = [answer for job, answer in answers if job[1] == key]
        assert {status for status, _ in tries} <= {200, 202, 409}, tries
        key_ids = {b["request_id"] for status, b in tries if status in (200, 202)}
        assert len(key_ids) == 1, (key, tries)  # one request per key, whatever the retries saw
        assert not key_ids & set(ids)

    # Every address gets exactly one code: the fresh ones and each key's one request.
    addresses = [body["email"] for body in fresh] + [body["email"] for _, body in keyed]
    deadline = time.monotonic() + 240
    while True:
        sent = _codes_mailed(intake.outbox)
        missing = [a for a in addresses if not sent.get(a)]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    if missing:
        ids_of = {job[0]["email"]: body["request_id"] for job, (status, body) in answers if status in (200, 202)}
        why = _why_no_code(local_cloud, [ids_of[a] for a in missing[:5]])
        pytest.fail(f"{len(missing)} addresses got no code after {time.monotonic() - started:.0f}s: {why}")
    mailed = time.monotonic() - started
    time.sleep(2)  # a duplicate would have been sent by now
    sent = _codes_mailed(intake.outbox)
    assert {a: len(sent[a]) for a in addresses if len(sent[a]) != 1} == {}
    # How long a code waited after its filing was answered: the code's lifetime must cover it under a burst.
    lag = max(sent[a][0] - _answered[a] for a in addresses)
    print(
        f"{len(jobs)} filings from {THREADS} threads in {elapsed:.1f}s, "
        f"every code mailed {mailed:.1f}s after the first filing, the slowest {lag:.1f}s after its filing was answered"
    )
