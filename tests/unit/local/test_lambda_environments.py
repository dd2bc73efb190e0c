"""Execution environments: own modules (imports at call time included), own os.environ, one invocation each."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from local import adapters
from local.adapters import lambda_environments

HANDLER = """
import os
import uuid

from probe_pkg import state

ENVIRONMENT = str(uuid.uuid4())


def handler(event, context):
    from probe_pkg import state as again  # an import that runs at call time

    state.calls.append(event)
    return {
        "environment": ENVIRONMENT,
        "same_state": again is state,
        "calls": len(state.calls),
        "flavour": os.environ.get("FLAVOUR"),
        "service": os.environ.get("POWERTOOLS_SERVICE_NAME"),
    }
"""


@pytest.fixture
def code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if adapters._installed.users:
        pytest.skip("a local cloud in this process already owns the adapters")
    package = tmp_path / "code" / "probe_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "state.py").write_text("calls = []\n")
    (package / "handler.py").write_text(HANDLER)
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    adapters.install(tmp_path / "state")
    yield tmp_path / "code"
    adapters.uninstall()


def function(name: str, concurrency: int | None = None) -> Any:
    return SimpleNamespace(
        function_name=name,
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        environment_vars={"FLAVOUR": name, "POWERTOOLS_SERVICE_NAME": f"svc-{name}"},
        run_time="python3.11",
        memory_size=128,
        logs_group_name=f"/aws/lambda/{name}",
        region="us-east-1",
        handler="probe_pkg.handler.handler",
        reserved_concurrency=concurrency,
    )


def call(
    pool: lambda_environments.EnvironmentPool, event: Any, hold: float = 0.0, meet: threading.Barrier | None = None
) -> dict[str, Any]:
    with pool.environment() as environment:
        handler = environment.load(pool.fn.handler)
        with environment.active():
            result = handler(event, None)
            if meet:
                meet.wait(timeout=20)  # every caller is inside an environment at once, however slow the others start
            time.sleep(hold)
            return result


def test_each_environment_has_its_own_modules_and_variables(code: Path) -> None:
    pool = lambda_environments.pool_for(function("a"), code)
    results: list[dict[str, Any]] = []
    meet = threading.Barrier(2)
    threads = [threading.Thread(target=lambda n=n: results.append(call(pool, n, meet=meet))) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r["environment"] for r in results}) == 2  # overlapping invocations: two environments
    assert all(r["calls"] == 1 and r["same_state"] for r in results)  # each its own probe_pkg.state
    assert {(r["flavour"], r["service"]) for r in results} == {("a", "svc-a")}
    warm = call(pool, "again")
    assert warm["environment"] in {r["environment"] for r in results} and warm["calls"] == 2
    assert os.environ.get("FLAVOUR") is None  # outside an environment: the process's variables
    other = call(lambda_environments.pool_for(function("b"), code), "b")
    assert (other["flavour"], other["service"], other["calls"]) == ("b", "svc-b", 1)


def test_invocations_past_the_concurrency_limit_wait_for_an_environment(code: Path) -> None:
    pool = lambda_environments.pool_for(function("one", concurrency=1), code)
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda n=n: results.append(call(pool, n, hold=0.2))) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pool.size == 1
    assert len({r["environment"] for r in results}) == 1
    assert sorted(r["calls"] for r in results) == [1, 2, 3]  # one after another in the one environment
