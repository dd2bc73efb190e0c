"""cdk-nag AwsSolutions runs on the whole app and every acknowledgement has a reason."""

import pytest
from aws_cdk import App
from aws_cdk import aws_s3 as s3

from infra.app_builder import build_app


def test_app_synthesizes_with_no_unacknowledged_nag_findings(stacks, tmp_path):
    # The session fixture built and synthesized the real app with AwsSolutionsChecks applied; any
    # unacknowledged finding would have failed synth there.
    assert set(stacks) == {"datastores", "privacy"}


def test_a_new_noncompliant_resource_fails_synth(tmp_path):
    app = App(outdir=str(tmp_path))
    built = build_app(app)
    s3.Bucket(built["privacy"], "UnencryptedPlainBucket")  # no TLS policy, no access logs
    with pytest.raises(Exception, match="AwsSolutions-S10|ValidationFailed"):
        app.synth()


def test_every_acknowledgement_carries_a_reason(stacks):
    # Validations.acknowledge records {finding id: reason} in the scope's construct metadata.
    acknowledged: dict[str, str] = {}
    for stack in stacks.values():
        for entry in stack.node.metadata:
            if isinstance(entry.data, dict):
                acknowledged.update({k: v for k, v in entry.data.items() if k.startswith("AwsSolutions::")})
    assert "AwsSolutions::AwsSolutions-S1" in acknowledged
    assert len(acknowledged) >= 8
    for finding, reason in acknowledged.items():
        assert isinstance(reason, str) and len(reason) > 30, finding
