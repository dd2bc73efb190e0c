"""The request intake API (API Gateway REST, Lambda proxy): file a request, verify it, read its status."""

from __future__ import annotations

import base64
from functools import lru_cache
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import IntakeSettings
from functions.privacy.intake import cancellation
from functions.privacy.intake import downloads as archive_downloads
from functions.privacy.intake import filing as intake
from functions.privacy.intake import status as requester_status
from functions.privacy.intake import verification as codes
from functions.privacy.intake.consent import UnknownTopic, known_topics
from functions.privacy.requests.record import RequestNotFound, RequestStatus, RequestType

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = IntakeSettings

TITLE = "Privacy request intake API"
VERSION = "1.0.0"
MAX_BODY_BYTES = intake.MAX_BODY_BYTES
ALLOWED_HEADERS = ["Content-Type", "Idempotency-Key", "X-Status-Token"]

# No pattern here: a malformed id is just an unknown one (404), not a validation error.
RequestId = Annotated[str, Path(description="The id returned when the request was filed.")]


class Problem(BaseModel):
    field: str = Field(description="Where the problem is, e.g. body.email.")
    problem: str = Field(description="What is wrong with it.")


class ErrorBody(BaseModel):
    """Every 4xx answer: a stable error code, a sentence for people and, for bad input, the fields at fault."""

    error: str
    message: str
    problems: list[Problem] = Field(default_factory=list)
    attempts_left: int | None = None


class FiledResponse(BaseModel):
    request_id: str
    status: Literal["pending_verification", "verified"] = Field(
        description="pending_verification (a code is on its way), or verified for an opt-out, which needs none."
    )
    status_token: str = Field(description="Send as X-Status-Token to read the status. Shown only once.")
    due_at: str = Field(description="When the answer is due (UTC): one month (GDPR) or 45 days (CCPA) after receipt.")


class VerifyBody(BaseModel):
    code: str = Field(pattern=codes.CODE_PATTERN, description="The code from the email.")


class VerifiedResponse(BaseModel):
    request_id: str
    status: RequestStatus


class RequestResult(BaseModel):
    evidence_key: str | None = Field(default=None, description="The evidence record in the audit bucket.")
    failure: str | None = Field(default=None, description="Why the request failed or was rejected.")


class StatusResponse(BaseModel):
    request_id: str
    type: RequestType
    status: RequestStatus
    due_at: str
    created_at: str
    completed_at: str | None
    result: RequestResult | None


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


BAD_INPUT = {
    400: _error("Malformed JSON"),
    413: _error("Request body too large"),
    415: _error("Unsupported content type"),
    422: _error("The request is not valid: `problems` names each field at fault"),
}
THROTTLED = {429: _error("Too many requests (stage throttling or the per-client limit)")}


def _json(status: int, body: BaseModel) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(exclude_none=True),
    )


def error_response(status: int, error: str, message: str, **extra: Any) -> Response:
    return _json(status, ErrorBody(error=error, message=message, **extra))


@lru_cache(maxsize=4)
def cors_config(form_origin: str) -> CORSConfig:
    """CORS admits only the request form's origin (configured at deploy time)."""
    return CORSConfig(allow_origin=form_origin, allow_headers=ALLOWED_HEADERS, max_age=600)


@lru_cache(maxsize=4)
def build_app(form_origin: str) -> APIGatewayRestResolver:
    """The resolver with its routes (built per form origin: the local cloud runs several stacks in one process)."""
    app = APIGatewayRestResolver(enable_validation=True, cors=cors_config(form_origin))
    _filing_route(app)
    _verification_route(app)
    _status_route(app)
    _cancel_route(app)
    _download_route(app)
    _topics_route(app)
    _input_errors(app)
    _domain_errors(app)
    _jurisdiction_errors(app)
    _download_errors(app)
    _consent_errors(app)
    return app


def _filing_route(app: APIGatewayRestResolver) -> None:
    """POST /requests -> intake.file_request_once."""

    @app.post(
        "/requests",
        status_code=202,
        summary="File a privacy request",
        description=(
            "Every address gets the same answer, and a code by email, whether or not data exists for it. An opt_out "
            "needs no code: it is filed verified and carried out at once, and the address is told so by email."
        ),
        responses={
            202: {"description": "Filed; a code is on its way to the address (an opt_out: being carried out)"},
            400: _error(
                "Malformed JSON, an opt_out naming a topic the contact lists do not have (unknown_topic), or a right "
                "filed outside its jurisdiction (not_in_jurisdiction: disclosure_notice is CCPA only)"
            ),
            409: _error("A submission with the same Idempotency-Key is still being filed"),
            **BAD_INPUT,
            **THROTTLED,
        },
        operation_id="fileRequest",
    )
    def file_request(
        submission: Annotated[intake.Submission, Body()],
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=8,
                max_length=128,
                pattern=r"^[\x21-\x7e]+$",
                description="Makes a double-submitted form file one request.",
            ),
        ] = None,
        sec_gpc: Annotated[
            str | None,
            Header(max_length=8, description="Global Privacy Control: `1` is recorded in the evidence as the signal."),
        ] = None,
    ) -> FiledResponse:
        filed = intake.file_request_once(
            submission,
            idempotency_key,
            SETTINGS.load(),
            default_clients(),
            lambda_context=app.lambda_context,
            gpc_header=(sec_gpc or "").strip() == "1",
        )
        logger.info("request filed", extra={"request_id": filed.request_id, "request_type": submission.type.value})
        metrics.add_metric(name="RequestsFiled", unit=MetricUnit.Count, value=1)
        return FiledResponse(
            request_id=filed.request_id,
            status=filed.status,
            status_token=filed.status_token,
            due_at=filed.due_at,
        )


def _verification_route(app: APIGatewayRestResolver) -> None:
    """POST /requests/{id}/verify -> codes.verify_code."""

    @app.post(
        "/requests/<request_id>/verify",
        summary="Verify a request with the emailed code",
        responses={
            200: {"description": "Verified; the request is being carried out"},
            400: _error("Malformed JSON, or a wrong code (`attempts_left` says how many remain)"),
            403: _error(
                "Too many wrong codes: the request is rejected (verification_failed), or the address had its "
                "wrong codes for the day (address_guess_limit)"
            ),
            404: _error("No such request"),
            409: _error("The request is not waiting for a code (already used, or not yet sent)"),
            410: _error("The code expired"),
            413: BAD_INPUT[413],
            415: BAD_INPUT[415],
            422: BAD_INPUT[422],
            **THROTTLED,
        },
        operation_id="verifyRequest",
    )
    def verify(request_id: RequestId, body: Annotated[VerifyBody, Body()]) -> VerifiedResponse:
        status = codes.verify_code(request_id, body.code, SETTINGS.load(), default_clients())
        logger.info("request verified", extra={"request_id": request_id})
        metrics.add_metric(name="RequestsVerified", unit=MetricUnit.Count, value=1)
        return VerifiedResponse(request_id=request_id, status=status)


def _status_route(app: APIGatewayRestResolver) -> None:
    """GET /requests/{id} -> intake.status.request_status."""

    @app.get(
        "/requests/<request_id>",
        summary="Read a request's status",
        description="A wrong or missing X-Status-Token gets the same 404 as an unknown id.",
        responses={
            200: {"description": "The request's status"},
            404: _error("No such request"),
            422: BAD_INPUT[422],
            **THROTTLED,
        },
        operation_id="getRequest",
    )
    def get_status(
        request_id: RequestId,
        x_status_token: Annotated[
            str | None,
            Header(max_length=256, description="The status_token returned when the request was filed."),
        ] = None,
    ) -> StatusResponse:
        view = requester_status.request_status(request_id, x_status_token, SETTINGS.load(), default_clients())
        metrics.add_metric(name="StatusReads", unit=MetricUnit.Count, value=1)
        return StatusResponse(
            request_id=view.request_id,
            type=RequestType(view.type),
            status=RequestStatus(view.status),
            due_at=view.due_at,
            created_at=view.created_at,
            completed_at=view.completed_at,
            result=RequestResult(**view.result) if view.result else None,
        )


class CancelledResponse(BaseModel):
    request_id: str
    status: Literal["cancelled"]


def _cancel_route(app: APIGatewayRestResolver) -> None:
    """POST /requests/{id}/cancel -> cancellation.cancel_request."""

    @app.post(
        "/requests/<request_id>/cancel",
        summary="Cancel a request before anything was done for it",
        description="Possible while the request waits for its code, is verified but not yet acted on, or waits "
        "out the erasure grace period. A wrong or missing X-Status-Token gets the same 404 as an unknown id.",
        responses={
            200: {"description": "Cancelled: nothing was or will be done; the code no longer works"},
            404: _error("No such request"),
            409: _error("Something was already done for the request (or it is closed): it cannot be cancelled"),
            422: BAD_INPUT[422],
            **THROTTLED,
        },
        operation_id="cancelRequest",
    )
    def cancel(
        request_id: RequestId,
        x_status_token: Annotated[
            str | None,
            Header(max_length=256, description="The status_token returned when the request was filed."),
        ] = None,
    ) -> CancelledResponse:
        cancellation.cancel_request(request_id, x_status_token, SETTINGS.load(), default_clients())
        logger.info("request cancelled", extra={"request_id": request_id})
        metrics.add_metric(name="RequestsCancelled", unit=MetricUnit.Count, value=1)
        return CancelledResponse(request_id=request_id, status="cancelled")

    @app.exception_handler(cancellation.NotCancellable)
    def not_cancellable(exc: cancellation.NotCancellable) -> Response:
        return error_response(409, exc.code, str(exc))


def _download_route(app: APIGatewayRestResolver) -> None:
    """GET /requests/{id}/export?token= -> archive_downloads.export_download_url, answered as a redirect."""

    @app.get(
        "/requests/<request_id>/export",
        summary="Download the access archive",
        description=(
            "The link in the access confirmation email. Redirects to the archive on S3 through a URL signed at "
            f"request time and valid {archive_downloads.SIGNED_URL_SECONDS} seconds. A wrong, missing or expired "
            "token gets the same 404 as an unknown id."
        ),
        responses={
            302: {
                "description": "Redirect to the archive; the signed URL expires within 5 minutes",
                "headers": {"Location": {"description": "The signed S3 URL", "schema": {"type": "string"}}},
                "content": {},  # no body
            },
            404: _error("No such request (or a wrong or expired download token)"),
            410: _error("The archive is no longer kept (or was never finished)"),
            422: BAD_INPUT[422],
            **THROTTLED,
        },
        operation_id="downloadExport",
    )
    def download(
        request_id: RequestId,
        token: Annotated[
            str | None,
            Query(max_length=256, description="The download token from the confirmation email's link."),
        ] = None,
    ) -> Response[None]:
        url = archive_downloads.export_download_url(request_id, token, SETTINGS.load(), default_clients())
        metrics.add_metric(name="ExportDownloads", unit=MetricUnit.Count, value=1)
        # no-store and no-referrer: the token is in this URL, the signature in the next one.
        return Response(
            status_code=302,
            headers={"Location": url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )


class TopicsResponse(BaseModel):
    topics: list[str] = Field(description="The marketing topics an opt-out may name (the contact lists' topics).")


# The topics change only with a deployment of the data map: browsers and caches may keep them a while.
TOPICS_MAX_AGE_SECONDS = 300


def _topics_route(app: APIGatewayRestResolver) -> None:
    """GET /topics -> consent.known_topics: what the form offers as opt-out checkboxes."""

    @app.get(
        "/topics",
        summary="List the marketing topics an opt-out may withdraw",
        description="Public and cacheable: the topic names of the data map's SES contact lists, in name order.",
        responses={200: {"description": "The topics"}, 422: BAD_INPUT[422], **THROTTLED},
        operation_id="listTopics",
    )
    def list_topics() -> Response[TopicsResponse]:
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=TopicsResponse(topics=known_topics(SETTINGS.load().datamap())),
            headers={"Cache-Control": f"public, max-age={TOPICS_MAX_AGE_SECONDS}"},
        )


def _download_errors(app: APIGatewayRestResolver) -> None:
    """The archive's download refused after the token was accepted: it is gone (410)."""

    @app.exception_handler(archive_downloads.ArchiveGone)
    def archive_gone(_: archive_downloads.ArchiveGone) -> Response:
        metrics.add_metric(name="ExportsGone", unit=MetricUnit.Count, value=1)
        return error_response(
            410, "archive_gone", "The archive is no longer available; file a new access request for a fresh copy."
        )


def _input_errors(app: APIGatewayRestResolver) -> None:
    """Bad input answered by name (400, 415, 422), never echoing what was sent."""

    @app.exception_handler(RequestValidationError)
    def invalid_input(exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
            return error_response(400, "malformed_json", "The request body is not valid JSON.")
        # Field paths and pydantic's messages only: "input" may hold personal data and is never echoed.
        problems = [
            Problem(field=".".join(str(p) for p in e.get("loc", ())), problem=str(e.get("msg", e.get("type"))))
            for e in errors
        ]
        metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        return error_response(422, "invalid_request", "The request is not valid; see problems.", problems=problems)

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_content(_: RequestUnsupportedContentType) -> Response:
        return error_response(415, "unsupported_content_type", "Send the body as application/json.")


def _domain_errors(app: APIGatewayRestResolver) -> None:
    """The domain's refusals (unknown request, wrong or expired code, a filing in progress) as 4xx answers."""

    @app.exception_handler(RequestNotFound)
    def not_found(_: RequestNotFound) -> Response:
        metrics.add_metric(name="UnknownRequests", unit=MetricUnit.Count, value=1)
        return error_response(404, "not_found", "No such request.")

    @app.exception_handler(codes.VerificationError)
    def verification_failed(exc: codes.VerificationError) -> Response:
        status = {
            codes.CodeIncorrect: 400,
            codes.VerificationRejected: 403,
            codes.AddressGuessLimit: 403,
            codes.CodeExpired: 410,
        }.get(type(exc), 409)
        extra = {"attempts_left": exc.attempts_left} if isinstance(exc, codes.CodeIncorrect) else {}
        metrics.add_metric(name="CodesRefused", unit=MetricUnit.Count, value=1)
        return error_response(status, exc.code, str(exc), **extra)

    @app.exception_handler(IdempotencyAlreadyInProgressError)
    def in_progress(_: IdempotencyAlreadyInProgressError) -> Response:
        return error_response(409, "in_progress", "A request with this Idempotency-Key is being filed; retry shortly.")

    @app.not_found
    def no_route(_: Exception) -> Response:
        return error_response(404, "not_found", "No such resource.")


def _jurisdiction_errors(app: APIGatewayRestResolver) -> None:
    """A right filed where it does not exist (disclosure_notice outside California): 400 naming the problem."""

    @app.exception_handler(intake.NotServedInJurisdiction)
    def not_served(exc: intake.NotServedInJurisdiction) -> Response:
        metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        return error_response(400, "not_in_jurisdiction", str(exc))


def _consent_errors(app: APIGatewayRestResolver) -> None:
    """An opt-out naming a topic no contact list has: 400 naming it (topic names only, from the data map's rules)."""

    @app.exception_handler(UnknownTopic)
    def unknown_topic(exc: UnknownTopic) -> Response:
        metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        problems = [Problem(field="body.topics", problem=f"unknown topic {t}") for t in exc.topics]
        return error_response(400, "unknown_topic", str(exc), problems=problems)


def openapi_document() -> str:
    """The OpenAPI document committed at docs/openapi.json (tests fail when it drifts)."""
    app = build_app("https://form.example")
    return app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description="File privacy requests (GDPR, CCPA), prove control of the email address, follow the status.",
    )


def _too_large(event: dict[str, Any]) -> bool:
    body = event.get("body") or ""
    # Base64 inflates by 4/3; compare the decoded size.
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8"))
    return size > MAX_BODY_BYTES


def _not_utf8(event: dict[str, Any]) -> bool:
    """JSON is UTF-8 (RFC 8259); Powertools would fail on other bytes with a 500 instead of a 400."""
    if not event.get("isBase64Encoded") or not event.get("body"):
        return False
    try:
        base64.b64decode(event["body"]).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return True
    return False


def _not_json(event: dict[str, Any]) -> bool:
    """A body in anything but JSON (Powertools would try forms and multipart, and fail on a bad boundary)."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = (headers.get("content-type") or "application/json").split(";", 1)[0].strip().lower()
    return bool(event.get("body")) and content_type != content_types.APPLICATION_JSON


def _refused(event: dict[str, Any], form_origin: str, status: HTTPStatus, error: ErrorBody) -> dict[str, Any]:
    """An answer given before routing, so the body is never parsed."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return {
        "statusCode": status.value,
        "multiValueHeaders": {
            "Content-Type": [content_types.APPLICATION_JSON],
            **{k: [v] for k, v in cors_config(form_origin).to_dict(headers.get("origin")).items()},
        },
        "body": error.model_dump_json(exclude_none=True),
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False)  # responses carry status tokens
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    form_origin = SETTINGS.load().FORM_ORIGIN
    if _too_large(event):
        error = ErrorBody(error="body_too_large", message=intake.BODY_TOO_LARGE)
        return _refused(event, form_origin, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, error)
    if _not_utf8(event):
        error = ErrorBody(error="malformed_json", message="The request body is not valid UTF-8 JSON.")
        return _refused(event, form_origin, HTTPStatus.BAD_REQUEST, error)
    if _not_json(event):
        error = ErrorBody(error="unsupported_content_type", message="Send the body as application/json.")
        return _refused(event, form_origin, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, error)
    return build_app(form_origin).resolve(event, context)


if __name__ == "__main__":  # `make openapi` writes docs/openapi.json
    print(openapi_document())
