"""`dsr executions redrive`: a partially completed erasure completes once the injected fault is removed."""

from __future__ import annotations

import pytest

from local.inspect import holdings
from local.workflow import wait_for_execution
from tests.e2e import cli_support
from tests.e2e.cli_support import operator_records, wait_for_status

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture

DONE = {"completed", "partially_completed", "failed"}


def test_redrive_completes_a_partially_completed_erasure_after_the_fault_is_fixed(
    local_cloud, fresh_subject, dsr, monkeypatch
):
    subject = fresh_subject("redrive")
    datamap, clients, outputs = local_cloud.datamap, local_cloud.clients, local_cloud.outputs

    from moto.s3.exceptions import S3AccessDeniedError
    from moto.s3.models import S3Backend

    uploads = next(s.resource for s in datamap.stores.values() if s.kind.value == "s3")
    delete_objects = S3Backend.delete_objects

    def refusing_deletes(self, bucket_name, *args, **kwargs):
        if bucket_name == uploads:
            raise S3AccessDeniedError()  # injected fault: the bucket refuses deletes
        return delete_objects(self, bucket_name, *args, **kwargs)

    # The fault is injected into the service (moto runs in this process), as the Lambdas' own modules belong to
    # their execution environments, the way they would on AWS.
    with monkeypatch.context() as fault:
        fault.setattr(S3Backend, "delete_objects", refusing_deletes)
        filed = dsr("requests", "file", "--type", "erasure", "--email", subject["email"], "--reason", "letter")
        request_id = filed.output.split("Filed ", 1)[1].split(" ", 1)[0]
        first = wait_for_status(local_cloud, request_id, DONE)
    assert first["status"] == "partially_completed"
    left = holdings(datamap, clients, subject)
    assert any(h["personal"] for name, h in left.items() if datamap.stores[name].kind.value == "s3")

    result = dsr("executions", "redrive", request_id, "--wait")
    assert "--rerun-1" in result.output and f"request {request_id} is completed" in result.output
    rerun_arn = outputs["RequestStateMachineArn"].replace(":stateMachine:", ":execution:") + f":{request_id}--rerun-1"
    assert wait_for_execution(clients, rerun_arn)["status"] == "SUCCEEDED"
    assert wait_for_status(local_cloud, request_id, {"completed"})["status"] == "completed"
    assert {n: h["personal"] for n, h in holdings(datamap, clients, subject).items()} == dict.fromkeys(
        datamap.stores, 0
    )
    redriven = [r for r in operator_records(local_cloud, "redriven") if r["request_id"] == request_id]
    assert redriven and redriven[0]["method"] == "rerun" and redriven[0]["previous_status"] == "partially_completed"
    assert "--rerun-1" in dsr("requests", "show", request_id).output

    refused = dsr("executions", "redrive", request_id, expect=1)
    assert "only failed or partially completed requests" in refused.output
