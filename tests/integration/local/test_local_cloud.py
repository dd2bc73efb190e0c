"""The local cloud deploys a synthesized CDK app into moto and fills moto's gaps (tests/fixtures/mini_app)."""

from __future__ import annotations

import email
import email.policy
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.cloud import DeployError, LocalCloud

ROOT = Path(__file__).resolve().parents[3]
MINI_APP = ROOT / "tests" / "fixtures" / "mini_app" / "app.py"


@pytest.fixture(scope="session")
def mini_cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture app synthesized once per session (cdk.App(outdir=...).synth(), no CDK CLI)."""
    spec = importlib.util.spec_from_file_location("mini_app", MINI_APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthesize(tmp_path_factory.mktemp("mini-cdk.out"))


class MiniCloud:
    """The fixture app deployed into a local cloud: its outputs, plus the cloud's own API."""

    def __init__(self, local: LocalCloud, outputs: dict[str, str]) -> None:
        self.local, self.outputs = local, outputs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)


@pytest.fixture(scope="module")
def cloud(mini_cdk_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniCloud]:
    running = LocalCloud.running()
    if running is not None:  # e.g. the e2e session's cloud: moto's state is process-wide, so deploy next to it
        yield MiniCloud(running, running.deploy(mini_cdk_out)["MiniStack"])
        return
    # Module scope when this module starts the cloud: it points this process's AWS SDK at itself
    # (AWS_ENDPOINT_URL) and patches moto, which must be undone before other modules' mock_aws tests run.
    with LocalCloud(port=0, state_dir=tmp_path_factory.mktemp("local-state")) as local:
        yield MiniCloud(local, local.deploy(mini_cdk_out)["MiniStack"])


def run(cloud: Any, execution_input: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=cloud.outputs["StateMachineArn"], input=json.dumps(execution_input))[
        "executionArn"
    ]
    deadline = time.monotonic() + timeout
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"execution still running after {timeout}s"
        time.sleep(0.1)
    assert execution["status"] == "SUCCEEDED", execution
    return json.loads(execution["output"])


def item(cloud: Any, key: str) -> dict[str, Any]:
    return cloud.client("dynamodb").get_item(TableName=cloud.outputs["TableName"], Key={"id": {"S": key}}).get("Item")


# ------------------------------------------------------------------------------------------------- deploy


def test_deploy_creates_the_stack_and_returns_its_outputs(cloud: Any) -> None:
    outputs = cloud.outputs
    assert set(outputs) == {
        "TableName",
        "BucketName",
        "StateMachineArn",
        "EchoAArn",
        "EchoBArn",
        "ContactListName",
        "ScheduleName",
        "ScheduleArn",
        "HmacKeyArn",
    }
    assert cloud.client("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]["TableStatus"] == "ACTIVE"
    stack = cloud.client("cloudformation").describe_stacks(StackName="MiniStack")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert "MiniStack" not in cloud.skipped  # every resource type of the fixture app exists locally
    # Assets were published to the bootstrap bucket with ${AWS::AccountId}/${AWS::Region} substituted.
    keys = cloud.client("s3").list_objects_v2(Bucket="cdk-hnb659fds-assets-123456789012-us-east-1")["Contents"]
    assert any(k["Key"].endswith(".zip") for k in keys)
    assert cloud.client("ssm").get_parameter(Name="/cdk-bootstrap/hnb659fds/version")["Parameter"]["Value"] == "30"


def test_contact_list_moto_would_skip_is_created_from_the_template(cloud: Any) -> None:
    contact_list = cloud.client("sesv2").get_contact_list(ContactListName=cloud.outputs["ContactListName"])
    assert contact_list["ContactListName"] == "mini-contacts"
    assert contact_list["Description"] == "Fixture marketing list"
    assert [t["TopicName"] for t in contact_list["Topics"]] == ["news", "offers"]
    assert {t["DefaultSubscriptionStatus"] for t in contact_list["Topics"]} == {"OPT_OUT"}


def test_schedule_moto_would_skip_is_created_and_targets_the_state_machine(cloud: Any) -> None:
    schedule = cloud.client("scheduler").get_schedule(Name=cloud.outputs["ScheduleName"])
    assert schedule["Arn"] == cloud.outputs["ScheduleArn"]
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["Target"]["Arn"] == cloud.outputs["StateMachineArn"]
    assert json.loads(schedule["Target"]["Input"]) == {"mode": "ddb", "id": "nightly"}


def test_key_and_table_properties_moto_ignores_are_applied(cloud: Any) -> None:
    kms = cloud.client("kms")
    mac = kms.generate_mac(KeyId=cloud.outputs["HmacKeyArn"], MacAlgorithm="HMAC_SHA_256", Message=b"alice")["Mac"]
    assert kms.verify_mac(KeyId=cloud.outputs["HmacKeyArn"], MacAlgorithm="HMAC_SHA_256", Message=b"alice", Mac=mac)[
        "MacValid"
    ]
    dynamodb = cloud.client("dynamodb")
    ttl = dynamodb.describe_time_to_live(TableName=cloud.outputs["TableName"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    backups = dynamodb.describe_continuous_backups(TableName=cloud.outputs["TableName"])["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_object_lock_bucket_refuses_to_delete_a_locked_version(cloud: Any) -> None:
    s3 = cloud.client("s3")
    bucket = cloud.outputs["BucketName"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"]
    assert (rule["DefaultRetention"]["Mode"], rule["DefaultRetention"]["Days"]) == ("COMPLIANCE", 1)
    version = s3.put_object(Bucket=bucket, Key="evidence/1.json", Body=b"{}")["VersionId"]
    assert s3.head_object(Bucket=bucket, Key="evidence/1.json")["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key="evidence/1.json", VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="evidence/1.json", VersionId=version)["Body"].read() == b"{}"


def test_a_failing_resource_fails_the_deploy_naming_the_resource(cloud: Any, tmp_path: Path) -> None:
    template = {
        "Resources": {
            "Broken": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": '{"StartAt": "Nowhere", "States": {}}', "RoleArn": "arn:aws:iam::"},
            },
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
        }
    }
    (tmp_path / "Broken.template.json").write_text(json.dumps(template))
    manifest = {
        "version": "55.0.0",
        "artifacts": {
            "Broken": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "Broken.template.json"}}
        },
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DeployError, match=r"CREATE_FAILED Broken \(AWS::StepFunctions::StateMachine\)"):
        cloud.deploy(tmp_path)
    # The unsupported type was reported rather than silently lost.
    assert cloud.skipped["Broken"] == {"AWS::CloudWatch::Alarm": ["Alarm"]}


# ------------------------------------------------------------------------------------------------- Lambda


def test_state_machine_runs_the_handler_in_process_from_its_asset(cloud: Any) -> None:
    key = f"put-{uuid.uuid4()}"
    output = run(cloud, {"mode": "put", "id": key})
    assert output["written"] == key  # ResultSelector applied to the Lambda result
    assert item(cloud, key) == {"id": {"S": key}, "flavour": {"S": "a"}}
    # The handler ran from the asset zip, extracted under the state directory.
    assert list((cloud.state_dir / "lambda").glob("*/fixture_handlers/echo.py"))


def test_retry_matches_a_raised_exception_by_name(cloud: Any) -> None:
    key = f"flaky-{uuid.uuid4()}"
    assert run(cloud, {"mode": "flaky", "id": key, "failures": 2}) == {"id": key, "attempts": 3}
    assert item(cloud, key)["attempts"] == {"N": "3"}


def test_exhausted_retries_are_caught_by_name(cloud: Any) -> None:
    key = f"flaky-{uuid.uuid4()}"
    assert run(cloud, {"mode": "flaky", "id": key, "failures": 99}) == {"gave_up": "StoreThrottled"}
    assert item(cloud, key)["attempts"] == {"N": "3"}  # the first attempt and MaxAttempts=2 retries


def test_catch_matches_by_name_and_the_cause_is_lambdas_error_payload(cloud: Any) -> None:
    output = run(cloud, {"mode": "fail"})
    assert output["caught"] == "PermanentFailure"
    cause = output["cause"]
    assert cause["errorType"] == "PermanentFailure"
    assert cause["errorMessage"] == "this store cannot be reached"
    assert "fixture_handlers/echo.py" in cause["stackTrace"][0]  # the trace starts at the handler, like Lambda's


def test_direct_invoke_returns_lambdas_function_error_shape(cloud: Any) -> None:
    response = cloud.client("lambda").invoke(
        FunctionName=cloud.outputs["EchoBArn"], Payload=json.dumps({"action": "fail"}).encode()
    )
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert set(payload) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert payload["errorType"] == "PermanentFailure"


def test_event_invocation_returns_at_once_and_runs_in_the_background(cloud: Any) -> None:
    key = f"event-{uuid.uuid4()}"
    response = cloud.client("lambda").invoke(
        FunctionName=cloud.outputs["EchoBArn"],
        InvocationType="Event",
        Payload=json.dumps({"action": "put", "id": key}).encode(),
    )
    assert response["StatusCode"] == 202
    deadline = time.monotonic() + 10
    while item(cloud, key) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert item(cloud, key)["flavour"] == {"S": "b"}


def test_concurrent_map_iterations_each_see_their_own_function_environment(cloud: Any) -> None:
    functions = [cloud.outputs["EchoAArn"], cloud.outputs["EchoBArn"]] * 4
    results = run(cloud, {"mode": "map", "items": functions})
    assert [r["index"] for r in results] == list(range(8))  # ItemSelector with $$.Map.Item.Index
    for result, arn in zip(results, functions, strict=True):
        expected = "a" if arn == cloud.outputs["EchoAArn"] else "b"
        assert (result["before"], result["after"]) == (expected, expected)
        assert result["function"] == arn.rsplit(":", 1)[1]
        assert 0 < result["remaining_ms"] <= 30_000
    # The invocations really overlapped (each waited until both functions had one running): A's ran while B's ran.
    a_runs = [(r["started"], r["finished"]) for r in results[::2]]
    b_runs = [(r["started"], r["finished"]) for r in results[1::2]]
    assert any(a0 < b1 and b0 < a1 for a0, a1 in a_runs for b0, b1 in b_runs)


def test_dynamodb_direct_integration_and_result_selector(cloud: Any) -> None:
    key = f"ddb-{uuid.uuid4()}"
    assert run(cloud, {"mode": "ddb", "id": key}) == {"hits": "1"}
    assert run(cloud, {"mode": "ddb", "id": key}) == {"hits": "2"}


# ------------------------------------------------------------------------------------------------- SES


def read_outbox(cloud: Any, before: set[Path]) -> list[EmailMessage]:
    new = sorted(set((cloud.state_dir / "outbox").glob("*.eml")) - before)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in new]


def outbox_files(cloud: Any) -> set[Path]:
    return set((cloud.state_dir / "outbox").glob("*.eml"))


def test_sesv2_send_email_lands_in_the_outbox(cloud: Any) -> None:
    before = outbox_files(cloud)
    cloud.client("sesv2").send_email(
        FromEmailAddress="Privacy Team <privacy@example.com>",
        Destination={"ToAddresses": ["alice@example.com"], "CcAddresses": ["dpo@example.com"]},
        ReplyToAddresses=["dpo@example.com"],
        Content={
            "Simple": {
                "Subject": {"Data": "Your verification code"},
                "Body": {
                    "Text": {"Data": "Your code is 123456."},
                    "Html": {"Data": "<p>Your code is <b>123456</b>.</p>"},
                },
            }
        },
    )
    [message] = read_outbox(cloud, before)
    assert message["From"] == "Privacy Team <privacy@example.com>"
    assert message["To"] == "alice@example.com"
    assert message["Cc"] == "dpo@example.com"
    assert message["Subject"] == "Your verification code"
    assert message["Date"] and message["Message-ID"]
    assert message.get_body(("plain",)).get_content().strip() == "Your code is 123456."
    assert "<b>123456</b>" in message.get_body(("html",)).get_content()


def test_raw_and_v1_emails_land_in_the_outbox(cloud: Any) -> None:
    before = outbox_files(cloud)
    raw = EmailMessage()
    raw["From"], raw["To"], raw["Subject"] = "privacy@example.com", "bob@example.com", "Your export"
    raw.set_content("Download your data here.")
    cloud.client("sesv2").send_email(Content={"Raw": {"Data": bytes(raw)}})
    ses = cloud.client("ses")
    ses.send_email(
        Source="privacy@example.com",
        Destination={"ToAddresses": ["carol@example.com"]},
        Message={"Subject": {"Data": "Request closed"}, "Body": {"Text": {"Data": "We erased your data."}}},
    )
    ses.send_raw_email(RawMessage={"Data": bytes(raw)})
    messages = read_outbox(cloud, before)
    assert [m["Subject"] for m in messages] == ["Your export", "Request closed", "Your export"]
    assert messages[1].get_content().strip() == "We erased your data."
    assert messages[2].get_content().strip() == "Download your data here."


def test_unverified_sender_is_rejected_and_nothing_is_written(cloud: Any) -> None:
    before = outbox_files(cloud)
    with pytest.raises(ClientError) as rejected:
        cloud.client("sesv2").send_email(
            FromEmailAddress="someone@elsewhere.test",
            Destination={"ToAddresses": ["alice@example.com"]},
            Content={"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}}},
        )
    assert rejected.value.response["Error"]["Code"] == "MessageRejected"
    assert outbox_files(cloud) == before


def _send_to(cloud: Any, recipient: str, **options: Any) -> str:
    return cloud.client("sesv2").send_email(
        FromEmailAddress="privacy@example.com",
        Destination={"ToAddresses": [recipient]},
        Content={"Simple": {"Subject": {"Data": "Your opt-out"}, "Body": {"Text": {"Data": "You opted out."}}}},
        **options,
    )["MessageId"]


def test_mail_to_a_suppressed_address_is_accepted_but_not_delivered_unless_the_set_overrides(cloud: Any) -> None:
    ses = cloud.client("sesv2")
    suppressed = f"Opted-Out-{uuid.uuid4()}@example.com"
    ses.put_suppressed_destination(EmailAddress=suppressed.lower(), Reason="COMPLAINT")
    override, bounces_only = f"tx-{uuid.uuid4()}", f"bounce-{uuid.uuid4()}"
    ses.create_configuration_set(ConfigurationSetName=override, SuppressionOptions={"SuppressedReasons": []})
    ses.create_configuration_set(
        ConfigurationSetName=bounces_only, SuppressionOptions={"SuppressedReasons": ["COMPLAINT"]}
    )
    plain = f"plain-{uuid.uuid4()}"
    ses.create_configuration_set(ConfigurationSetName=plain)

    before = outbox_files(cloud)
    # As on AWS: a message id, then nothing delivered (the address matches whatever its case).
    assert _send_to(cloud, suppressed)
    assert _send_to(cloud, suppressed, ConfigurationSetName=plain)
    assert _send_to(cloud, suppressed, ConfigurationSetName=bounces_only)
    assert outbox_files(cloud) == before

    _send_to(cloud, suppressed, ConfigurationSetName=override)
    [delivered] = read_outbox(cloud, before)
    assert delivered["To"] == suppressed and delivered.get_content().strip() == "You opted out."


def test_suppression_list_round_trip(cloud: Any) -> None:
    ses = cloud.client("sesv2")
    complained, bounced = f"c-{uuid.uuid4()}@example.com", f"b+{uuid.uuid4()}@example.com"
    ses.put_suppressed_destination(EmailAddress=complained, Reason="COMPLAINT")
    ses.put_suppressed_destination(EmailAddress=bounced, Reason="BOUNCE")

    entry = ses.get_suppressed_destination(EmailAddress=bounced)["SuppressedDestination"]
    assert entry["EmailAddress"] == bounced
    assert entry["Reason"] == "BOUNCE"
    assert entry["LastUpdateTime"].tzinfo is not None  # a real timestamp, parsed by botocore
    assert set(entry["Attributes"]) == {"MessageId", "FeedbackId"}

    def listed(**filters: Any) -> list[tuple[str, str]]:
        found, token = [], {}
        while True:  # botocore has no paginator for this operation
            page = ses.list_suppressed_destinations(PageSize=1, **filters, **token)
            found += [(e["EmailAddress"], e["Reason"]) for e in page["SuppressedDestinationSummaries"]]
            if "NextToken" not in page:
                return found
            token = {"NextToken": page["NextToken"]}

    everyone = listed()
    assert (complained, "COMPLAINT") in everyone and (bounced, "BOUNCE") in everyone
    assert len(everyone) == len(set(everyone))  # paging neither repeats nor skips
    assert (complained, "COMPLAINT") in listed(Reasons=["COMPLAINT"])
    assert all(reason == "BOUNCE" for _, reason in listed(Reasons=["BOUNCE"]))

    ses.delete_suppressed_destination(EmailAddress=complained)
    ses.delete_suppressed_destination(EmailAddress=bounced)
    assert not {complained, bounced} & {address for address, _ in listed()}


def test_suppression_list_unknown_address_is_not_found(cloud: Any) -> None:
    ses = cloud.client("sesv2")
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.get_suppressed_destination(EmailAddress="nobody@example.com")
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.delete_suppressed_destination(EmailAddress="nobody@example.com")


# ------------------------------------------------------------------------------------------------- CLI


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_up_writes_outputs_then_serves_until_interrupted(mini_cdk_out: Path, tmp_path: Path, cloud: Any) -> None:
    port = free_port()
    env = {**os.environ, "AWS_PORT": str(port), "SEED": "0", "PYTHONPATH": str(ROOT)}
    for name in ("AWS_ENDPOINT_URL", "MOTO_PORT"):  # the child is its own cloud, not a client of this one
        env.pop(name, None)
    command = [sys.executable, "-m", "local", "up", "--cdk-out", str(mini_cdk_out), "--state-dir", str(tmp_path)]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        outputs_file = tmp_path / "outputs.json"
        deadline = time.monotonic() + 45
        while not outputs_file.exists():
            assert child.poll() is None, child.stdout.read() if child.stdout else ""
            assert time.monotonic() < deadline, "local cloud did not become ready"
            time.sleep(0.2)
        outputs = json.loads(outputs_file.read_text())
        assert outputs["aws_endpoint"] == f"http://127.0.0.1:{port}"
        assert outputs["region"] == "us-east-1"
        assert outputs["sample_subjects"] == []
        assert outputs["stacks"]["MiniStack"]["ContactListName"] == outputs["ContactListName"] == "mini-contacts"
        assert "api_url" not in outputs  # added by the local API server, never faked
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=outputs["aws_endpoint"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert dynamodb.list_tables()["TableNames"] == [outputs["TableName"]]
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=20) == 0
        assert "Local cloud ready" in (child.stdout.read() if child.stdout else "")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# ------------------------------------------------------------------------------------------------- adapters


def test_unsupported_types_are_listed_and_deliberate_skips_explained(caplog: pytest.LogCaptureFixture) -> None:
    template = {
        "Resources": {
            "Alarm": {"Type": "AWS::CloudWatch::Alarm"},
            "Policy": {"Type": "AWS::S3::BucketPolicy"},
            "List": {"Type": "AWS::SES::ContactList"},
            "Table": {"Type": "AWS::DynamoDB::Table"},
            "Meta": {"Type": "AWS::CDK::Metadata"},
        }
    }
    local = LocalCloud()
    with caplog.at_level(logging.INFO, logger="local.cloud"):
        local._report_skipped("Stack", template)
    assert local.skipped == {"Stack": {"AWS::CloudWatch::Alarm": ["Alarm"]}}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "stack Stack: moto cannot create these resources, so they do not exist locally: AWS::CloudWatch::Alarm (Alarm)"
    ]
    assert any("AWS::S3::BucketPolicy" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)


# ------------------------------------------------------------------------------------------------- environments


def invoke(cloud: Any, arn: str, event: dict[str, Any]) -> dict[str, Any]:
    response = cloud.client("lambda").invoke(FunctionName=arn, Payload=json.dumps(event).encode())
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def test_concurrent_invocations_of_one_function_see_their_own_logger_keys(cloud: Any) -> None:
    arn = cloud.outputs["EchoAArn"]
    ids = [f"inv-{n}-{uuid.uuid4()}" for n in range(3)]
    # Each waits inside its invocation until all three arrived: they overlap however slow a cold start is.
    meet = {"id": f"meet-{uuid.uuid4()}", "count": len(ids)}
    with ThreadPoolExecutor(len(ids)) as pool:
        results = list(pool.map(lambda i: invoke(cloud, arn, {"action": "keys", "id": i, "meet": meet}), ids))
    assert [r["invocation"] for r in results] == ids  # nobody else's key, though all three overlapped
    assert {r["service"] for r in results} == {"echo-a"}  # the function's POWERTOOLS_SERVICE_NAME, not undefined
    assert len({r["environment"] for r in results}) == 3  # one execution environment each
    assert len({r["log_stream"] for r in results}) == 3
    # A later invocation reuses a warm environment instead of starting a fourth.
    again = invoke(cloud, arn, {"action": "keys", "id": "warm"})
    assert again["environment"] in {r["environment"] for r in results}
    assert invoke(cloud, cloud.outputs["EchoBArn"], {"action": "keys", "id": "b"})["service"] == "echo-b"
    # Each line the Logger wrote carries its own invocation's key, in the function's own log file.
    log = next((cloud.state_dir / "logs" / "functions").glob(f"{arn.rsplit(':', 1)[1]}.log")).read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"keys"' in line]
    assert {line["invocation"] for line in lines} >= set(ids)
    assert all(line["service"] == "echo-a" for line in lines)
