"""boto3 clients, created once per container and shared (the only place clients are made)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
# Presigned export links must be SigV4 (X-Amz-Expires, at most 7 days); botocore may pick SigV2 otherwise.
_SERVICE_CONFIG = {"s3": _CONFIG.merge(Config(signature_version="s3v4"))}
_lock = threading.Lock()
_clients: dict[str, Any] = {}


class Clients:
    """Gives boto3 clients by service name; tests pass their own session."""

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session

    def client(self, service: str) -> Any:
        config = _SERVICE_CONFIG.get(service, _CONFIG)
        if self._session is not None:
            return self._session.client(service, config=config)
        with _lock:  # boto3's default session is not thread-safe when creating clients
            if service not in _clients:
                _clients[service] = boto3.session.Session().client(service, config=config)
            return _clients[service]

    def resource_table(self, name: str) -> Any:
        """A DynamoDB Table resource (for the project's own tables; connectors use the client)."""
        session = self._session or boto3.session.Session()
        return session.resource("dynamodb", config=_CONFIG).Table(name)


def default_clients() -> Clients:
    return Clients()
