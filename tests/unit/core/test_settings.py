"""Each function's settings fail at first use when a variable is missing or empty, naming only the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.privacy.core.runtime import lambda_environment
from functions.privacy.core.settings import MissingSettings, PlanSettings, RetentionPlanSettings
from functions.privacy.datamap.model import load_datamap
from functions.privacy.retention.runs import RetentionRunInput
from functions.privacy.retention.service import start_run

SAMPLE = Path(__file__).resolve().parents[3] / "datamap.yaml"
PLAN_ENV = {"REQUESTS_TABLE": "requests", "HMAC_KEY_ID": "arn:aws:kms:eu-west-1:1:key/k", "HOLDS_TABLE": "holds"}


def _datamap_json(tmp_path: Path) -> str:
    path = tmp_path / "datamap.json"
    path.write_text(load_datamap(SAMPLE).model_dump_json(by_alias=True), encoding="utf-8")
    return str(path)


def test_planning_without_a_holds_table_fails_naming_it_instead_of_skipping_holds():
    env = {k: v for k, v in PLAN_ENV.items() if k != "HOLDS_TABLE"}
    with lambda_environment(env), pytest.raises(MissingSettings, match="HOLDS_TABLE") as error:
        PlanSettings.load()
    assert "requests" not in str(error.value)  # names the variable, never echoes values


def test_an_empty_variable_counts_as_missing():
    with lambda_environment({**PLAN_ENV, "REQUESTS_TABLE": ""}), pytest.raises(MissingSettings, match="REQUESTS_TABLE"):
        PlanSettings.load()


def test_every_missing_variable_is_named_at_once():
    with lambda_environment({}), pytest.raises(MissingSettings) as error:
        PlanSettings.load()
    assert all(name in str(error.value) for name in PLAN_ENV)


def test_settings_follow_the_invoked_functions_environment():
    with lambda_environment(PLAN_ENV):
        first = PlanSettings.load()
    with lambda_environment({**PLAN_ENV, "HOLDS_TABLE": "other-holds"}):
        second = PlanSettings.load()
    assert (first.HOLDS_TABLE, second.HOLDS_TABLE) == ("holds", "other-holds")
    assert first.DATAMAP_FILE == "datamap.json"  # the bundled data map unless told otherwise


def test_a_malformed_number_is_named():
    env = {"RETENTION_WORK_BUCKET": "work", "RETENTION_SEGMENTS": "many"}
    with lambda_environment(env), pytest.raises(MissingSettings, match="RETENTION_SEGMENTS"):
        RetentionPlanSettings.load()


def test_the_retention_plan_uses_the_deployed_segment_count(tmp_path):
    env = {"RETENTION_WORK_BUCKET": "work", "RETENTION_SEGMENTS": "7", "DATAMAP_FILE": _datamap_json(tmp_path)}
    run = RetentionRunInput(as_of="2031-01-01T00:00:00Z", allow_future=True)
    with lambda_environment(env):
        plan = start_run(run, "exec-1", RetentionPlanSettings.load())
    scanned = [s for s in plan["stores"] if "total_segments" in s]
    assert scanned and all(s["total_segments"] == 7 and s["segments"] == list(range(7)) for s in scanned)
    assert plan["work_bucket"] == "work"
