"""SES adapter pieces that need no server: message building and the outbox."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from local.adapters import base, sesv2


def parse(message: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(message, policy=email.policy.default)  # type: ignore[return-value]


def test_message_with_text_and_html_is_multipart_alternative() -> None:
    message = parse(
        bytes(
            sesv2.build_message(
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
        bytes(sesv2.build_message("p@example.com", {"ToAddresses": ["a@example.com"]}, "Hi", None, "<p>x</p>", "id"))
    )
    assert message.get_content_type() == "text/html"


def test_outbox_files_are_numbered_and_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base._installed, "state_dir", tmp_path)
    paths = [sesv2.write_eml(f"Subject: {n}\n\nbody {n}\n".encode()) for n in range(3)]
    assert [p.parent for p in paths] == [tmp_path / "outbox"] * 3
    assert len({p.name for p in paths}) == 3 and all(p.suffix == ".eml" for p in paths)
    assert [parse(p.read_bytes())["Subject"] for p in paths] == ["0", "1", "2"]
    assert not list((tmp_path / "outbox").glob(".*"))  # no partial files left behind
