"""cdk-nag AwsSolutions on the whole app; every acknowledged finding carries its reason here.

cdk-nag 3 fails synth on any finding not acknowledged, so this file is the complete list of the
exceptions we accept. tests/infra checks the wildcards behind them stay as narrow as stated.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from functions.privacy.datamap.model import DataMap, StoreKind

from .audit import CHAIN, COMPLETE_WRITES, FAILED_SWEEP_WRITES, INTAKE_WRITES, REJECT_WRITES, STORE_TASK_WRITES
from .datastore_access import _s3_prefix


def apply_governance(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def _ack(stack: Stack, finding: str, reason: str) -> None:
    # The id format is the one cdk-nag prints: "AwsSolutions::AwsSolutions-<rule>[<finding>]".
    Validations.of(stack).acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-{finding}", reason=reason))


def acknowledge_privacy_stack(
    stack: Stack, datamap: DataMap, logical_ids: dict[str, str], *, api_waf: bool = True
) -> None:
    """``logical_ids``: audit bucket and function logical ids, which appear in the finding ids."""
    _ack(
        stack,
        "L1",
        "Python 3.11 is the interpreter the whole test suite and the local cloud run on; "
        "moving the runtime is a tested change, not a default. The dataset store task runs python3.12 "
        "because pyarrow's wheels need glibc 2.28, which python3.11's Amazon Linux 2 lacks.",
    )
    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        _ack(stack, f"IAM5[Action::{action}]", "CDK's grantEncryptDecrypt on the stack's one data key (not '*').")
    _ack(
        stack,
        "IAM5[Resource::*]",
        "Only X-Ray trace upload, Step Functions log delivery and the SES account suppression list, which support "
        "no resource-level permissions (checked in tests/infra/test_privacy_stack.py).",
    )
    _ack(
        stack,
        f"IAM5[Resource::<{logical_ids['audit_bucket']}.Arn>/requests/*]",
        "Evidence objects are created per request under requests/; the digest function and the verifier read them.",
    )
    writes = (*INTAKE_WRITES, *REJECT_WRITES, *FAILED_SWEEP_WRITES, *COMPLETE_WRITES, *STORE_TASK_WRITES)
    for pattern in (*writes, f"{CHAIN}*"):
        _ack(
            stack,
            f"IAM5[Resource::<{logical_ids['audit_bucket']}.Arn>/{pattern}]",
            "Evidence is created per request (ids are random) under the chain events or store records the function "
            "owns; write-once (the bucket policy refuses overwrites and deletes).",
        )
    for function in (
        "plan",
        "store_task",
        "complete",
        "send_code",
        "reject_unverified",
        "package_export",
        "notify",
        "publish_event",
    ):
        _ack(
            stack,
            f"IAM5[Resource::<{logical_ids[function]}.Arn>:*]",
            "Invoke permission on the stack's own function and its versions, as CDK's grantInvoke writes it.",
        )
    if "export_bucket" in logical_ids:
        _ack(
            stack,
            f"IAM5[Resource::<{logical_ids['export_bucket']}.Arn>/exports/*]",
            "Access exports are written per request under exports/<request id>/ (ids are random); the export "
            "functions act only under that prefix.",
        )
    for prefix in ("retention", "operator", "digests"):
        _ack(
            stack,
            f"IAM5[Resource::<{logical_ids['audit_bucket']}.Arn>/{prefix}/*]",
            "Evidence and digest objects are created per request, run, action and hour under this prefix: the "
            "digest function and the verifier policy read them; only the digest function writes, and only digests/.",
        )
    _ack(
        stack,
        f"IAM5[Resource::<{logical_ids['digest']}.Arn>:*]",
        "EventBridge Scheduler's invoke permission on the digest function and its versions, as CDK writes it.",
    )
    _ack(
        stack,
        "SQS3",
        "The digest function's queue is itself the dead-letter queue (Scheduler and Lambda on-failure); it is "
        "alarmed on depth, not drained into another queue.",
    )
    _ack(
        stack,
        "APIG4",
        "The intake API is public by design: requesters are anonymous until they prove control of the email "
        "address with the one-time code; reading a status needs the request's status token.",
    )
    _ack(
        stack,
        "COG4",
        "Requesters have no accounts (and must not need one to exercise their rights); see APIG4.",
    )
    if not api_waf:
        _ack(
            stack,
            "APIG3",
            "The per-client WAF rule was switched off in the deploy configuration (api_requests_per_ip=0), "
            "e.g. because Firewall Manager attaches the organisation's web ACL; stage throttling still applies.",
        )
    _ack(
        stack,
        "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        "API Gateway's account-level logging role; the managed policy only lets API Gateway write its own logs.",
    )
    for store in datamap.stores_of_kind(StoreKind.S3).values():
        _ack(stack, f"IAM5[Resource::arn:<AWS::Partition>:s3:::{store.resource}/{_s3_prefix(store)}*]",
             "Subjects' objects live under the data map's key prefix; access stops at that prefix.")  # fmt: skip


def acknowledge_sample_stack(stack: Stack) -> None:
    _ack(stack, "S1", "Sample data store for the demo; a real deployment points the data map at its own bucket.")
