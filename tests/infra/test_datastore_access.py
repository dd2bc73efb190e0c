"""The store-task role gets exactly the suppression-list actions the data map needs."""

from __future__ import annotations

from pathlib import Path

from functions.privacy.datamap.model import Erasure, load_datamap
from infra.datastore_access import suppression_actions

DATAMAP = load_datamap(Path(__file__).resolve().parents[2] / "datamap.yaml")


def test_keeping_entries_needs_no_delete():
    store = DATAMAP.stores["suppression"]
    assert suppression_actions(store, write=True) == ["ses:GetSuppressedDestination", "ses:PutSuppressedDestination"]
    assert suppression_actions(store, write=False) == ["ses:GetSuppressedDestination"]


def test_deleting_entries_is_granted_only_when_the_data_map_says_so():
    store = DATAMAP.stores["suppression"].model_copy(update={"erasure": Erasure(suppress=False)})
    assert "ses:DeleteSuppressedDestination" in suppression_actions(store, write=True)


def test_the_synthesized_store_task_role_can_tag_unsubscribe_and_suppress(stacks):
    from aws_cdk.assertions import Template

    template = Template.from_stack(stacks["privacy"])
    granted = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            granted.append((set(actions), statement["Resource"]))
    suppression = [r for a, r in granted if "ses:PutSuppressedDestination" in a]
    assert suppression == ["*"]  # no ARN exists for the account's list
    assert not any("ses:DeleteSuppressedDestination" in a for a, _ in granted)  # the sample map keeps entries
    assert any({"s3:PutObjectVersionTagging", "s3:GetObjectVersionTagging"} <= a for a, _ in granted)
    assert any("ses:UpdateContact" in a for a, _ in granted)
