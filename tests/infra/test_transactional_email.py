"""The engine's transactional mail: one SES configuration set that overrides account-level suppression, used by
every function that sends (a full opt-out puts the address on that list before its confirmation goes out)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from functions.privacy.core.settings import SenderEmail


@pytest.fixture(scope="module")
def template(stacks):
    return Template.from_stack(stacks["privacy"])


def _statements(policy):
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _actions(statement):
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_the_configuration_set_applies_no_account_level_suppression(template):
    (configuration_set,) = template.find_resources("AWS::SES::ConfigurationSet").values()
    # Present and empty: SES then ignores the account suppression list for mail sent with this set.
    assert configuration_set["Properties"]["SuppressionOptions"] == {"SuppressedReasons": []}
    assert configuration_set["Properties"]["Name"].endswith("-transactional")


def test_every_function_that_may_send_names_the_configuration_set_and_may_use_it(template):
    (logical_id,) = template.find_resources("AWS::SES::ConfigurationSet")
    roles_that_send = {
        statement_role
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in _statements(policy)
        if "ses:SendEmail" in _actions(statement)
        for statement_role in [policy["Properties"]["Roles"][0]["Ref"]]
    }
    assert len(roles_that_send) >= 2  # the code sender and the notifier at least
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in _statements(policy):
            if "ses:SendEmail" in _actions(statement):
                assert logical_id in json.dumps(statement["Resource"]), "SendEmail without the configuration set"
    functions = template.find_resources("AWS::Lambda::Function")
    senders = [f for f in functions.values() if f["Properties"]["Role"]["Fn::GetAtt"][0] in roles_that_send]
    assert len(senders) == len(roles_that_send)
    for function in senders:
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["SES_CONFIGURATION_SET"] == {"Ref": logical_id}
        assert variables["SENDER_EMAIL"] == "privacy@example.com"
    # And the settings model those functions load requires it, so a deploy without it fails at cold start.
    assert SenderEmail.model_fields["SES_CONFIGURATION_SET"].is_required()


def test_the_stack_outputs_the_configuration_set_for_operator_mail(template):
    (logical_id,) = template.find_resources("AWS::SES::ConfigurationSet")
    assert template.find_outputs("SesConfigurationSet")["SesConfigurationSet"]["Value"] == {"Ref": logical_id}
