"""The stack publishes what `dsr ropa` words its controller and measures from (ProcessingRecord output)."""

import json

from aws_cdk import App
from aws_cdk.assertions import Template

from functions.privacy.operations.ropa import StackFacts
from infra.config import DeployConfig


def test_the_processing_record_output_carries_the_controller_and_the_deployed_settings(stacks):
    [output] = Template.from_stack(stacks["privacy"]).find_outputs("ProcessingRecord").values()
    record = json.loads(output["Value"])
    config = DeployConfig.from_app(App())  # the test app's (empty) context: the defaults

    assert record == json.loads(json.dumps(config.processing_record()))
    assert record["controller_name"] == config.controller_name and record["object_lock_years"] == 7
    assert record["verification_timeout_seconds"] == config.verification_timeout
    assert set(record) == set(StackFacts.model_fields)  # the CLI's model reads every field published
    StackFacts.model_validate(record)


def test_cdk_json_names_the_controller():
    app = App(context=json.loads(open("cdk.json").read())["context"])  # noqa: SIM115 - read once
    config = DeployConfig.from_app(app)
    assert config.controller_name == "inHANCE Utilities Solutions" and "@" in config.controller_contact
