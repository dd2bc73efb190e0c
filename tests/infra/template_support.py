"""Reading synthesized templates in infra tests: functions, their roles' statements, ARNs as text."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk.assertions import Template


def functions(template: Template) -> dict[str, dict[str, Any]]:
    """Logical id -> properties of every Lambda function."""
    return {k: v["Properties"] for k, v in template.find_resources("AWS::Lambda::Function").items()}


def one_function(template: Template, prefix: str) -> tuple[str, dict[str, Any]]:
    """The one function of PrivacyFunctions named ``prefix`` (logical id Functions<prefix><hash>)."""
    (found,) = [(k, v) for k, v in functions(template).items() if re.fullmatch(rf"Functions{prefix}[0-9A-F]{{8}}", k)]
    return found


def role_statements(template: Template, function: dict[str, Any]) -> list[dict[str, Any]]:
    """Every policy statement attached to the function's role."""
    role = function["Role"]["Fn::GetAtt"][0]
    return [
        s
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def listed(value: Any) -> list[Any]:
    """An IAM Action or Resource as a list (a single one may be a plain value)."""
    return value if isinstance(value, list) else [value]


def arn_text(resource: Any) -> str:
    """An ARN as text: Fn::Join parts concatenated, references as <LogicalId> or <LogicalId.Attribute>."""
    if isinstance(resource, str):
        return resource
    if "Fn::Join" in resource:
        return "".join(arn_text(part) for part in resource["Fn::Join"][1])
    if "Ref" in resource:
        return f"<{resource['Ref']}>"
    if "Fn::GetAtt" in resource:
        return f"<{'.'.join(resource['Fn::GetAtt'])}>"
    return json.dumps(resource)
