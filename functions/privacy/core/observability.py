"""One Logger, Tracer and Metrics for every function (service name comes from the environment).

Log ids, counts and HMACs only: never a Subject, an email or a record.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

# Our functions call out only through botocore; patch_all would also import and patch every other
# library X-Ray knows (httplib, sqlite3, requests, ...) at each cold start (docs/decisions.md).
TRACED_MODULES = ("botocore",)
_TRUTHY = {"1", "y", "yes", "t", "true", "on"}


def tracing_enabled(env: Mapping[str, str]) -> bool:
    """Powertools' own rule: traced in a Lambda (not SAM or Chalice local) unless POWERTOOLS_TRACE_DISABLED."""
    if env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUTHY:
        return False
    return bool(env.get("LAMBDA_TASK_ROOT")) and not env.get("AWS_SAM_LOCAL") and not env.get("AWS_CHALICE_CLI_MODE")


class Untraced:
    """Stands in for Tracer where tracing is off, so the X-Ray SDK is never imported there.

    Tracer(disabled=True) still builds the X-Ray recorder at construction; its decorators then only
    call the handler, which is what these do.
    """

    def capture_lambda_handler(self, lambda_handler: Callable[..., Any] | None = None, **_: Any) -> Any:
        return lambda_handler if lambda_handler is not None else _unchanged

    def capture_method(self, method: Callable[..., Any] | None = None, **_: Any) -> Any:
        return method if method is not None else _unchanged


def _unchanged(function: Callable[..., Any]) -> Callable[..., Any]:
    return function


logger = Logger()
# Read at import, like Tracer itself does: the choice is the deployed function's, fixed for its lifetime.
tracer: Tracer | Untraced = Tracer(patch_modules=TRACED_MODULES) if tracing_enabled(os.environ) else Untraced()
metrics = Metrics(namespace="PrivacyEngine")
