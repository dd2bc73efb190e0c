"""A digest written now, for the verifier and tampering tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.privacy.evidence.digests import SETTLE, write_digest


def digest_now(s3: Any, kms: Any, bucket: str, key: str) -> dict[str, Any]:
    """Digest everything written up to this second, then let the clock move past the cut-off."""
    result = write_digest(s3, kms, bucket, key, now=datetime.now(UTC) + SETTLE + timedelta(seconds=1))
    time.sleep(2.1)  # S3 times are whole seconds: later writes must fall after the cut-off
    return result
