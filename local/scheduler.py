"""EventBridge Scheduler for the local cloud: moto stores schedules but never fires them.

A daemon thread fires every ``rate(...)`` schedule that targets a state machine at its rate (the dataset job's
``rate(30 seconds)`` locally), starting it with the schedule's input as Scheduler would. ``cron(...)`` and ``at(...)``
schedules (daily retention) are left alone: tests and the CLI start those runs themselves. ``paused()`` holds
the schedules back, for a test that needs several requests queued before one job takes them all.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("local.scheduler")

_RATE = re.compile(r"rate\((\d+) (second|minute|hour|day)s?\)")
_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    match = _RATE.fullmatch(expression.strip())
    return None if match is None else int(match.group(1)) * _SECONDS[match.group(2)]


class LocalScheduler:
    """Fires rate schedules whose target is a state machine; ``client`` makes boto3 clients for the local cloud."""

    def __init__(self, client: Callable[[str], Any], tick: float = 1.0) -> None:
        self._client = client
        self._tick = tick
        self._stop = threading.Event()
        self._paused = 0
        self._lock = threading.Lock()
        self._due: dict[str, float] = {}  # schedule ARN -> monotonic time of its next firing
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            self._paused += 1
        try:
            yield
        finally:
            with self._lock:
                self._paused -= 1

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            with self._lock:
                if self._paused:
                    continue
            try:
                self._fire_due()
            except Exception:  # the cloud may be stopping; the next tick tries again
                log.debug("scheduler tick failed", exc_info=True)

    def _fire_due(self) -> None:
        scheduler = self._client("scheduler")
        now = time.monotonic()
        for summary in scheduler.list_schedules().get("Schedules", []):
            if summary.get("State", "ENABLED") != "ENABLED":
                continue
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
            every = rate_seconds(schedule.get("ScheduleExpression", ""))
            target = schedule.get("Target", {})
            if every is None or ":states:" not in str(target.get("Arn", "")):
                continue
            arn = schedule["Arn"]
            due = self._due.setdefault(arn, now + every)
            if now < due:
                continue
            self._due[arn] = now + every
            self._client("stepfunctions").start_execution(
                stateMachineArn=target["Arn"], input=target.get("Input") or "{}"
            )
