"""Tracing: on in a deployed Lambda (botocore calls only), and no X-Ray SDK at all where it is off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions.privacy.core.observability import Untraced, tracing_enabled

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import json, sys
import functions.handlers.store_task
from aws_lambda_powertools import Tracer
from functions.privacy.core.observability import tracer
loaded = "aws_xray_sdk.core" in sys.modules
patched = sorted(sys.modules["aws_xray_sdk.core.patcher"]._PATCHED_MODULES) if loaded else None
print(json.dumps({"xray_loaded": loaded, "patched": patched, "is_tracer": isinstance(tracer, Tracer)}))
"""


def _import_store_task(**env: str) -> dict:
    """Import a handler in a fresh interpreter with the given environment (Tracer decides at import)."""
    base = {k: v for k, v in os.environ.items() if k not in {"LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED"}}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**base, "AWS_DEFAULT_REGION": "us-east-1", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
        ({}, False),
    ],
)
def test_tracing_follows_powertools_rule(env: dict[str, str], expected: bool) -> None:
    assert tracing_enabled(env) is expected


def test_deployed_function_traces_botocore_calls_only() -> None:
    probe = _import_store_task(LAMBDA_TASK_ROOT=str(ROOT))
    assert probe == {"xray_loaded": True, "patched": ["botocore"], "is_tracer": True}


@pytest.mark.parametrize("env", [{}, {"LAMBDA_TASK_ROOT": str(ROOT), "POWERTOOLS_TRACE_DISABLED": "true"}])
def test_untraced_function_never_loads_xray(env: dict[str, str]) -> None:
    probe = _import_store_task(**env)
    assert probe == {"xray_loaded": False, "patched": None, "is_tracer": False}


def test_untraced_decorators_return_the_handler_itself() -> None:
    def handler(event: dict, context: object) -> dict:
        return {"seen": event["n"]}

    untraced = Untraced()
    assert untraced.capture_lambda_handler(handler) is handler
    assert untraced.capture_lambda_handler(capture_response=False)(handler) is handler
    assert untraced.capture_method(handler) is handler
    assert untraced.capture_lambda_handler(handler)({"n": 3}, None) == {"seen": 3}
