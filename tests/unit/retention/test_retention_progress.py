"""The CLI's progress figures: Map iterations and Distributed Map items done against those planned."""

from functions.privacy.retention.progress import retention_progress


class FakeStepFunctions:
    """Answers the two read calls progress makes with a recorded history (paged) and map-run counts."""

    def __init__(self, events, item_counts):
        self.events, self.item_counts = events, item_counts

    def get_execution_history(self, executionArn, maxResults, nextToken=None):
        start = int(nextToken or 0)
        page = {"events": self.events[start : start + 2]}
        if start + 2 < len(self.events):
            page["nextToken"] = str(start + 2)
        return page

    def describe_map_run(self, mapRunArn):
        return {"itemCounts": self.item_counts[mapRunArn]}


def event(kind, **details):
    return {"type": kind, **details}


def test_progress_counts_store_and_segment_iterations_and_batch_items():
    events = [
        event("ExecutionStarted"),
        event("MapStateStarted", mapStateStartedEventDetails={"length": 3}),  # stores
        event("MapStateStarted", mapStateStartedEventDetails={"length": 4}),  # segments
        event("MapIterationSucceeded"),
        event("MapIterationSucceeded"),
        event("MapIterationFailed"),
        event("MapRunStarted", mapRunStartedEventDetails={"mapRunArn": "run-1"}),
    ]
    sfn = FakeStepFunctions(events, {"run-1": {"total": 25, "succeeded": 10, "failed": 1}})
    assert retention_progress("arn", sfn) == (3 + 11, 7 + 25)


def test_a_finished_run_is_complete():
    sfn = FakeStepFunctions([event("ExecutionStarted"), event("ExecutionSucceeded")], {})
    assert retention_progress("arn", sfn) == (1, 1)
