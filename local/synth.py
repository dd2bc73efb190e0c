"""Synthesize the real CDK app for the local cloud (same stacks as `cdk deploy`, faster retries)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

LOCAL_CONTEXT = {
    # moto runs Retry intervals in real time; one second keeps fault tests fast. AWS keeps the default.
    "retry_interval_seconds": 1,
    # The dataset job every 30 seconds (local/adapters/scheduler.py fires rate schedules); EventBridge Scheduler's
    # own minimum is one minute, so AWS keeps the hourly default. A queued lake task waits at most 15 minutes.
    "dataset_job_schedule": "rate(30 seconds)",
    "dataset_task_timeout_seconds": 900,
}


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Path:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from aws_cdk import App  # imported late: starting the jsii runtime takes a few seconds

    from infra.app_builder import build_app

    app = App(outdir=str(outdir), context={**LOCAL_CONTEXT, **(context or {})})
    build_app(app)
    app.synth()
    return outdir
