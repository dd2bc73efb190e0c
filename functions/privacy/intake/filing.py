"""Filing a request: the one path the API, operators and the local cloud take (record, evidence, execution).

Every address gets the same answer and a code whether or not the company holds data about it, so the
API never reveals who is a customer. Raw identifiers stay in the KMS-encrypted request record; the
workflow, logs and evidence see the request id and HMACs only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from functions.privacy.core import timestamps
from functions.privacy.core.clients import Clients
from functions.privacy.core.keys import subject_hmac
from functions.privacy.core.settings import IntakeSettings
from functions.privacy.core.timestamps import format_utc
from functions.privacy.evidence import records as evidence
from functions.privacy.intake import consent
from functions.privacy.intake.consent import check_topics
from functions.privacy.intake.verification import verification_keys
from functions.privacy.requests import record as requests
from functions.privacy.requests import verification
from functions.privacy.requests.record import Jurisdiction, RequestStatus, RequestType

# Above any valid request (notes and corrections are bounded); the API's WAF enforces the same limit.
MAX_BODY_BYTES = 16 * 1024
BODY_TOO_LARGE = f"The body exceeds {MAX_BODY_BYTES} bytes."
MAX_NOTE = 2000
MAX_CORRECTIONS = 20
MAX_CORRECTION_VALUE = 500
MAX_EMAIL = 254  # RFC 5321 path limit
ATTRIBUTE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
AttributeName = Annotated[str, StringConstraints(pattern=ATTRIBUTE_PATTERN)]
CorrectionValue = Annotated[str, StringConstraints(max_length=MAX_CORRECTION_VALUE)]
MAX_TOPICS = 20
MAX_AGENT_NAME = 200
# A topic is a name from the data map, never free text: the 400 for an unknown one may name it.
TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class Agent(BaseModel):
    """Someone the consumer authorised to file for them (CCPA 11 CCR 7063): status mails only, never the data."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_AGENT_NAME, description="The agent's or agency's name.")
    email: EmailStr = Field(max_length=MAX_EMAIL, description="Where status mails (without codes or links) go.")

    @field_validator("email", mode="wrap")
    @classmethod
    def _as_typed(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> str:
        handler(value)
        return str(value)


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
    topics: list[TopicName] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TOPICS,
        description="opt_out only: withdraw consent for these topics of the contact list only (without it: all).",
    )
    agent: Agent | None = Field(
        default=None,
        description="An authorised agent filing for the consumer: the code still goes to `email`; the agent gets "
        "status mails, never codes or the archive.",
    )
    gpc: bool = Field(
        default=False,
        description="The Global Privacy Control signal as the form read it (navigator.globalPrivacyControl); "
        "a `Sec-GPC: 1` header counts the same.",
    )

    @field_validator("email", mode="wrap")
    @classmethod
    def _as_typed(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> str:
        # Kept as typed (EmailStr would lower-case the domain): a store may hold exactly this spelling, and
        # lookups derive the normalised one from the data map (subject HMACs are computed on it).
        handler(value)
        return str(value)

    @model_validator(mode="after")
    def _corrections_only_for_rectification(self) -> Submission:
        if self.type is RequestType.RECTIFICATION and not self.corrections:
            raise ValueError("a rectification request needs 'corrections' (attribute name -> corrected value)")
        if self.type is not RequestType.RECTIFICATION and self.corrections is not None:
            raise ValueError("'corrections' is accepted for rectification requests only")
        if self.type is not RequestType.OPT_OUT and self.topics is not None:
            raise ValueError("'topics' is accepted for opt_out requests only")
        return self


class NotServedInJurisdiction(ValueError):
    """The right does not exist in the request's jurisdiction (the API answers 400 naming it)."""


def jurisdiction_problem(submission: Submission) -> str | None:
    """Why this right cannot be filed in the submission's jurisdiction, or None."""
    # Cal. Civ. Code 1798.83 is a California right: elsewhere there is nothing to answer.
    if submission.type is RequestType.DISCLOSURE_NOTICE and submission.jurisdiction is not Jurisdiction.CCPA:
        return (
            "a disclosure_notice request (Cal. Civ. Code 1798.83) is for California residents: "
            "file it with jurisdiction CCPA"
        )
    return None


@dataclass(frozen=True)
class FiledRequest:
    request_id: str
    status: str
    status_token: str
    due_at: str


class Channel(str, Enum):
    """How a request reached the engine; recorded on the request and in its ``received`` evidence."""

    API = "api"  # the requester, through the public API: verified later by an emailed code
    OPERATOR = "operator"  # an operator who checked the identity another way
    LOCAL = "local"  # the local cloud's demo and end-to-end harness, filed as if verified


@dataclass(frozen=True)
class FilingPlace:
    """Where a filing writes: the requests table, the audit bucket, the workflow and the HMAC key."""

    requests_table: str
    audit_bucket: str
    state_machine_arn: str
    hmac_key_id: str
    subject_identifier: str


@dataclass(frozen=True)
class IdentityChecked:
    """A filing whose identity was checked before it reached the engine: it starts verified.

    ``fields`` go into the ``verified`` evidence as they are (no personal data: e.g. operator, reason).
    """

    method: str
    fields: Mapping[str, str] = field(default_factory=dict)


def submission_details(submission: Submission) -> dict[str, Any]:
    """What the requester added that the workflow needs later (corrections, topics, the agent's address) or
    operators read (note). Kept with the identifiers and dropped with them when the request closes."""
    agent = submission.agent.model_dump() if submission.agent else None
    details = {"corrections": submission.corrections, "note": submission.note, "topics": submission.topics}
    return {k: v for k, v in {**details, "agent": agent}.items() if v}


def file(
    submission: Submission,
    place: FilingPlace,
    clients: Any,
    *,
    channel: Channel,
    checked: IdentityChecked | None = None,
    request_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    received_fields: Mapping[str, Any] | None = None,
    subject: str | None = None,
) -> requests.RequestRecord:
    """The one way a request is filed: create the record, write its ``received`` evidence (and ``verified``
    when the identity was ``checked`` already), then start its workflow, tolerating a retry that finds the
    execution started.

    ``attributes`` are record attributes the channel owns (the status token's digest, who filed it);
    ``received_fields`` go into the ``received`` evidence (no personal data: signals, HMACs). ``subject`` is the
    address's subject HMAC when the caller derived it already (one GenerateMac per filing).
    """
    problem = jurisdiction_problem(submission)
    if problem:
        raise NotServedInJurisdiction(problem)
    received = now or timestamps.now()
    subject = subject or subject_hmac(
        clients.client("kms"), place.hmac_key_id, place.subject_identifier, submission.email
    )
    details = submission_details(submission)
    record = requests.create_request(
        clients.resource_table(place.requests_table),
        submission.type,
        {place.subject_identifier: submission.email},
        submission.jurisdiction,
        received=received,
        request_id=request_id,
        status=(RequestStatus.VERIFIED if checked else RequestStatus.PENDING_VERIFICATION).value,
        attributes={
            "subject_hmac": subject,
            "channel": channel.value,
            **({"details": details} if details else {}),
            **(attributes or {}),
        },
    )
    s3 = clients.client("s3")
    evidence.append_request_event(
        s3,
        place.audit_bucket,
        record.request_id,
        "received",
        {
            "request_type": record.type.value,
            "jurisdiction": record.jurisdiction.value,
            "subject": subject,
            "received_at": record.received_at,
            "due_at": record.due_at,
            "channel": channel.value,
            "corrections": len(submission.corrections or {}),
            **(received_fields or {}),
        },
    )
    if checked:
        evidence.append_request_event(
            s3,
            place.audit_bucket,
            record.request_id,
            "verified",
            {"verified_at": format_utc(received), "method": checked.method, **checked.fields},
        )
    start_workflow(clients, place.state_machine_arn, record.request_id)
    return record.model_copy(update={"subject_hmac": subject})


def file_request(
    submission: Submission,
    settings: IntakeSettings,
    clients: Clients,
    *,
    now: datetime | None = None,
    gpc_header: bool = False,
) -> FiledRequest:
    """The requester's filing through the API: pending verification, with a status token; an opt-out is
    filed verified (it needs no proof, see ``consent``).

    Returns the status token in clear once; only its keyed digest is stored.
    """
    check_topics(submission.topics, settings.datamap())
    request_id = requests.new_request_id()
    token = verification.new_status_token()
    digest = verification.token_digest(verification_keys(clients, settings), request_id, token)
    place = api_filing_place(settings)
    agent_email = submission.agent.email if submission.agent else None
    gpc = gpc_header or submission.gpc
    signals = consent.received_signals(submission.topics, agent_email, gpc, clients, place.hmac_key_id)
    waived = consent.needs_no_proof(submission.type)
    address = None
    if waived:
        address = subject_hmac(clients.client("kms"), place.hmac_key_id, place.subject_identifier, submission.email)
        table = clients.resource_table(place.requests_table)
        if not consent.confirmation_allowed(table, address, now or timestamps.now()):
            signals[consent.CONFIRMATION_SUPPRESSED] = True
    record = file(
        submission,
        place,
        clients,
        channel=Channel.API,
        checked=IdentityChecked(method=consent.NOT_REQUIRED) if waived else None,
        request_id=request_id,
        attributes={"status_token_digest": digest, **consent.record_attributes(submission.type, signals)},
        now=now,
        received_fields=signals,
        subject=address,
    )
    return FiledRequest(request_id, record.status, token, record.due_at)


def api_filing_place(settings: IntakeSettings) -> FilingPlace:
    return FilingPlace(
        requests_table=settings.REQUESTS_TABLE,
        audit_bucket=settings.AUDIT_BUCKET,
        state_machine_arn=settings.STATE_MACHINE_ARN,
        hmac_key_id=settings.HMAC_KEY_ID,
        subject_identifier=settings.datamap().subject_identifier,
    )


def start_workflow(clients: Any, state_machine_arn: str, request_id: str) -> None:
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
    gpc_header: bool = False,
) -> FiledRequest:
    """``file_request``, except that a repeated Idempotency-Key with the same body returns the first answer.

    The key is hashed together with the body, so reusing a key for a different request files that
    request rather than answering with someone else's. Records expire after an hour.
    """
    if not idempotency_key:
        return file_request(submission, settings, clients, gpc_header=gpc_header)
    config = IdempotencyConfig(hash_function="sha256", expires_after_seconds=3600, lambda_context=lambda_context)
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.IDEMPOTENCY_TABLE, boto3_client=clients.client("dynamodb")
    )

    @idempotent_function(
        data_keyword_argument="submitted", persistence_store=persistence, config=config, key_prefix="file_request"
    )
    def _file(submitted: dict[str, Any]) -> dict[str, Any]:
        return asdict(file_request(submission, settings, clients, gpc_header=gpc_header))

    submitted = {"idempotency_key": idempotency_key, "request": submission.model_dump(mode="json"), "gpc": gpc_header}
    filed = _file(submitted=submitted)
    return FiledRequest(**filed)
