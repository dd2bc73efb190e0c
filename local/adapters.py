"""Fills the gaps in moto that the local cloud needs, one small function per gap, all kept in this module.

Every adapter patches moto in this process (the server runs in-process), is installed by `install()` and
removed again by `uninstall()`, so moto-based tests that run after the local cloud see stock moto.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import itertools
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

log = logging.getLogger("local.adapters")

SUPPRESSION_REASONS = ("BOUNCE", "COMPLAINT")


_MISSING = object()


class AttributeUnavailableLocally(NotImplementedError):  # noqa: N818
    """A GetAtt the local cloud cannot answer. moto's template parser catches NotImplementedError from
    get_cfn_attribute and logs it instead of failing the stack, so this must stay that type."""


class StackUpdateUnsupported(RuntimeError):
    """The local cloud creates stacks; it never updates a resource in place (redeploy from scratch)."""


@dataclass
class _Installed:
    state_dir: Path = Path(".local").resolve()
    users: int = 0
    originals: list[tuple[Any, str, Any]] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)


_installed = _Installed()
_install_lock = threading.Lock()


def _patch(owner: Any, name: str, replacement: Any) -> None:
    """Replace ``owner.name`` and remember the raw original (descriptor included) for `uninstall()`."""
    _installed.originals.append((owner, name, vars(owner).get(name, _MISSING)))
    setattr(owner, name, replacement)


def install(state_dir: Path) -> None:
    """Install every adapter (reference counted: nested local clouds share one installation)."""
    with _install_lock:
        _installed.state_dir = Path(state_dir).resolve()
        _installed.users += 1
        if _installed.users > 1:
            return
        run_lambdas_in_process()
        write_sent_email_to_outbox()
        serve_ses_suppression_list()
        serve_ses_import_jobs()
        fail_distributed_maps_past_their_tolerance()
        scan_tables_while_others_write()
        list_object_versions_without_copying_data()
        create_state_machines_where_they_execute()
        name_unnamed_executions()
        apply_s3_bucket_properties()
        apply_kms_key_properties()
        apply_dynamodb_table_properties()
        refer_to_event_buses_by_name()
        create_resource_types_moto_skips()
        fail_stacks_loudly()


def uninstall() -> None:
    """Undo `install()` once its last user is done."""
    with _install_lock:
        _installed.users = max(0, _installed.users - 1)
        if _installed.users:
            return
        while _installed.originals:
            owner, name, original = _installed.originals.pop()
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        while _installed.cleanups:
            _installed.cleanups.pop()()


def state_dir() -> Path:
    """Where adapters keep files (extracted Lambda code, the outbox)."""
    return _installed.state_dir


# --------------------------------------------------------------------------------------------------
# a. Lambda: moto runs functions in Docker; we run the handler in this process from its asset code.
# --------------------------------------------------------------------------------------------------

_code_lock = threading.Lock()
_handlers: dict[tuple[str, str], Callable[..., Any]] = {}


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: int
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def extract_code(zip_bytes: bytes, kind: str = "lambda", digest: str | None = None) -> Path:
    """Unpack a code zip once into ``<state_dir>/<kind>/<sha256>/`` (atomic, so concurrent callers agree)."""
    digest = digest or hashlib.sha256(zip_bytes).hexdigest()
    target = state_dir() / kind / digest
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=target.parent))
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            archive.extractall(staging)
        try:
            staging.rename(target)
        except OSError:  # another thread or process finished first: theirs is identical
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _layer_paths(fn: Any) -> list[Path]:
    """Extract the function's layers; their python/ folders go on sys.path like /opt/python on Lambda."""
    if not fn.layers:
        return []
    from moto.awslambda.utils import get_backend

    backend = get_backend(fn.account_id, fn.region)
    paths = []
    for layer in fn.layers:
        version = backend.layers_versions_by_arn(layer["Arn"])
        if version is None or not version.code_bytes:
            continue
        root = extract_code(version.code_bytes, kind="layer")
        py = f"python{sys.version_info.major}.{sys.version_info.minor}"
        paths += [p for p in (root / "python", root / "python" / "lib" / py / "site-packages") if p.is_dir()]
    return paths


def load_handler(fn: Any) -> tuple[Callable[..., Any], Path]:
    """Import the function's handler from its extracted asset code (cached per code digest and handler)."""
    code_dir = extract_code(fn.code_bytes, digest=getattr(fn, "code_digest", None))  # moto's sha256 of the zip
    key = (str(code_dir), fn.handler)
    with _code_lock:
        if key in _handlers:
            return _handlers[key], code_dir
        # Appended, not prepended: the venv and the repo (the same source the asset was built from) win, so
        # an asset or layer never shadows a package the rest of this process already uses.
        for path in [code_dir, *_layer_paths(fn)]:
            if str(path) not in sys.path:
                sys.path.append(str(path))
        module_name, _, attribute = fn.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
        _handlers[key] = handler
        return handler, code_dir


def _header(headers: Any, name: str, default: str) -> str:
    if headers is None:
        return default
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return default


def _error_payload(exc: BaseException, request_id: str, error_type: str | None = None) -> dict[str, Any]:
    """The body real Lambda returns for an unhandled error: Step Functions matches ``errorType`` by name."""
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(_handler_frames(exc)),
    }


def _handler_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    # Like the Lambda runtime, start the trace at the handler: drop this module's own frames.
    frames = traceback.extract_tb(exc.__traceback__)
    while frames and frames[0].filename == __file__:
        frames.pop(0)
    return list(frames)


def invoke_in_process(fn: Any, event: Any) -> tuple[bytes, bool, list[str]]:
    """Run one invocation of ``fn`` here; returns (payload, errored, log lines)."""
    from functions.privacy.core.runtime import lambda_environment

    request_id = str(uuid.uuid4())
    stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{request_id.replace('-', '')}"
    logs = [f"START RequestId: {request_id} Version: $LATEST"]
    started = time.monotonic()
    errored = True
    try:
        if not str(fn.run_time or "").startswith("python"):
            raise RuntimeError(f"the local cloud runs Python functions only, not {fn.run_time}")
        handler, code_dir = load_handler(fn)
        env = {str(k): str(v) for k, v in fn.environment_vars.items()}
        env.update(
            {
                "LAMBDA_TASK_ROOT": str(code_dir),
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_REGION": fn.region,
                "AWS_DEFAULT_REGION": fn.region,
                "_HANDLER": fn.handler,
            }
        )
        context = LambdaContext(
            function_name=fn.function_name,
            function_version="$LATEST",
            invoked_function_arn=fn.function_arn,
            memory_limit_in_mb=int(fn.memory_size),
            aws_request_id=request_id,
            log_group_name=fn.logs_group_name,
            log_stream_name=stream,
            timeout_seconds=int(fn.timeout),
        )
        with lambda_environment(env):
            result = handler(event, context)
        try:
            payload = json.dumps(result).encode()
            errored = False
        except (TypeError, ValueError) as exc:
            error = _error_payload(Exception(f"Unable to marshal response: {exc}"), request_id, "Runtime.MarshalError")
            logs.append(f"[ERROR] {error['errorType']}: {error['errorMessage']}")
            payload = json.dumps(error).encode()
    except Exception as exc:  # every handler error becomes a Lambda function error, as on AWS
        error = _error_payload(exc, request_id)
        logs.append(f"[ERROR] {error['errorType']}: {error['errorMessage']}")
        logs += "".join(error["stackTrace"]).splitlines()
        payload = json.dumps(error).encode()
    elapsed_ms = (time.monotonic() - started) * 1000
    logs += [
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\tMemory Size: {fn.memory_size} MB",
    ]
    return payload, errored, logs


def run_lambdas_in_process() -> None:
    """Gap: moto invokes Lambda functions in Docker. Run them in this process from their asset code instead.

    The handler is imported from the function's code zip (extracted once per digest), called with a Lambda
    context inside `functions.privacy.core.runtime.lambda_environment` so concurrent invocations each see their own
    environment, and errors come back as real Lambda does: an ``errorType`` payload and the
    ``x-amz-function-error: Unhandled`` header, which Step Functions Retry/Catch match by name.
    """
    from moto.awslambda.models import LambdaFunction

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: dict[str, Any]) -> bytes:
        event = json.loads(body) if body else {}
        invocation_type = _header(request_headers, "x-amz-invocation-type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""

        def run() -> tuple[bytes, bool]:
            payload, errored, logs = invoke_in_process(self, event)
            try:  # the invocation's START/END/REPORT lines (and any traceback) land in CloudWatch Logs
                self.logs_backend.ensure_log_group(self.logs_group_name)
                self.save_logs("\n".join(logs))
            except Exception:  # storing logs must never change the invocation's outcome
                log.debug("could not store logs of %s", self.function_name, exc_info=True)
            if errored:
                log.info("%s failed: %s", self.function_name, logs[1] if len(logs) > 1 else "")
            return payload, errored

        if invocation_type == "Event":
            # Asynchronous invocation: Lambda accepts the event and runs it later; the caller does not wait.
            threading.Thread(target=run, name=f"lambda-{self.function_name}", daemon=True).start()
            return b""
        payload, errored = run()
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    _patch(LambdaFunction, "invoke", invoke)


# --------------------------------------------------------------------------------------------------
# b. Outbox: moto keeps sent email in memory only; we also write each one to <state_dir>/outbox/*.eml.
# --------------------------------------------------------------------------------------------------

_outbox_counter = itertools.count(1)
_outbox_lock = threading.Lock()


def outbox_dir() -> Path:
    return state_dir() / "outbox"


def write_eml(data: bytes) -> Path:
    """Write one RFC 5322 message to the outbox as ``<timestamp>-<n>.eml`` (atomically, for watchers)."""
    folder = outbox_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with _outbox_lock:
        number = next(_outbox_counter)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-{number}.eml"
    partial = folder / f".{path.name}.partial"
    partial.write_bytes(data)
    partial.replace(path)
    return path


def build_message(
    sender: str,
    destination: Mapping[str, list[str]],
    subject: str,
    text: str | None,
    html: str | None,
    message_id: str,
    reply_to: list[str] | None = None,
    headers: list[dict[str, str]] | None = None,
) -> EmailMessage:
    """An RFC 5322 message for a "simple" SES email: text part, html alternative if any."""
    message = EmailMessage()
    message["From"] = sender
    for field_name, key in (("To", "ToAddresses"), ("Cc", "CcAddresses"), ("Bcc", "BccAddresses")):
        if destination.get(key):
            message[field_name] = ", ".join(destination[key])
    if reply_to:
        message["Reply-To"] = ", ".join(reply_to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=message_id, domain="email.amazonses.com")
    for header in headers or []:
        message[header["Name"]] = header["Value"]
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html or "", subtype="html")
    return message


def _data(part: Mapping[str, Any] | None) -> str | None:
    return None if not part else part.get("Data")


def write_sent_email_to_outbox() -> None:
    """Gap: moto accepts SendEmail but keeps the message in memory. Also write every sent email to the outbox.

    Covers SESv2 ``SendEmail`` (simple and raw content) and SES v1 ``SendEmail``/``SendRawEmail``. A message is
    written only after moto accepted it (so an unverified sender still fails, as on AWS).
    """
    from moto.ses.responses import EmailResponse
    from moto.sesv2.responses import SESV2Response

    v2_send = SESV2Response.send_email

    def sesv2_send_email(self: Any) -> Any:
        result = v2_send(self)
        params = json.loads(self.body)
        message_id = json.loads(result)["MessageId"]
        content = params.get("Content", {})
        if "Raw" in content:
            write_eml(base64.b64decode(content["Raw"]["Data"]))
        elif "Simple" in content:
            simple = content["Simple"]
            body = simple.get("Body", {})
            message = build_message(
                params.get("FromEmailAddress", ""),
                params.get("Destination", {}),
                _data(simple.get("Subject")) or "",
                _data(body.get("Text")),
                _data(body.get("Html")),
                message_id,
                params.get("ReplyToAddresses"),
                simple.get("Headers"),
            )
            write_eml(bytes(message))
        return result

    v1_send = EmailResponse.send_email

    def ses_send_email(self: Any) -> Any:
        result = v1_send(self)
        message = self._get_param("Message") or {}
        body = message.get("Body", {})
        email = build_message(
            self._get_param("Source"),
            self._get_param("Destination", {}),
            _data(message.get("Subject")) or "",
            _data(body.get("Text")),
            _data(body.get("Html")),
            result.result["MessageId"],
            self._get_param("ReplyToAddresses"),
        )
        write_eml(bytes(email))
        return result

    v1_send_raw = EmailResponse.send_raw_email

    def ses_send_raw_email(self: Any) -> Any:
        result = v1_send_raw(self)
        raw = self._get_param("RawMessage.Data")
        write_eml(raw if isinstance(raw, bytes) else str(raw).encode())
        return result

    _patch(SESV2Response, "send_email", sesv2_send_email)
    _patch(EmailResponse, "send_email", ses_send_email)
    _patch(EmailResponse, "send_raw_email", ses_send_raw_email)


# --------------------------------------------------------------------------------------------------
# c. SESv2 account-level suppression list: moto has none of its four operations.
# --------------------------------------------------------------------------------------------------

_suppression_lock = threading.Lock()


def _suppression_store(backend: Any) -> dict[str, dict[str, Any]]:
    # Kept on moto's SESv2 backend (one per account and Region, like the real list) so moto's reset clears it.
    # Callers hold _suppression_lock.
    return vars(backend).setdefault("local_suppressed_destinations", {})


def serve_ses_suppression_list() -> None:
    """Gap: moto does not implement Put/Get/Delete/ListSuppressedDestination(s). Serve them from memory.

    Request and response shapes are the SESv2 API's (serialized by moto from the botocore model). Getting or
    deleting an address that is not on the list raises ``NotFoundException``; a bad reason ``BadRequestException``.
    """
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult
    from moto.ses.exceptions import NotFoundException
    from moto.sesv2.responses import SESV2Response

    class BadRequestException(JsonRESTError):
        code = 400

        def __init__(self, message: str) -> None:
            super().__init__("BadRequestException", message)

    def _address(self: Any) -> str:
        from urllib.parse import unquote

        address = self._get_param("EmailAddress")
        if not address:
            address = unquote(self.path.rstrip("/").rsplit("/", 1)[-1])
        return address

    def _not_found(address: str) -> NotFoundException:
        return NotFoundException(f"Email address {address} does not exist on your suppression list.")

    def put_suppressed_destination(self: Any) -> ActionResult:
        params = json.loads(self.body or "{}")
        address, reason = params.get("EmailAddress"), params.get("Reason")
        if not address:
            raise BadRequestException("EmailAddress is required.")
        if reason not in SUPPRESSION_REASONS:
            raise BadRequestException(f"Reason must be one of {', '.join(SUPPRESSION_REASONS)}.")
        with _suppression_lock:
            _suppression_store(self.sesv2_backend)[address] = {
                "EmailAddress": address,
                "Reason": reason,
                "LastUpdateTime": datetime.now(UTC),
                "Attributes": {"MessageId": str(uuid.uuid4()), "FeedbackId": str(uuid.uuid4())},
            }
        return ActionResult({})

    def get_suppressed_destination(self: Any) -> ActionResult:
        address = _address(self)
        with _suppression_lock:
            entry = _suppression_store(self.sesv2_backend).get(address)
        if entry is None:
            raise _not_found(address)
        return ActionResult({"SuppressedDestination": dict(entry)})

    def delete_suppressed_destination(self: Any) -> ActionResult:
        address = _address(self)
        with _suppression_lock:
            if _suppression_store(self.sesv2_backend).pop(address, None) is None:
                raise _not_found(address)
        return ActionResult({})

    def list_suppressed_destinations(self: Any) -> ActionResult:
        query = self.querystring
        reasons = set(query.get("Reason", [])) or set(SUPPRESSION_REASONS)
        start = _timestamp(query.get("StartDate", [None])[0])
        end = _timestamp(query.get("EndDate", [None])[0])
        page_size = int(query.get("PageSize", ["1000"])[0])
        offset = int(base64.b64decode(query["NextToken"][0]).decode()) if query.get("NextToken") else 0
        with _suppression_lock:
            entries = sorted(_suppression_store(self.sesv2_backend).values(), key=lambda e: e["EmailAddress"])
        matching = [
            {k: e[k] for k in ("EmailAddress", "Reason", "LastUpdateTime")}
            for e in entries
            if e["Reason"] in reasons
            and (start is None or e["LastUpdateTime"] >= start)
            and (end is None or e["LastUpdateTime"] <= end)
        ]
        page = matching[offset : offset + page_size]
        result: dict[str, Any] = {"SuppressedDestinationSummaries": page}
        if offset + page_size < len(matching):
            result["NextToken"] = base64.b64encode(str(offset + page_size).encode()).decode()
        return ActionResult(result)

    # moto's server routes SESv2 by explicit Flask paths; its catch-all "/v2/.*" only works in decorator mode.
    from moto.sesv2 import urls

    for path in (
        "{0}/v2/email/suppression/addresses$",
        "{0}/v2/email/suppression/addresses/(?P<EmailAddress>[^/]+)$",
    ):
        if path not in urls.url_paths:
            urls.url_paths[path] = SESV2Response.dispatch
            _installed.cleanups.append(lambda path=path: urls.url_paths.pop(path, None))

    for function in (
        put_suppressed_destination,
        get_suppressed_destination,
        delete_suppressed_destination,
        list_suppressed_destinations,
    ):
        _patch(SESV2Response, function.__name__, function)


def _timestamp(value: str | None) -> datetime | None:
    """botocore sends rest-json query timestamps as ISO 8601; accept epoch seconds too."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# c2. SESv2 contact import jobs: moto has no CreateImportJob/GetImportJob (retention removes contacts in bulk).
# --------------------------------------------------------------------------------------------------

_import_lock = threading.Lock()


def _import_jobs(backend: Any) -> dict[str, dict[str, Any]]:
    # Kept on moto's SESv2 backend so moto's reset clears them. Callers hold _import_lock.
    return vars(backend).setdefault("local_import_jobs", {})


def _import_rows(account_id: str, s3_url: str, data_format: str) -> list[str]:
    """Email addresses listed in an import data source (CSV with an emailAddress column, or JSON lines)."""
    import csv

    from moto.s3.models import s3_backends

    bucket, _, key = s3_url.removeprefix("s3://").partition("/")
    body = s3_backends[account_id]["aws"].get_object(bucket, key).value.decode()
    if data_format == "JSON":
        return [json.loads(line)["emailAddress"] for line in body.splitlines() if line.strip()]
    return [row["emailAddress"] for row in csv.DictReader(io.StringIO(body)) if row.get("emailAddress")]


def sesv2_create_import_job(self: Any) -> Any:
    """Runs the job at once: a DELETE import removes each listed address from the destination contact list."""
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult

    params = json.loads(self.body or "{}")
    destination = params.get("ImportDestination", {}).get("ContactListDestination")
    source = params.get("ImportDataSource", {})
    if not destination or destination.get("ContactListImportAction") != "DELETE":
        raise JsonRESTError("BadRequestException", "the local cloud runs contact-list DELETE import jobs only")
    contact_list = self.sesv2_backend.get_contact_list(destination["ContactListName"])
    rows = _import_rows(self.current_account, source["S3Url"], source.get("DataFormat", "CSV"))
    processed = failed = 0
    for address in rows:
        try:
            contact_list.delete_contact(address)
            processed += 1
        except Exception:  # noqa: BLE001 (SES counts a row it cannot apply as failed, it does not stop)
            failed += 1
    job_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with _import_lock:
        _import_jobs(self.sesv2_backend)[job_id] = {
            "JobId": job_id,
            "ImportDestination": params["ImportDestination"],
            "ImportDataSource": source,
            "JobStatus": "COMPLETED",
            "CreatedTimestamp": now,
            "CompletedTimestamp": now,
            "ProcessedRecordsCount": processed,
            "FailedRecordsCount": failed,
        }
    return ActionResult({"JobId": job_id})


def sesv2_get_import_job(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.ses.exceptions import NotFoundException

    job_id = self.path.rstrip("/").rsplit("/", 1)[-1]
    with _import_lock:
        job = _import_jobs(self.sesv2_backend).get(job_id)
    if job is None:
        raise NotFoundException(f"Import job {job_id} does not exist.")
    return ActionResult(dict(job))


def serve_ses_import_jobs() -> None:
    """Gap: moto implements neither CreateImportJob nor GetImportJob; serve DELETE imports against moto's lists."""
    from moto.sesv2 import urls
    from moto.sesv2.responses import SESV2Response

    for path in ("{0}/v2/email/import-jobs$", "{0}/v2/email/import-jobs/(?P<JobId>[^/]+)$"):
        if path not in urls.url_paths:
            urls.url_paths[path] = SESV2Response.dispatch
            _installed.cleanups.append(lambda path=path: urls.url_paths.pop(path, None))
    _patch(SESV2Response, "create_import_job", sesv2_create_import_job)
    _patch(SESV2Response, "get_import_job", sesv2_get_import_job)


def fail_distributed_maps_past_their_tolerance() -> None:
    """Gap: moto counts a Distributed Map's failed items but still lets the map run succeed. On AWS the run fails
    (States.ExceedToleratedFailureThreshold) once failures pass ToleratedFailureCount/Percentage, both 0 by default,
    and the Map state's Catch runs: retention relies on that to report a store whose batch deletes failed.
    """
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as component,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = component.DistributedIterationComponent._map_run

    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        original(self, env, eval_input)
        counter = eval_input.map_run_record.item_counter
        failed, total = counter.failed.get() + counter.timed_out.get(), counter.total.get()
        percentage = 100.0 * failed / total if total else 0.0
        if failed > eval_input.tolerated_failure_count and percentage > eval_input.tolerated_failure_percentage:
            error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
            cause = f"{failed} of {total} items failed, more than the map run tolerates"
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=error,
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=EventDetails(
                        mapRunFailedEventDetails=MapRunFailedEventDetails(error=error.error_name, cause=cause)
                    ),
                )
            )

    _patch(component.DistributedIterationComponent, "_map_run", _map_run)


def dynamodb_all_items(self: Any) -> list[Any]:
    items: list[Any] = []
    for hash_set in list(self.items.values()):
        if self.range_key_attr:
            items.extend(list(hash_set.values()))
        else:
            items.append(hash_set)
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def scan_tables_while_others_write() -> None:
    """Gap: moto's Table.all_items (behind every Scan) iterates the live item dict, so a Scan running while another
    thread deletes (parallel retention segments) fails with "dictionary changed size during iteration". DynamoDB
    serves parallel scans and writes at once; iterate over a snapshot (list() copies under the GIL).
    """
    from moto.dynamodb.models.table import Table

    _patch(Table, "all_items", dynamodb_all_items)


class _VersionView:
    """A read-only view of one moto object version with its own is_latest flag (what moto deep-copies for)."""

    __slots__ = ("is_latest", "version")

    def __init__(self, version: Any) -> None:
        self.version, self.is_latest = version, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.version, name)


def s3_list_object_versions(
    self: Any,
    bucket_name: str,
    delimiter: str | None = None,
    key_marker: str | None = None,
    max_keys: int | None = 1000,
    prefix: str = "",
    version_id_marker: str | None = None,
) -> tuple[list[Any], list[str], list[Any], str | None, str | None]:
    from moto.core.utils import unix_time_millis
    from moto.s3.models import FakeKey

    bucket = self.get_bucket(bucket_name)
    views = [_VersionView(v) for _, versions in list(bucket.keys.iterlists()) for v in list(versions)]
    views.sort(key=lambda r: (r.name, -unix_time_millis(r.last_modified)))
    resume_after_key = bool(
        key_marker
        and version_id_marker
        and not any(v.name == key_marker and v.version_id == version_id_marker for v in views)
    )
    if resume_after_key:
        # The marker's version was deleted since the last page (retention deletes between pages). S3 resumes by
        # position; moto would return nothing at all. Resume after the marker's key.
        version_id_marker = None
    common_prefixes: set[str] = set()
    versions_out: list[Any] = []
    markers_out: list[Any] = []
    next_key_marker = next_version_id_marker = None
    last_name = None
    skipping = True
    last_added: Any = None
    for view in views:
        name = view.name
        view.is_latest = name != last_name
        if view.is_latest:
            last_name = name
        if skipping:
            if key_marker is None:
                skipping = False
            elif resume_after_key:
                skipping = name <= key_marker
                if skipping:
                    continue
            elif not version_id_marker:
                skipping = name < key_marker
                continue
            elif name == key_marker and view.version_id == version_id_marker:
                skipping = False
                continue
            else:
                continue
        if not name.startswith(prefix):
            continue
        is_common_prefix = False
        if delimiter and delimiter in name[len(prefix) :]:
            end = len(prefix) + name[len(prefix) :].index(delimiter) + len(delimiter)
            if name[:end] == key_marker:
                continue
            common_prefixes.add(name[:end])
            name, is_common_prefix = name[:end], True
        elif last_added is not None:
            name = last_added.name
        if max_keys is not None and len(versions_out) + len(markers_out) + len(common_prefixes) >= max_keys:
            next_key_marker = name
            next_version_id_marker = None if is_common_prefix or last_added is None else last_added.version_id
            break
        if not is_common_prefix:
            last_added = view
            (versions_out if isinstance(view.version, FakeKey) else markers_out).append(view)
    return versions_out, sorted(common_prefixes), markers_out, next_key_marker, next_version_id_marker


def list_object_versions_without_copying_data() -> None:
    """Gap: moto's ListObjectVersions deep-copies every version in the bucket (object bodies included, one temporary
    file each) on every page, so listing a bucket of 100,000 versions page by page takes hours. Same answer
    (ordering, markers, prefixes, delimiter) from views that share the versions instead of copying them, and a page
    marker whose version was deleted meanwhile resumes after its key instead of ending the listing.
    """
    from moto.s3.models import S3Backend

    _patch(S3Backend, "list_object_versions", s3_list_object_versions)


# --------------------------------------------------------------------------------------------------
# d. CloudFormation gaps met when deploying CDK templates.
# --------------------------------------------------------------------------------------------------


def _definition(properties: Mapping[str, Any], account_id: str, region_name: str) -> str:
    """The ASL text of an AWS::StepFunctions::StateMachine, from any of its three forms, substituted."""
    if "DefinitionString" in properties:
        definition = properties["DefinitionString"]
    elif "Definition" in properties:
        definition = json.dumps(properties["Definition"])
    elif "DefinitionS3Location" in properties:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        location = properties["DefinitionS3Location"]
        key = s3_backends[account_id][get_partition(region_name)].get_object(
            location["Bucket"], location["Key"], version_id=location.get("Version")
        )
        definition = key.value.decode()
    else:
        raise ValueError("state machine has no DefinitionString, Definition or DefinitionS3Location")
    for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + name + "}", str(value))
    return definition


def create_state_machines_where_they_execute() -> None:
    """Gap: moto's CloudFormation creates state machines in the non-executing Step Functions backend and ignores
    ``DefinitionSubstitutions`` (how CDK's ``DefinitionBody.from_string`` passes ARNs). Create them, substituted,
    in the backend that serves the API (the ASL interpreter once ``execute_state_machine`` is on).
    """
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.responses import get_backend
    from moto.stepfunctions.utils import cfn_to_api_tags

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        logging_config = properties.get("LoggingConfiguration")
        tracing = properties.get("TracingConfiguration")
        return get_backend(account_id, region_name).create_state_machine(
            name=properties.get("StateMachineName", resource_name),
            definition=_definition(properties, account_id, region_name),
            roleArn=properties.get("RoleArn", ""),
            tags=cfn_to_api_tags(properties.get("Tags", [])),
            loggingConfiguration=_api_logging(logging_config) if logging_config else None,
            tracingConfiguration={"enabled": bool(tracing.get("Enabled"))} if tracing else None,
            sm_type=properties.get("StateMachineType", "STANDARD"),
        )

    def delete_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        get_backend(account_id, region_name).delete_state_machine(resource_name)

    _patch(StateMachine, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
    _patch(StateMachine, "delete_from_cloudformation_json", classmethod(delete_from_cloudformation_json))


def name_unnamed_executions() -> None:
    """Gap: moto's ASL interpreter names an execution started without a name "None", so a second unnamed start
    fails with ExecutionAlreadyExists. Name it with a UUID, as Step Functions does.
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start_execution = StepFunctionsParserBackend.start_execution

    def start_named_execution(
        self: Any, arn: str, name: str | None = None, execution_input: Any = None, trace_header: Any = None
    ) -> Any:
        return start_execution(self, arn, name or str(uuid.uuid4()), execution_input, trace_header)

    _patch(StepFunctionsParserBackend, "start_execution", start_named_execution)


def _api_logging(cfn: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "level": cfn.get("Level", "OFF"),
        "includeExecutionData": bool(cfn.get("IncludeExecutionData", False)),
        "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
            for d in cfn.get("Destinations", [])
            if "CloudWatchLogsLogGroup" in d
        ],
    }


def apply_s3_bucket_properties() -> None:
    """Gap: moto's CloudFormation creates an AWS::S3::Bucket with only its encryption and tags. Also apply
    versioning, Object Lock (with its default retention) and the public access block, which the product relies
    on (erasure removes old versions; evidence must be undeletable).
    """
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    original = FakeBucket.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        bucket = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = s3_backends[account_id][get_partition(region_name)]
        versioning = properties.get("VersioningConfiguration", {}).get("Status")
        lock = properties.get("ObjectLockConfiguration", {})
        if versioning or properties.get("ObjectLockEnabled"):
            backend.put_bucket_versioning(bucket.name, versioning or "Enabled")
        if properties.get("ObjectLockEnabled") or lock.get("ObjectLockEnabled") == "Enabled":
            retention = lock.get("Rule", {}).get("DefaultRetention", {})
            backend.put_object_lock_configuration(
                bucket.name,
                lock_enabled=True,
                mode=retention.get("Mode"),
                days=int(retention.get("Days", 0)),  # moto's PutObjectLockConfiguration uses 0 for "not set"
                years=int(retention.get("Years", 0)),
            )
        if "PublicAccessBlockConfiguration" in properties:
            backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
        return bucket

    _patch(FakeBucket, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


def apply_kms_key_properties() -> None:
    """Gap: moto's CloudFormation creates every AWS::KMS::Key as a symmetric ENCRYPT_DECRYPT key, ignoring
    ``KeySpec`` and ``KeyUsage``, so an HMAC key (HMAC_256, GENERATE_VERIFY_MAC) refuses GenerateMac and a
    signing key (ECC_NIST_P256, SIGN_VERIFY) refuses Sign.
    """
    from moto.kms.models import Key, kms_backends

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        policy = properties.get("KeyPolicy")
        key = kms_backends[account_id][region_name].create_key(
            # The template holds the policy as an object; moto's DescribeKey parses it as a JSON string.
            policy=json.dumps(policy) if isinstance(policy, dict) else policy,
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description"),
            tags=properties.get("Tags", []),
            multi_region=bool(properties.get("MultiRegion", False)),
        )
        key.key_rotation_status = properties.get("EnableKeyRotation", False)
        key.enabled = properties.get("Enabled", True)
        return key

    _patch(Key, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


def apply_dynamodb_table_properties() -> None:
    """Gap: moto's CloudFormation ignores a table's ``TimeToLiveSpecification`` and
    ``PointInTimeRecoverySpecification``; apply both so DescribeTimeToLive/DescribeContinuousBackups match the
    template (moto never expires items by TTL: readers must still check expiry themselves, as on AWS).
    """
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    original = Table.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        table = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = dynamodb_backends[account_id][region_name]
        if properties.get("TimeToLiveSpecification"):
            backend.update_time_to_live(table.name, properties["TimeToLiveSpecification"])
        recovery = properties.get("PointInTimeRecoverySpecification") or {}
        if recovery.get("PointInTimeRecoveryEnabled"):
            backend.update_continuous_backups(table.name, {"PointInTimeRecoveryEnabled": True})
        return table

    _patch(Table, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


def refer_to_event_buses_by_name() -> None:
    """Gap: moto's EventBus has no ``physical_resource_id``, so ``Ref`` to an AWS::Events::EventBus resolves to
    the Python object (and breaks ListFunctions on a Lambda environment holding it). On AWS ``Ref`` gives the name.
    """
    from moto.events.models import EventBus

    _patch(EventBus, "physical_resource_id", property(lambda self: self.name))


class _LocalResource:
    """A CloudFormation resource that moto does not model, created through moto's own service backends.

    Deliberately not a `CloudFormationModel` subclass: moto discovers those by ``__subclasses__()``, and these
    must disappear again on `uninstall()`.
    """

    cfn_type = ""
    name_property = ""

    def __init__(self, physical_id: str, attributes: Mapping[str, Any] | None = None) -> None:
        self.physical_resource_id = physical_id
        self.attributes = dict(attributes or {})

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.cfn_type

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.name_property

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.attributes:
            raise AttributeUnavailableLocally(f"{self.cfn_type} has no attribute {attribute_name} in the local cloud")
        return self.attributes[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, *args: Any, **kwargs: Any) -> Any:
        raise StackUpdateUnsupported(f"updating {cls.cfn_type} is not supported by the local cloud")

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        """Deleting the stack leaves these in place (the local cloud never deletes stacks)."""


class SesContactList(_LocalResource):
    cfn_type, name_property = "AWS::SES::ContactList", "ContactListName"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SesContactList:
        from moto.sesv2.models import sesv2_backends

        properties = cloudformation_json.get("Properties", {})
        params = {"ContactListName": resource_name, "Topics": properties.get("Topics", [])}
        if properties.get("Description"):
            params["Description"] = properties["Description"]
        if properties.get("Tags"):
            params["Tags"] = properties["Tags"]
        sesv2_backends[account_id][region_name].create_contact_list(params)
        return cls(resource_name)


class SesEmailIdentity(_LocalResource):
    cfn_type, name_property = "AWS::SES::EmailIdentity", "EmailIdentity"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SesEmailIdentity:
        from moto.sesv2.models import sesv2_backends

        properties = cloudformation_json.get("Properties", {})
        sesv2_backends[account_id][region_name].create_email_identity(
            email_identity=resource_name,
            tags=None,
            dkim_signing_attributes=None,
            configuration_set_name=properties.get("ConfigurationSetAttributes", {}).get("ConfigurationSetName"),
        )
        return cls(resource_name)


class SchedulerScheduleGroup(_LocalResource):
    cfn_type, name_property = "AWS::Scheduler::ScheduleGroup", "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SchedulerScheduleGroup:
        from moto.scheduler.models import scheduler_backends

        tags = cloudformation_json.get("Properties", {}).get("Tags", [])
        group = scheduler_backends[account_id][region_name].create_schedule_group(resource_name, tags)
        return cls(resource_name, {"Arn": group.arn})


class SchedulerSchedule(_LocalResource):
    cfn_type, name_property = "AWS::Scheduler::Schedule", "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SchedulerSchedule:
        from moto.scheduler.models import scheduler_backends

        p = cloudformation_json.get("Properties", {})
        schedule = scheduler_backends[account_id][region_name].create_schedule(
            description=p.get("Description"),
            end_date=_epoch(p.get("EndDate")),
            flexible_time_window=p.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            group_name=p.get("GroupName"),
            kms_key_arn=p.get("KmsKeyArn"),
            name=resource_name,
            schedule_expression=p["ScheduleExpression"],
            schedule_expression_timezone=p.get("ScheduleExpressionTimezone"),
            start_date=_epoch(p.get("StartDate")),
            state=p.get("State"),
            target=p["Target"],
            action_after_completion=p.get("ActionAfterCompletion"),
        )
        return cls(resource_name, {"Arn": schedule.arn})


LOCAL_RESOURCE_TYPES: dict[str, type[_LocalResource]] = {
    model.cfn_type: model for model in (SesContactList, SesEmailIdentity, SchedulerScheduleGroup, SchedulerSchedule)
}
# Skipped on purpose, with the reason logged once per deploy instead of a warning.
DELIBERATELY_SKIPPED = {
    "AWS::CDK::Metadata": "CDK's usage analytics, nothing to create",
    "AWS::S3::BucketPolicy": (
        "moto enforces bucket policies without evaluating Conditions, so CDK's enforceSSL statement "
        "(Deny unless aws:SecureTransport) would refuse every request to the plain-HTTP local endpoint"
    ),
}


def _epoch(value: Any) -> Any:
    if isinstance(value, str):
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    return value


def create_resource_types_moto_skips() -> None:
    """Gap: moto's CloudFormation warns about and skips resource types it has no model for, leaving their Refs
    empty. Create the ones the product uses (SES contact list and email identity, Scheduler schedule and group)
    through moto's own backends, during create_stack, so Refs, GetAtts and outputs resolve. The deployer lists
    the remaining unsupported types once per stack (`unsupported_resource_types`), so moto's own warning,
    repeated for every Ref to such a resource, is silenced.
    """
    from moto.cloudformation import parsing

    class_from_type = parsing.resource_class_from_type
    name_property_from_type = parsing.resource_name_property_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type in LOCAL_RESOURCE_TYPES:
            return LOCAL_RESOURCE_TYPES[resource_type]
        if not _moto_models(resource_type):
            return None
        return class_from_type(resource_type)

    def resource_name_property_from_type(resource_type: str) -> str | None:
        if resource_type in LOCAL_RESOURCE_TYPES:
            return LOCAL_RESOURCE_TYPES[resource_type].name_property or None
        return name_property_from_type(resource_type)

    _patch(parsing, "resource_class_from_type", resource_class_from_type)
    _patch(parsing, "resource_name_property_from_type", resource_name_property_from_type)
    warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
    entry = warnings.filters[0]

    def remove_filter() -> None:
        if entry in warnings.filters:
            warnings.filters.remove(entry)
            warnings._filters_mutated()  # type: ignore[attr-defined]  # the C module caches the filter list

    _installed.cleanups.append(remove_filter)


def _moto_models(resource_type: str) -> bool:
    """Whether moto's CloudFormation can create ``resource_type`` itself (checked without moto's warning)."""
    from moto.cloudformation import parsing

    if resource_type in parsing.NULL_MODELS:
        return True  # moto knows these and creates nothing, on purpose
    return resource_type.startswith("Custom::") or resource_type in parsing.get_model_map()


def unsupported_resource_types(template: Mapping[str, Any]) -> dict[str, list[str]]:
    """Resource types in ``template`` that the local cloud cannot create (type -> logical ids), not counting
    the `DELIBERATELY_SKIPPED` ones.
    """
    skipped: dict[str, list[str]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        resource_type = resource["Type"]
        if resource_type in DELIBERATELY_SKIPPED or resource_type in LOCAL_RESOURCE_TYPES:
            continue
        if not _moto_models(resource_type):
            skipped.setdefault(resource_type, []).append(logical_id)
    return skipped


def fail_stacks_loudly() -> None:
    """Gap: when a resource fails to create, moto's create_stack dies with a bare HTTP 500 and no stack event.
    Record a CREATE_FAILED event naming the resource and its error, and leave the stack in CREATE_FAILED, so the
    deployer can report what broke (as CloudFormation would).
    """
    from moto.cloudformation import models, parsing

    create_resource = parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        try:
            return create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            stack = models.cloudformation_backends[account_id][region_name].stacks.get(resources_map.stack_id)
            if stack is not None:
                stack.events.append(
                    models.Event(
                        stack_id=stack.stack_id,
                        stack_name=stack.name,
                        logical_resource_id=logical_id,
                        physical_resource_id="",
                        resource_type=resource_json.get("Type", ""),
                        resource_status="CREATE_FAILED",
                        resource_status_reason=f"{type(exc).__name__}: {exc}",
                        resource_properties=None,
                    )
                )
            raise

    create_resources = models.Stack.create_resources

    def stack_create_resources(self: Any) -> None:
        try:
            create_resources(self)
        except Exception as exc:  # reported through the stack's status and events instead, as CloudFormation does
            log.debug("stack %s failed", self.name, exc_info=True)
            self.status = "CREATE_FAILED"
            self._add_stack_event("CREATE_FAILED", resource_status_reason=f"{type(exc).__name__}: {exc}")

    _patch(parsing, "parse_and_create_resource", parse_and_create_resource)
    _patch(models.Stack, "create_resources", stack_create_resources)
