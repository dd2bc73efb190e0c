"""Step Functions adapter pieces that need no server: state machine definitions."""

from __future__ import annotations

import json

from local.adapters import stepfunctions


def test_definition_substitutions_are_applied_to_every_form() -> None:
    substitutions = {"DefinitionSubstitutions": {"Fn": "arn:aws:lambda:us-east-1:123456789012:function:f", "N": 4}}
    text = '{"States": {"A": {"Resource": "${Fn}", "MaxConcurrency": ${N}}}}'
    from_string = stepfunctions._definition({"DefinitionString": text, **substitutions}, "123456789012", "us-east-1")
    assert json.loads(from_string)["States"]["A"] == {
        "Resource": substitutions["DefinitionSubstitutions"]["Fn"],
        "MaxConcurrency": 4,
    }
    from_object = stepfunctions._definition(
        {"Definition": {"Comment": "${Fn}"}, **substitutions}, "123456789012", "us-east-1"
    )
    assert json.loads(from_object)["Comment"].endswith(":function:f")
