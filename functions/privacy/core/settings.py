"""The function's configuration, parsed from its environment once per invocation.

A missing or malformed variable fails loudly at the start of the invocation, naming the variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from functions.privacy.core import runtime
from functions.privacy.datamap.model import DataMap, load_datamap


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    REQUESTS_TABLE: str
    AUDIT_BUCKET: str
    HMAC_KEY_ID: str
    DATAMAP_FILE: str = "datamap.json"
    EXPORT_BUCKET: str = ""
    HOLDS_TABLE: str = ""
    # Completion: the EventBridge bus downstream recipients listen on, and how long an export link lives.
    EVENT_BUS_NAME: str = ""
    EXPORT_LINK_SECONDS: int = 7 * 24 * 3600
    # Retention functions only: key batches and cursors (identifiers), KMS-encrypted, expire in a day.
    RETENTION_WORK_BUCKET: str = ""
    RETENTION_SEGMENTS: int = 4
    # Intake and verification only (other functions do not get them):
    STATE_MACHINE_ARN: str = ""
    IDEMPOTENCY_TABLE: str = ""
    SENDER_EMAIL: str = ""
    FORM_ORIGIN: str = ""
    # The digest function only: the KMS asymmetric key that signs evidence digests.
    SIGNING_KEY_ID: str = ""

    @classmethod
    def load(cls) -> Settings:
        return cls.model_validate(dict(runtime.environ()))

    def datamap(self) -> DataMap:
        path = Path(self.DATAMAP_FILE)
        if not path.is_absolute():
            path = runtime.task_root() / path
        return _cached_datamap(str(path))


@lru_cache(maxsize=8)
def _cached_datamap(path: str) -> DataMap:
    # Parsed once per container: the bundled data map never changes while a function lives.
    return load_datamap(path)
