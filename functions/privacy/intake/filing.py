"""Intake use cases: file a request, prove control of the email address, and look up a request's status.

Every address gets the same answer and a code whether or not the company holds data about it, so the
API never reveals who is a customer. Raw identifiers stay in the KMS-encrypted request record; the
workflow, logs and evidence see the request id and HMACs only.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NoReturn

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator, model_validator

from functions.privacy.core.clients import Clients
from functions.privacy.core.keys import DerivedKeys, subject_hmac
from functions.privacy.core.settings import HmacKey, IntakeSettings, RejectUnverifiedSettings, SendCodeSettings
from functions.privacy.evidence import records as evidence
from functions.privacy.requests import record as requests
from functions.privacy.requests import verification
from functions.privacy.requests.notices import send_verification_email
from functions.privacy.requests.record import Jurisdiction, RequestNotFound, RequestStatus, RequestType, iso

# Above any valid request (notes and corrections are bounded); the API's WAF enforces the same limit.
MAX_BODY_BYTES = 16 * 1024
BODY_TOO_LARGE = f"The body exceeds {MAX_BODY_BYTES} bytes."
MAX_NOTE = 2000
MAX_CORRECTIONS = 20
MAX_CORRECTION_VALUE = 500
MAX_EMAIL = 254  # RFC 5321 path limit
ATTRIBUTE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
CODE_PATTERN = rf"^[0-9]{{{verification.CODE_DIGITS}}}$"
REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Error names the workflow catches on the verification task, and what they mean on the record.
REJECTION_REASONS = {"States.Timeout": "code_expired", "VerificationFailed": "too_many_wrong_codes"}
VERIFICATION_FAILED = "VerificationFailed"

AttributeName = Annotated[str, StringConstraints(pattern=ATTRIBUTE_PATTERN)]
CorrectionValue = Annotated[str, StringConstraints(max_length=MAX_CORRECTION_VALUE)]


class Submission(BaseModel):
    """A privacy request as a requester files it."""

    model_config = ConfigDict(extra="forbid")

    type: RequestType = Field(description="The right being exercised.")
    email: EmailStr = Field(max_length=MAX_EMAIL, description="The address the one-time code is sent to.")
    jurisdiction: Jurisdiction = Field(
        default=Jurisdiction.GDPR, description="Sets the deadline: GDPR one month, CCPA 45 days."
    )
    corrections: dict[AttributeName, CorrectionValue] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CORRECTIONS,
        description="Rectification only: attribute name -> corrected value.",
    )
    note: str | None = Field(default=None, max_length=MAX_NOTE, description="Anything the requester wants to add.")

    @field_validator("email")
    @classmethod
    def _one_spelling_per_address(cls, value: str) -> str:
        # Stores, HMACs and lookups see one spelling: mailbox providers treat addresses case-insensitively.
        return value.lower()

    @model_validator(mode="after")
    def _corrections_only_for_rectification(self) -> Submission:
        if self.type is RequestType.RECTIFICATION and not self.corrections:
            raise ValueError("a rectification request needs 'corrections' (attribute name -> corrected value)")
        if self.type is not RequestType.RECTIFICATION and self.corrections is not None:
            raise ValueError("'corrections' is accepted for rectification requests only")
        return self


@dataclass(frozen=True)
class FiledRequest:
    request_id: str
    status: str
    status_token: str
    due_at: str


@dataclass(frozen=True)
class RequestView:
    request_id: str
    type: str
    status: str
    due_at: str
    created_at: str
    completed_at: str | None
    result: dict[str, str] | None


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


def verification_keys(clients: Clients, settings: HmacKey) -> DerivedKeys:
    """The local HMAC for codes and status tokens (one KMS call; the secret never leaves memory)."""
    return DerivedKeys(clients.client("kms"), settings.HMAC_KEY_ID, "verification-v1")


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def file_request(
    submission: Submission, settings: IntakeSettings, clients: Clients, *, now: datetime | None = None
) -> FiledRequest:
    """Create the request (pending verification), write the ``received`` evidence and start its workflow.

    Returns the status token in clear once; only its keyed digest is stored.
    """
    received = _now(now)
    table = clients.resource_table(settings.REQUESTS_TABLE)
    request_id = requests.new_request_id()
    token = verification.new_status_token()
    keys = verification_keys(clients, settings)
    identifier = settings.datamap().subject_identifier
    subject = subject_hmac(clients.client("kms"), settings.HMAC_KEY_ID, identifier, submission.email)
    details = {
        k: v for k, v in {"corrections": submission.corrections, "note": submission.note}.items() if v is not None
    }
    record = requests.create_request(
        table,
        submission.type,
        {identifier: submission.email},
        submission.jurisdiction,
        received=received,
        request_id=request_id,
        status=RequestStatus.PENDING_VERIFICATION.value,
        attributes={
            "subject_hmac": subject,
            "status_token_digest": verification.token_digest(keys, request_id, token),
            **({"details": details} if details else {}),
        },
    )
    evidence.append_request_event(
        clients.client("s3"),
        settings.AUDIT_BUCKET,
        request_id,
        "received",
        {
            "request_type": record.type.value,
            "jurisdiction": record.jurisdiction.value,
            "subject": subject,
            "received_at": record.received_at,
            "due_at": record.due_at,
            "channel": "api",
            "corrections": len(submission.corrections or {}),
        },
    )
    start_workflow(clients, settings.STATE_MACHINE_ARN, request_id)
    return FiledRequest(request_id, record.status, token, record.due_at)


def start_workflow(clients: Clients, state_machine_arn: str, request_id: str) -> None:
    """One execution per request, named after it; the input is the id alone (no personal data in state)."""
    sfn = clients.client("stepfunctions")
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn, name=request_id, input=json.dumps({"request_id": request_id})
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        pass  # a retry after the execution started: the same request, the same execution


def file_request_once(
    submission: Submission,
    idempotency_key: str | None,
    settings: IntakeSettings,
    clients: Clients,
    *,
    lambda_context: Any = None,
) -> FiledRequest:
    """``file_request``, except that a repeated Idempotency-Key with the same body returns the first answer.

    The key is hashed together with the body, so reusing a key for a different request files that
    request rather than answering with someone else's. Records expire after an hour.
    """
    if not idempotency_key:
        return file_request(submission, settings, clients)
    config = IdempotencyConfig(hash_function="sha256", expires_after_seconds=3600, lambda_context=lambda_context)
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.IDEMPOTENCY_TABLE, boto3_client=clients.client("dynamodb")
    )

    @idempotent_function(
        data_keyword_argument="submitted", persistence_store=persistence, config=config, key_prefix="file_request"
    )
    def _file(submitted: dict[str, Any]) -> dict[str, Any]:
        return asdict(file_request(submission, settings, clients))

    filed = _file(submitted={"idempotency_key": idempotency_key, "request": submission.model_dump(mode="json")})
    return FiledRequest(**filed)


def request_status(
    request_id: str, status_token: str | None, settings: IntakeSettings, clients: Clients
) -> RequestView:
    """The request's status for whoever holds its status token; anyone else gets RequestNotFound.

    An unknown id, a missing token and a wrong token are indistinguishable, in answer and in the work done.
    """
    candidate = verification.token_digest(verification_keys(clients, settings), request_id, status_token or "")
    table = clients.resource_table(settings.REQUESTS_TABLE)
    try:
        item = _request_item(table, request_id)
    except RequestNotFound:
        item = {}
    if not verification.digests_match(item.get("status_token_digest"), candidate) or not status_token:
        raise RequestNotFound(f"request {request_id} does not exist")
    record = requests.RequestRecord.model_validate(item)
    result = {k: v for k, v in {"evidence_key": record.evidence_key, "failure": record.failure}.items() if v}
    return RequestView(
        request_id=record.request_id,
        type=record.type.value,
        status=record.status,
        due_at=record.due_at,
        created_at=record.received_at,
        completed_at=record.completed_at,
        result=result or None,
    )


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
    item = _request_item(table, request_id)
    if item.get("status") != RequestStatus.PENDING_VERIFICATION.value:
        if item.get("status") == RequestStatus.REJECTED_UNVERIFIED.value:
            too_many = item.get("failure") == REJECTION_REASONS[VERIFICATION_FAILED]
            raise VerificationRejected() if too_many else CodeExpired()
        raise NotAwaitingVerification()
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
        {"verified_at": iso(at), "method": "email_code", "wrong_attempts": issued.attempts},
    )
    _resume_workflow(clients, str(item["task_token"]))
    return RequestStatus.VERIFIED


def _request_item(table: Any, request_id: str) -> dict[str, Any]:
    # Ids we never issued are unknown without asking DynamoDB (which rejects oversized keys with a 400).
    if not REQUEST_ID.match(request_id):
        raise RequestNotFound(f"request {request_id[:80]} does not exist")
    return requests.request_item(table, request_id)


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
) -> dict[str, str]:
    """Issue a fresh code for the waiting workflow task and email it with the acknowledgement.

    The code expires when the task does (``entered_at`` + its timeout). Returns no code: Lambda
    results are kept in the execution history.
    """
    table = clients.resource_table(settings.REQUESTS_TABLE)
    record = requests.get_request(table, request_id)
    if record.status != RequestStatus.PENDING_VERIFICATION.value:
        raise NotAwaitingVerification()
    expires_at = _parse_time(entered_at) + timedelta(seconds=timeout_seconds)
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
        expires_at=iso(expires_at),
        due_at=record.due_at,
    )
    return {"request_id": request_id, "code_expires_at": iso(expires_at), "message_id": message_id}


def reject_unverified(
    request_id: str, error: str, settings: RejectUnverifiedSettings, clients: Clients, *, now: datetime | None = None
) -> dict[str, str]:
    """The workflow's end for a requester who never proved control of the address: record it, with evidence."""
    at = _now(now)
    reason = REJECTION_REASONS.get(error, "not_verified")
    key, _, _ = evidence.append_request_event(
        clients.client("s3"),
        settings.AUDIT_BUCKET,
        request_id,
        RequestStatus.REJECTED_UNVERIFIED.value,
        {"reason": reason, "rejected_at": iso(at)},
    )
    verification.mark_rejected(clients.resource_table(settings.REQUESTS_TABLE), request_id, reason, at, key)
    return {"request_id": request_id, "status": RequestStatus.REJECTED_UNVERIFIED.value, "evidence_key": key}


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
