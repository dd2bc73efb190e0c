"""Proving control of the email address: the code sent while the workflow waits, its check, and the
rejection of a requester who never proves it (evidence for each)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any, NoReturn

from botocore.exceptions import ClientError

from functions.privacy.core import timestamps
from functions.privacy.core.clients import Clients
from functions.privacy.core.keys import DerivedKeys, subject_hmac
from functions.privacy.core.settings import HmacKey, IntakeSettings, RejectUnverifiedSettings, SendCodeSettings
from functions.privacy.core.timestamps import format_utc, parse_utc
from functions.privacy.evidence import records as evidence
from functions.privacy.requests import record as requests
from functions.privacy.requests import verification
from functions.privacy.requests.agent_notices import send_agent_status
from functions.privacy.requests.notices import send_verification_email
from functions.privacy.requests.record import RequestNotFound, RequestStatus

CODE_PATTERN = rf"^[0-9]{{{verification.CODE_DIGITS}}}$"
REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Error names the workflow catches on the verification task, and what they mean on the record.
REJECTION_REASONS = {
    "States.Timeout": "code_expired",
    "VerificationFailed": "too_many_wrong_codes",
    "CodeLimitReached": "address_code_limit",
}
VERIFICATION_FAILED = "VerificationFailed"
# Closes a person decided (the requester cancelled, an operator refused): the workflow never overwrites them.
CLOSED_BY_PEOPLE = frozenset({RequestStatus.CANCELLED.value, RequestStatus.REFUSED.value})


class CodeLimitReached(Exception):
    """The address was mailed its codes for the day: no code for this filing (the workflow rejects it).

    The Lambda error's name is what the workflow catches; it carries no address.
    """

    def __init__(self) -> None:
        super().__init__(f"the address was mailed {verification.CODES_PER_ADDRESS} codes in the last 24 hours")


class VerificationError(Exception):
    """A code that does not verify the request; ``code`` names the problem for the API."""

    code = "verification_error"


class CodeIncorrect(VerificationError):
    code = "code_incorrect"

    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"The code is not correct; {attempts_left} attempt(s) left.")
        self.attempts_left = attempts_left


class CodeExpired(VerificationError):
    code = "code_expired"

    def __init__(self) -> None:
        super().__init__("The code has expired; the request was not verified. Please file a new request.")


class CodeNotSent(VerificationError):
    code = "code_not_sent"

    def __init__(self) -> None:
        super().__init__("No code has been sent for this request yet; try again in a moment.")


class NotAwaitingVerification(VerificationError):
    code = "not_awaiting_verification"

    def __init__(self) -> None:
        super().__init__("This request is not waiting for a code (codes work once).")


class VerificationRejected(VerificationError):
    code = "verification_failed"

    def __init__(self) -> None:
        super().__init__(
            f"Too many wrong codes ({verification.MAX_ATTEMPTS}): the request is rejected. Please file a new request."
        )


class AddressGuessLimit(VerificationError):
    code = "address_guess_limit"

    def __init__(self) -> None:
        super().__init__("Too many wrong codes for this address today; try again in 24 hours.")


def verification_keys(clients: Clients, settings: HmacKey) -> DerivedKeys:
    """The local HMAC for codes and status tokens (one KMS call; the secret never leaves memory)."""
    return DerivedKeys(clients.client("kms"), settings.HMAC_KEY_ID, "verification-v1")


def _now(now: datetime | None) -> datetime:
    return now or timestamps.now()


def verify_code(
    request_id: str, code: str, settings: IntakeSettings, clients: Clients, *, now: datetime | None = None
) -> RequestStatus:
    """Check a code entered by the requester; the right one resumes the waiting workflow.

    Raises a VerificationError naming the problem. The fifth wrong code rejects the request and
    fails the waiting task with VerificationFailed, which the workflow records as evidence.
    """
    at = _now(now)
    table = clients.resource_table(settings.REQUESTS_TABLE)
    candidate = verification.code_digest(verification_keys(clients, settings), request_id, code)
    item = request_item(table, request_id)
    if item.get("status") != RequestStatus.PENDING_VERIFICATION.value:
        if item.get("status") == RequestStatus.REJECTED_UNVERIFIED.value:
            too_many = item.get("failure") == REJECTION_REASONS[VERIFICATION_FAILED]
            raise VerificationRejected() if too_many else CodeExpired()
        raise NotAwaitingVerification()
    # Wrong guesses count per address across its requests, so filing again buys no new guesses.
    address = _address_hmac(clients, settings, table, request_id, item.get("subject_hmac"))
    if verification.allowance_left(table, address, verification.AddressAllowance.GUESSES, at) == 0:
        raise AddressGuessLimit()
    issued = verification.IssuedCode.from_item(item)
    check = verification.check_code(issued, candidate, at)
    if check is verification.CodeCheck.NOT_ISSUED:
        raise CodeNotSent()
    assert issued is not None
    if check is verification.CodeCheck.EXPIRED:
        raise CodeExpired()
    if check is verification.CodeCheck.EXHAUSTED:
        _reject_after_wrong_codes(table, clients, request_id, item, at)
    if check is verification.CodeCheck.WRONG:
        attempts = verification.record_wrong_attempt(table, request_id, issued.digest)
        if attempts is None:  # a concurrent attempt or a new code changed the record: answer from the new state
            return verify_code(request_id, code, settings, clients, now=now)
        verification.use_allowance(table, address, verification.AddressAllowance.GUESSES, at)
        if attempts >= verification.MAX_ATTEMPTS:
            _reject_after_wrong_codes(table, clients, request_id, item, at)
        raise CodeIncorrect(verification.MAX_ATTEMPTS - attempts)
    if not verification.consume_code(table, request_id, issued.digest, at):
        raise NotAwaitingVerification()  # used by a concurrent request a moment ago
    # Evidence before resuming, so the chain reads received -> verified -> completed.
    evidence.append_request_event(
        clients.client("s3"),
        settings.AUDIT_BUCKET,
        request_id,
        "verified",
        {"verified_at": format_utc(at), "method": "email_code", "wrong_attempts": issued.attempts},
    )
    _resume_workflow(clients, str(item["task_token"]))
    return RequestStatus.VERIFIED


def request_item(table: Any, request_id: str) -> dict[str, Any]:
    # Ids we never issued are unknown without asking DynamoDB (which rejects oversized keys with a 400).
    if not REQUEST_ID.match(request_id):
        raise RequestNotFound(f"request {request_id[:80]} does not exist")
    return requests.request_item(table, request_id)


def _address_hmac(
    clients: Clients, settings: IntakeSettings | SendCodeSettings, table: Any, request_id: str, known: Any
) -> str:
    """The key of the address's allowances: the subject HMAC filing stored (case-insensitive), else derived."""
    if known:
        return str(known)
    name = settings.datamap().subject_identifier
    email = requests.get_identifiers(table, request_id)[name]
    return subject_hmac(clients.client("kms"), settings.HMAC_KEY_ID, name, email)


def _resume_workflow(clients: Clients, task_token: str) -> None:
    sfn = clients.client("stepfunctions")
    try:
        sfn.send_task_success(taskToken=task_token, output=json.dumps({"verified": True}))
    except ClientError as exc:
        # The task already timed out: the workflow records the request as rejected_unverified.
        if exc.response["Error"]["Code"] in {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}:
            raise CodeExpired() from None
        raise


def _reject_after_wrong_codes(
    table: Any, clients: Clients, request_id: str, item: dict[str, Any], at: datetime
) -> NoReturn:
    verification.mark_rejected(table, request_id, REJECTION_REASONS[VERIFICATION_FAILED], at)
    try:
        clients.client("stepfunctions").send_task_failure(
            taskToken=str(item["task_token"]),
            error=VERIFICATION_FAILED,
            cause=f"{verification.MAX_ATTEMPTS} wrong codes",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}:
            raise
    raise VerificationRejected()


def send_code(
    request_id: str,
    task_token: str,
    entered_at: str,
    timeout_seconds: int,
    settings: SendCodeSettings,
    clients: Clients,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """Issue a fresh code for the waiting workflow task and email it with the acknowledgement.

    The code expires when the task does (``entered_at`` + its timeout). Returns no code: Lambda
    results are kept in the execution history. An address mailed its codes for the day gets none:
    CodeLimitReached, noted on the request (the filer already had the same 202 as anyone).
    """
    at = _now(now)
    table = clients.resource_table(settings.REQUESTS_TABLE)
    record = requests.get_request(table, request_id)
    if record.status != RequestStatus.PENDING_VERIFICATION.value:
        raise NotAwaitingVerification()
    address = _address_hmac(clients, settings, table, request_id, record.subject_hmac)
    if not verification.use_allowance(table, address, verification.AddressAllowance.CODES, at):
        verification.record_code_limited(table, request_id, at)
        raise CodeLimitReached()
    expires_at = parse_utc(entered_at, "entered_at") + timedelta(seconds=timeout_seconds)
    code = verification.new_code()
    digest = verification.code_digest(verification_keys(clients, settings), request_id, code)
    if not verification.store_issued_code(table, request_id, digest, expires_at, task_token):
        raise NotAwaitingVerification()
    email = requests.get_identifiers(table, request_id)[settings.datamap().subject_identifier]
    message_id = send_verification_email(
        clients.client("sesv2"),
        settings.SENDER_EMAIL,
        email,
        request_id=request_id,
        request_type=record.type.value,
        code=code,
        expires_at=format_utc(expires_at),
        due_at=record.due_at,
        configuration_set=settings.SES_CONFIGURATION_SET,
    )
    # The agent hears that it was received; the code went to the consumer's own address only.
    item = requests.request_item(table, request_id)
    send_agent_status(
        clients.client("sesv2"),
        settings.SENDER_EMAIL,
        item,
        "received",
        configuration_set=settings.SES_CONFIGURATION_SET,
    )
    return {"request_id": request_id, "code_expires_at": format_utc(expires_at), "message_id": message_id}


def reject_unverified(
    request_id: str, error: str, settings: RejectUnverifiedSettings, clients: Clients, *, now: datetime | None = None
) -> dict[str, str]:
    """The workflow's end for a requester who never proved control of the address: record it, with evidence."""
    at = _now(now)
    reason = REJECTION_REASONS.get(error, "not_verified")
    table = clients.resource_table(settings.REQUESTS_TABLE)
    closed = requests.get_request(table, request_id).status
    if closed in CLOSED_BY_PEOPLE:
        # Cancelled or refused while the code was awaited: that close and its evidence stand.
        return {"request_id": request_id, "status": closed}
    key, _, _ = evidence.append_request_event(
        clients.client("s3"),
        settings.AUDIT_BUCKET,
        request_id,
        RequestStatus.REJECTED_UNVERIFIED.value,
        {"reason": reason, "rejected_at": format_utc(at)},
    )
    if not verification.mark_rejected(table, request_id, reason, at, key):
        return {"request_id": request_id, "status": requests.get_request(table, request_id).status}
    return {"request_id": request_id, "status": RequestStatus.REJECTED_UNVERIFIED.value, "evidence_key": key}
