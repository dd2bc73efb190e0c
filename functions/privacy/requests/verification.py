"""One-time codes that prove a requester controls the email address, and per-request status tokens.

Both are stored only as keyed digests (a secret derived from the KMS HMAC key) and compared in
constant time. A code expires with the workflow's task token, works once, and five wrong entries
reject the request. The record operations here are conditional updates, so two concurrent
attempts can neither both succeed nor both slip under the attempt limit.

Across requests, each address has two sliding 24-hour allowances (codes mailed, wrong guesses), kept in
the requests table as items ``address#<subject HMAC>`` that DynamoDB expires (``expires_at_epoch``).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from botocore.exceptions import ClientError

from functions.privacy.core.timestamps import format_utc, parse_utc
from functions.privacy.requests.record import RECORD, RequestStatus, updated_if

MAX_ATTEMPTS = 5
# Per address across its requests (see docs/decisions.md): a new filing must not buy fresh guesses.
CODES_PER_ADDRESS = 3
WRONG_GUESSES_PER_ADDRESS = 10
ADDRESS_WINDOW = timedelta(hours=24)
CODE_DIGITS = 6
# Compared against when no code was issued, so a missing code costs the same time as a wrong one.
_ABSENT_DIGEST = "0" * 64


class Digester(Protocol):
    def digest(self, text: str) -> str: ...


def new_code() -> str:
    """A uniformly random numeric code (``secrets``, not ``random``)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_status_token() -> str:
    """256 random bits: the requester's only key to the request's status."""
    return secrets.token_urlsafe(32)


def code_digest(keys: Digester, request_id: str, code: str) -> str:
    # Bound to the request id, so one request's digest says nothing about another's code.
    return keys.digest(f"verification-code\x00{request_id}\x00{code}")


def token_digest(keys: Digester, request_id: str, token: str) -> str:
    return keys.digest(f"status-token\x00{request_id}\x00{token}")


def digests_match(expected: str | None, candidate: str) -> bool:
    """Constant-time comparison; a missing expected digest never matches but takes as long."""
    return hmac.compare_digest((expected or _ABSENT_DIGEST).encode(), candidate.encode()) and bool(expected)


@dataclass(frozen=True)
class IssuedCode:
    digest: str
    expires_at: datetime
    attempts: int  # wrong entries so far

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> IssuedCode | None:
        if not item.get("code_digest"):
            return None
        return cls(
            digest=str(item["code_digest"]),
            expires_at=parse_utc(item["code_expires_at"], "code_expires_at"),
            attempts=int(item.get("code_attempts", 0)),
        )


class CodeCheck(str, Enum):
    VERIFIED = "verified"
    WRONG = "wrong"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    NOT_ISSUED = "not_issued"


def check_code(issued: IssuedCode | None, candidate_digest: str, now: datetime) -> CodeCheck:
    """What entering a code means, before anything is recorded (pure: the unit tests' subject)."""
    matches = digests_match(issued.digest if issued else None, candidate_digest)
    if issued is None:
        return CodeCheck.NOT_ISSUED
    if now >= issued.expires_at:
        return CodeCheck.EXPIRED
    if issued.attempts >= MAX_ATTEMPTS:
        return CodeCheck.EXHAUSTED
    return CodeCheck.VERIFIED if matches else CodeCheck.WRONG


def _key(request_id: str) -> dict[str, str]:
    return {"request_id": request_id, "record": RECORD}


def store_issued_code(table: Any, request_id: str, digest: str, expires_at: datetime, task_token: str) -> bool:
    """Record a freshly issued code and the task token that resumes the workflow (replaces an earlier code)."""
    return updated_if(
        table,
        Key=_key(request_id),
        UpdateExpression="SET code_digest = :digest, code_expires_at = :expires, code_attempts = :zero, "
        "task_token = :token",
        ConditionExpression="attribute_exists(request_id) AND #status = :pending",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":digest": digest,
            ":expires": format_utc(expires_at),
            ":zero": 0,
            ":token": task_token,
            ":pending": RequestStatus.PENDING_VERIFICATION.value,
        },
    )


def record_wrong_attempt(table: Any, request_id: str, digest: str) -> int | None:
    """Count one wrong entry of the current code; the new count, or None if the code changed meanwhile."""
    try:
        response = table.update_item(
            Key=_key(request_id),
            UpdateExpression="ADD code_attempts :one",
            ConditionExpression="#status = :pending AND code_digest = :digest AND code_attempts < :max",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":one": 1,
                ":pending": RequestStatus.PENDING_VERIFICATION.value,
                ":digest": digest,
                ":max": MAX_ATTEMPTS,
            },
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return int(response["Attributes"]["code_attempts"])


def consume_code(table: Any, request_id: str, digest: str, verified_at: datetime) -> bool:
    """Mark the request verified and forget the code, once: a second use finds no code to match."""
    return updated_if(
        table,
        Key=_key(request_id),
        UpdateExpression="SET #status = :verified, verified_at = :at REMOVE code_digest, code_expires_at",
        ConditionExpression="#status = :pending AND code_digest = :digest AND code_attempts < :max",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":verified": RequestStatus.VERIFIED.value,
            ":at": format_utc(verified_at),
            ":pending": RequestStatus.PENDING_VERIFICATION.value,
            ":digest": digest,
            ":max": MAX_ATTEMPTS,
        },
    )


def mark_rejected(table: Any, request_id: str, reason: str, at: datetime, evidence_key: str | None = None) -> bool:
    """The requester did not prove control of the address: drop the code, the token and the identifiers.

    The workflow's timeout wins over a code entered a moment too late, but never over a close: a request
    the requester cancelled or an operator refused meanwhile keeps its status (returns False).
    """
    values = {":rejected": RequestStatus.REJECTED_UNVERIFIED.value, ":reason": reason, ":at": format_utc(at)}
    assignments = "#status = :rejected, failure = :reason, completed_at = if_not_exists(completed_at, :at)"
    if evidence_key:
        assignments += ", evidence_key = :evidence"
        values[":evidence"] = evidence_key
    values |= {":cancelled": RequestStatus.CANCELLED.value, ":refused": RequestStatus.REFUSED.value}
    return updated_if(
        table,
        Key=_key(request_id),
        UpdateExpression=f"SET {assignments} REMOVE code_digest, code_expires_at, task_token, subject, details",
        ConditionExpression="attribute_exists(request_id) AND NOT #status IN (:cancelled, :refused)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=values,
    )


class AddressAllowance(str, Enum):
    """What an address may use up in a sliding window; the sort key of its counter item."""

    CODES = "codes"
    GUESSES = "wrong_guesses"


ALLOWANCE_LIMITS = {AddressAllowance.CODES: CODES_PER_ADDRESS, AddressAllowance.GUESSES: WRONG_GUESSES_PER_ADDRESS}


def address_key(address_hmac: str, allowance: AddressAllowance) -> dict[str, str]:
    """The counter's key: the subject HMAC only, never the address."""
    return {"request_id": f"address#{address_hmac}", "record": allowance.value}


def _recent(item: dict[str, Any] | None, now: datetime) -> list[int]:
    since = int((now - ADDRESS_WINDOW).timestamp())
    return sorted(int(t) for t in (item or {}).get("used_at_epoch", []) if int(t) > since)


def allowance_left(table: Any, address_hmac: str, allowance: AddressAllowance, now: datetime) -> int:
    """How many more the address may use in the window ending ``now``."""
    item = table.get_item(Key=address_key(address_hmac, allowance), ConsistentRead=True).get("Item")
    return max(0, ALLOWANCE_LIMITS[allowance] - len(_recent(item, now)))


def use_allowance(
    table: Any, address_hmac: str, allowance: AddressAllowance, now: datetime, *, attempts: int = 10
) -> bool:
    """Use one of the address's allowance; False (nothing recorded) when the window's limit is reached.

    Optimistic concurrency on a version number: two filings at once cannot both take the last code.
    """
    key = address_key(address_hmac, allowance)
    for _ in range(attempts):
        item = table.get_item(Key=key, ConsistentRead=True).get("Item")
        used = _recent(item, now)
        if len(used) >= ALLOWANCE_LIMITS[allowance]:
            return False
        used.append(int(now.timestamp()))
        version = int((item or {}).get("version", 0))
        values: dict[str, Any] = {
            ":used": used,
            ":next": version + 1,
            # Gone a window after its latest use: by then nothing in it counts any more.
            ":expires": int((now + ADDRESS_WINDOW).timestamp()) + 1,
        }
        condition = "attribute_not_exists(version)"
        if item is not None:
            condition, values[":version"] = "version = :version", version
        try:
            table.update_item(
                Key=key,
                UpdateExpression="SET used_at_epoch = :used, version = :next, expires_at_epoch = :expires",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            continue  # a concurrent use: read again
        return True
    raise RuntimeError("the address's allowance kept changing under concurrent updates")  # pragma: no cover


def record_code_limited(table: Any, request_id: str, at: datetime) -> None:
    """Note on the request that no code was mailed because its address had used its codes (HMAC-keyed only)."""
    table.update_item(
        Key=_key(request_id),
        UpdateExpression="SET code_limit_reached_at = :at",
        ConditionExpression="attribute_exists(request_id)",
        ExpressionAttributeValues={":at": format_utc(at)},
    )
