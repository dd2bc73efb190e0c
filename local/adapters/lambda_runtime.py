"""Lambda: moto runs functions in Docker; the local cloud runs each handler in this process from its asset code."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import _patch, state_dir
from .lambda_environments import pool_for
from .lambda_logs import function_output

log = logging.getLogger("local.adapters")


_ADAPTERS = Path(__file__).resolve().parent
_code_lock = threading.Lock()


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


def prepare_code(fn: Any) -> Path:
    """Extract the function's code (once per code digest) and put it and its layers on the import path."""
    code_dir = extract_code(fn.code_bytes, digest=getattr(fn, "code_digest", None))  # moto's sha256 of the zip
    with _code_lock:
        # Appended, not prepended: the venv and the repo (the same source the asset was built from) win, so
        # an asset or layer never shadows a package the rest of this process already uses.
        for path in [code_dir, *_layer_paths(fn)]:
            if str(path) not in sys.path:
                sys.path.append(str(path))
    return code_dir


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
    while frames and Path(frames[0].filename).resolve().parent == _ADAPTERS:
        frames.pop(0)
    return list(frames)


def invoke_in_process(fn: Any, event: Any) -> tuple[bytes, bool, list[str]]:
    """Run one invocation of ``fn`` here, in one of its execution environments; returns (payload, errored, logs)."""
    request_id = str(uuid.uuid4())
    logs = [f"START RequestId: {request_id} Version: $LATEST"]
    started = time.monotonic()
    init_ms = 0.0
    errored = True
    try:
        if not str(fn.run_time or "").startswith("python"):
            raise RuntimeError(f"the local cloud runs Python functions only, not {fn.run_time}")
        pool = pool_for(fn, prepare_code(fn))
        with pool.environment() as environment, function_output(fn.function_name):
            if environment.handler is None:  # the cold start: its import-time output belongs to the function too
                environment.load(fn.handler)
                init_ms = (time.monotonic() - started) * 1000
            context = LambdaContext(
                function_name=fn.function_name,
                function_version="$LATEST",
                invoked_function_arn=fn.function_arn,
                memory_limit_in_mb=int(fn.memory_size),
                aws_request_id=request_id,
                log_group_name=fn.logs_group_name,
                log_stream_name=environment.log_stream,
                timeout_seconds=int(fn.timeout),
            )
            with environment.active():
                environment.invocations += 1
                result = environment.handler(event, context)  # type: ignore[misc]  # loaded above
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
    elapsed_ms = (time.monotonic() - started) * 1000 - init_ms
    report = f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\tMemory Size: {fn.memory_size} MB"
    logs += [f"END RequestId: {request_id}", report + (f"\tInit Duration: {init_ms:.2f} ms" if init_ms else "")]
    return payload, errored, logs


def run_lambdas_in_process() -> None:
    """Gap: moto invokes Lambda functions in Docker. Run them in this process from their asset code instead.

    The code zip is extracted once per digest; each invocation runs in one of the function's execution environments
    (`lambda_environments`: own modules, own environment variables, one invocation at a time), and errors come
    back as real Lambda does: an ``errorType`` payload and the ``x-amz-function-error: Unhandled`` header, which
    Step Functions Retry/Catch match by name.
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
