"""One local cloud per test session: the real app synthesized, deployed into moto, sample subjects seeded.

Tests that change data seed their own people with `fresh_subject` so they never depend on order.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from functions.privacy.core.clients import Clients
from functions.privacy.datamap.model import DataMap
from local.cloud import LocalCloud
from local.inspect import local_datamap
from local.seed import seed_lake, seed_sample_subjects, seed_subject
from local.synth import synthesize

# Context for the test deployment (on top of local.synth.LOCAL_CONTEXT).
# verification_timeout_seconds: short, so test_intake_http sees a code expire, but not shorter than the backlog of
# the burst test (test_local_burst_e2e): one process sends its 105 codes up to ~30 s after their filings here and
# later on a slower machine, and a code that expires before it is sent is a lost request, not a slow one.
# retention_segments: not the default 4, so a run proves the deployed value reaches the planner.
# erasure_grace_seconds: erasures wait that long before acting, so a cancel can land in the wait (test_cancel_e2e, and
# the form's cancel button, which a browser on a loaded machine reaches seconds after the code is confirmed).
# The dataset job every 5 s rather than the local cloud's 30 s: most of the suite's requests touch the sample lake,
# and each would otherwise wait up to half a minute for the next job.
E2E_CONTEXT: dict[str, Any] = {
    "verification_timeout_seconds": 120,
    "retention_segments": 3,
    "erasure_grace_seconds": 12,
    "dataset_job_schedule": "rate(5 seconds)",
}


@dataclass
class LocalCloudSession:
    cloud: LocalCloud
    outputs: dict[str, str]
    state_dir: Path
    outbox: Path
    datamap: DataMap
    clients: Clients
    subjects: list[dict[str, str]]


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloudSession]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    state_dir = Path(tempfile.mkdtemp(prefix="local-cloud-"))
    cdk_out = synthesize(state_dir / "cdk.out", E2E_CONTEXT)
    with LocalCloud(port=0, state_dir=state_dir) as cloud:
        outputs: dict[str, str] = {}
        for stack_outputs in cloud.deploy(cdk_out).values():
            outputs.update(stack_outputs)
        datamap = local_datamap()
        clients = Clients()
        subjects = seed_sample_subjects(datamap, clients)
        yield LocalCloudSession(cloud, outputs, state_dir, state_dir / "outbox", datamap, clients, subjects)


_numbers = itertools.count(1)


@pytest.fixture
def fresh_subject(local_cloud: LocalCloudSession):
    """Seed a new person across every store; returns their identifiers."""

    def make(label: str = "person") -> dict[str, str]:
        n = next(_numbers)
        person = (f"{label.title()} Test{n}", f"{label}.{n}@example.com", f"T{n:05d}")
        return seed_subject(local_cloud.datamap, local_cloud.clients, person, datetime.now(UTC))

    return make


@pytest.fixture
def lake_people(local_cloud: LocalCloudSession, fresh_subject):
    """Fresh people who also share one new file in every lake store (with a few synthetic others).

    Only tests about the lake use it: every request scans every lake file, so the lake stays small.
    """

    def make(*labels: str) -> list[dict[str, str]]:
        people = [fresh_subject(label) for label in labels]
        tag = people[0]["customer_id"].lower()
        seed_lake(local_cloud.datamap, local_cloud.clients, people, datetime.now(UTC), files=1, name=tag, others=5)
        return people

    return make
