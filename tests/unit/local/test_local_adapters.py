"""The local cloud's pieces that need no server: message building, definitions, code extraction, install/uninstall."""

from __future__ import annotations

import email
import email.policy
import io
import json
import threading
import warnings
import zipfile
from pathlib import Path

import pytest

from local import adapters
from local.cloud import _dependency_order


def parse(message: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(message, policy=email.policy.default)


def test_message_with_text_and_html_is_multipart_alternative() -> None:
    message = parse(
        bytes(
            adapters.build_message(
                "Privacy <privacy@example.com>",
                {"ToAddresses": ["a@example.com", "b@example.com"], "BccAddresses": ["audit@example.com"]},
                "Your code",
                "Code: 1",
                "<p>Code: <b>1</b></p>",
                "0100-abc",
                reply_to=["dpo@example.com"],
                headers=[{"Name": "X-Request", "Value": "req-1"}],
            )
        )
    )
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == "a@example.com, b@example.com"
    assert message["Bcc"] == "audit@example.com"
    assert message["Reply-To"] == "dpo@example.com"
    assert message["X-Request"] == "req-1"
    assert "0100-abc" in message["Message-ID"]
    assert message.get_body(("plain",)).get_content().strip() == "Code: 1"
    assert message.get_body(("html",)).get_content().strip() == "<p>Code: <b>1</b></p>"


def test_html_only_message_is_a_single_html_part() -> None:
    message = parse(
        bytes(adapters.build_message("p@example.com", {"ToAddresses": ["a@example.com"]}, "Hi", None, "<p>x</p>", "id"))
    )
    assert message.get_content_type() == "text/html"


def test_outbox_files_are_numbered_and_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapters._installed, "state_dir", tmp_path)
    paths = [adapters.write_eml(f"Subject: {n}\n\nbody {n}\n".encode()) for n in range(3)]
    assert [p.parent for p in paths] == [tmp_path / "outbox"] * 3
    assert len({p.name for p in paths}) == 3 and all(p.suffix == ".eml" for p in paths)
    assert [parse(p.read_bytes())["Subject"] for p in paths] == ["0", "1", "2"]
    assert not list((tmp_path / "outbox").glob(".*"))  # no partial files left behind


def test_definition_substitutions_are_applied_to_every_form() -> None:
    substitutions = {"DefinitionSubstitutions": {"Fn": "arn:aws:lambda:us-east-1:123456789012:function:f", "N": 4}}
    text = '{"States": {"A": {"Resource": "${Fn}", "MaxConcurrency": ${N}}}}'
    from_string = adapters._definition({"DefinitionString": text, **substitutions}, "123456789012", "us-east-1")
    assert json.loads(from_string)["States"]["A"] == {
        "Resource": substitutions["DefinitionSubstitutions"]["Fn"],
        "MaxConcurrency": 4,
    }
    from_object = adapters._definition(
        {"Definition": {"Comment": "${Fn}"}, **substitutions}, "123456789012", "us-east-1"
    )
    assert json.loads(from_object)["Comment"].endswith(":function:f")


def test_unsupported_types_exclude_the_ones_the_adapters_create() -> None:
    template = {
        "Resources": {
            "List": {"Type": "AWS::SES::ContactList"},
            "Schedule": {"Type": "AWS::Scheduler::Schedule"},
            "Alarm1": {"Type": "AWS::CloudWatch::Alarm"},
            "Alarm2": {"Type": "AWS::CloudWatch::Alarm"},
            "Table": {"Type": "AWS::DynamoDB::Table"},
            "Custom": {"Type": "Custom::Thing"},
            "Policy": {"Type": "AWS::S3::BucketPolicy"},
        }
    }
    assert adapters.unsupported_resource_types(template) == {"AWS::CloudWatch::Alarm": ["Alarm1", "Alarm2"]}


def test_code_is_extracted_once_even_when_invocations_race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapters._installed, "state_dir", tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pkg/__init__.py", "")
        archive.writestr("pkg/handler.py", "def handler(event, context):\n    return event\n")
    data = buffer.getvalue()
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(adapters.extract_code(data))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert (results[0] / "pkg" / "handler.py").is_file()
    assert [p.name for p in (tmp_path / "lambda").iterdir()] == [results[0].name]  # staging dirs cleaned up


def test_error_payload_starts_at_the_handler() -> None:
    class StoreThrottled(Exception):
        pass

    def handler() -> None:
        raise StoreThrottled("slow down")

    try:
        handler()
    except StoreThrottled as exc:
        payload = adapters._error_payload(exc, "req-1")
    assert {k: payload[k] for k in ("errorType", "errorMessage", "requestId")} == {
        "errorType": "StoreThrottled",
        "errorMessage": "slow down",
        "requestId": "req-1",
    }
    assert "in handler" in payload["stackTrace"][-1]


def test_artifacts_are_deployed_after_their_dependencies() -> None:
    artifacts = {
        "Engine": {"dependencies": ["Stores", "Engine.assets"]},
        "Engine.assets": {},
        "Stores": {"dependencies": ["Stores.assets"]},
        "Stores.assets": {},
        "Tree": {},
    }
    order = _dependency_order(artifacts)
    assert order.index("Stores") < order.index("Engine")
    assert order.index("Engine.assets") < order.index("Engine")
    assert order.index("Stores.assets") < order.index("Stores")


def test_uninstall_gives_back_stock_moto(tmp_path: Path) -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation import parsing
    from moto.s3.models import FakeBucket
    from moto.sesv2 import urls
    from moto.sesv2.responses import SESV2Response

    before = (
        vars(LambdaFunction)["invoke"],
        vars(FakeBucket)["create_from_cloudformation_json"],
        parsing.resource_class_from_type,
        dict(urls.url_paths),
        list(warnings.filters),
    )
    already_installed = adapters._installed.users > 0  # a session-wide local cloud may be running
    adapters.install(tmp_path)
    try:
        assert hasattr(SESV2Response, "put_suppressed_destination")
        assert parsing.resource_class_from_type("AWS::SES::ContactList") is adapters.SesContactList
    finally:
        adapters.uninstall()
    after = (
        vars(LambdaFunction)["invoke"],
        vars(FakeBucket)["create_from_cloudformation_json"],
        parsing.resource_class_from_type,
        dict(urls.url_paths),
        list(warnings.filters),
    )
    assert after == before
    assert hasattr(SESV2Response, "put_suppressed_destination") == already_installed
