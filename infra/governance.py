"""cdk-nag AwsSolutions on the whole app; every acknowledged finding carries its reason here.

cdk-nag 3 fails synth on any finding not acknowledged, so this file is the complete list of the
exceptions we accept. tests/infra checks the wildcards behind them stay as narrow as stated.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from functions.privacy.datamap import DataMap, StoreKind

from .datastore_access import _s3_prefix


def apply_governance(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def _ack(stack: Stack, finding: str, reason: str) -> None:
    # The id format is the one cdk-nag prints: "AwsSolutions::AwsSolutions-<rule>[<finding>]".
    Validations.of(stack).acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-{finding}", reason=reason))


def acknowledge_privacy_stack(stack: Stack, datamap: DataMap, logical_ids: dict[str, str]) -> None:
    """``logical_ids``: audit bucket and function logical ids, which appear in the finding ids."""
    _ack(
        stack,
        "L1",
        "Python 3.11 is the interpreter the whole test suite and the local cloud run on; "
        "moving the runtime is a tested change, not a default.",
    )
    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        _ack(stack, f"IAM5[Action::{action}]", "CDK's grantEncryptDecrypt on the stack's one data key (not '*').")
    _ack(
        stack,
        "IAM5[Resource::*]",
        "Only X-Ray trace upload and Step Functions log delivery, which support no "
        "resource-level permissions (checked in tests/infra/test_privacy_stack.py).",
    )
    _ack(
        stack,
        f"IAM5[Resource::<{logical_ids['audit_bucket']}.Arn>/requests/*]",
        "Evidence objects are created per request under requests/; put and get only, never delete.",
    )
    for function in ("plan", "store_task", "complete"):
        _ack(
            stack,
            f"IAM5[Resource::<{logical_ids[function]}.Arn>:*]",
            "Invoke permission on the stack's own function and its versions, as CDK's grantInvoke writes it.",
        )
    for store in datamap.stores_of_kind(StoreKind.S3).values():
        _ack(stack, f"IAM5[Resource::arn:<AWS::Partition>:s3:::{store.resource}/{_s3_prefix(store)}*]",
             "Subjects' objects live under the data map's key prefix; access stops at that prefix.")  # fmt: skip


def acknowledge_sample_stack(stack: Stack) -> None:
    _ack(stack, "S1", "Sample data store for the demo; a real deployment points the data map at its own bucket.")
