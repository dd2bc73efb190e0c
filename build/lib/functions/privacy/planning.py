"""Plan a request: resolve the subject through the data map and list one task per store."""

from __future__ import annotations

from . import requests
from .aws import Clients
from .keys import subject_hmac
from .requests import RequestType
from .settings import Settings
from .subjects import resolve_subject


class RequestTypeNotSupported(ValueError):
    """The workflow cannot act on this request type (yet); the request fails with this named error."""


# The store operation each request type runs; later rights add theirs here.
OPERATIONS = {RequestType.ERASURE: "erase"}


def plan_request(request_id: str, settings: Settings, clients: Clients) -> dict[str, object]:
    """Resolve identifiers, record them on the request and return the store tasks.

    Only the request id, store names and the subject's HMAC enter Step Functions state.
    """
    table = clients.resource_table(settings.REQUESTS_TABLE)
    record = requests.get_request(table, request_id)
    operation = OPERATIONS.get(record.type)
    if operation is None:
        raise RequestTypeNotSupported(f"request type {record.type.value} is not supported by this workflow")
    datamap = settings.datamap()
    identifiers = requests.get_identifiers(table, request_id)
    email = identifiers[datamap.subject_identifier]
    subject = resolve_subject(datamap, email, clients)
    hmac_value = subject_hmac(clients.client("kms"), settings.HMAC_KEY_ID, datamap.subject_identifier, email)
    requests.record_resolution(table, request_id, dict(subject.identifiers), hmac_value)
    tasks = [{"request_id": request_id, "store": name, "operation": operation} for name in datamap.stores]
    return {"request_id": request_id, "type": record.type.value, "subject_hmac": hmac_value, "tasks": tasks}
