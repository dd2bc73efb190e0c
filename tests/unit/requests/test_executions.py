"""A request's executions: the first named after it, each re-run ``<id>--rerun-<n>`` numbered after the last."""

import pytest

from functions.privacy.requests import executions
from functions.privacy.requests.record import CLOSED, REDRIVABLE, RequestStatus

REQUEST = "req-00000000-0000-4000-8000-000000000001"


def test_rerun_names_round_trip_to_the_request_and_its_number():
    assert executions.rerun_name(REQUEST, 3) == f"{REQUEST}--rerun-3"
    assert executions.parse_execution_name(f"{REQUEST}--rerun-3") == (REQUEST, 3)
    assert executions.parse_execution_name(REQUEST) == (REQUEST, 0)


def test_the_next_rerun_follows_the_highest_of_that_request_only():
    names = [REQUEST, f"{REQUEST}--rerun-1", f"{REQUEST}--rerun-4", "req-other--rerun-9", "req-other"]
    assert executions.next_rerun_number(REQUEST, names) == 5
    assert executions.next_rerun_number(REQUEST, [REQUEST]) == 1
    assert executions.next_rerun_number("req-new", names) == 1


def test_execution_names_start_with_the_request_then_its_reruns_in_order():
    names = list(executions.execution_names(REQUEST))
    assert names[:3] == [REQUEST, f"{REQUEST}--rerun-1", f"{REQUEST}--rerun-2"]
    assert len(names) == executions.MAX_RERUNS + 1


def test_there_is_no_rerun_zero():
    with pytest.raises(ValueError, match="starts at 1"):
        executions.rerun_name(REQUEST, 0)


def test_a_closed_request_is_never_redrivable():
    assert not CLOSED & REDRIVABLE
    assert RequestStatus.PARTIALLY_COMPLETED.value in REDRIVABLE
