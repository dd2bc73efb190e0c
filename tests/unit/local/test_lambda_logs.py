"""A function's output goes to its own log file; everything else's still reaches the console."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path

import pytest

from local import adapters
from local.adapters import lambda_logs


@pytest.fixture
def routed(tmp_path: Path):
    if adapters._installed.users:
        pytest.skip("a local cloud in this process already routes output to its own state directory")
    adapters.install(tmp_path)
    try:
        yield tmp_path / "logs" / "functions"
    finally:
        adapters.uninstall()


def test_each_function_writes_to_its_own_file(routed: Path) -> None:
    with lambda_logs.routed_console():  # what a handler's logging handler keeps from its import
        out, err = sys.stdout, sys.stderr

    def invocation(name: str) -> None:
        with lambda_logs.function_output(name):
            out.write(f'{{"message": "hello from {name}"}}\n')
            err.write(f"UserWarning: {name}\n")

    threads = [threading.Thread(target=invocation, args=(f"fn-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(p.name for p in routed.iterdir()) == ["fn-0.log", "fn-1.log", "fn-2.log"]
    for n in range(3):
        lines = (routed / f"fn-{n}.log").read_text().splitlines()
        assert lines == [f'{{"message": "hello from fn-{n}"}}', f"UserWarning: fn-{n}"]
    assert lambda_logs.in_function() is False


def test_uninstall_gives_back_the_console_streams(tmp_path: Path) -> None:
    if adapters._installed.users:
        pytest.skip("a local cloud in this process is using the routed streams")
    before = sys.stdout, sys.stderr
    adapters.install(tmp_path)
    try:
        assert isinstance(sys.stdout, lambda_logs.RoutedStream)
    finally:
        adapters.uninstall()
    assert (sys.stdout, sys.stderr) == before


def test_output_outside_a_function_passes_through(routed: Path) -> None:
    console = io.StringIO()
    stream = lambda_logs.RoutedStream(console)
    stream.write("the report\n")
    with lambda_logs.function_output("fn"):
        stream.write("a log line\n")
    assert console.getvalue() == "the report\n"
    assert (routed / "fn.log").read_text() == "a log line\n"
