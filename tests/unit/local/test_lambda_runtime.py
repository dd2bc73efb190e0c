"""Lambda runtime pieces that need no server: code extraction and error payloads."""

from __future__ import annotations

import io
import threading
import zipfile
from pathlib import Path

import pytest

from local.adapters import base, lambda_runtime


def test_code_is_extracted_once_even_when_invocations_race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base._installed, "state_dir", tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pkg/__init__.py", "")
        archive.writestr("pkg/handler.py", "def handler(event, context):\n    return event\n")
    data = buffer.getvalue()
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(lambda_runtime.extract_code(data))) for _ in range(6)]
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
        payload = lambda_runtime._error_payload(exc, "req-1")
    assert {k: payload[k] for k in ("errorType", "errorMessage", "requestId")} == {
        "errorType": "StoreThrottled",
        "errorMessage": "slow down",
        "requestId": "req-1",
    }
    assert "in handler" in payload["stackTrace"][-1]
