"""The named exceptions the workflow's Retry/Catch match on, and the mapping from AWS client errors to them.

Messages name the store, its resource, the operation and the AWS error code only: AWS error messages
can echo request values (SES's NotFound names the address), so they are never passed on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore import exceptions as botocore_errors
from botocore.exceptions import ClientError


class StoreError(Exception):
    """A store call failed for a reason with no more specific name; the message holds no personal data."""


class StoreThrottled(StoreError):
    """The store refused the call for rate reasons; the workflow retries with backoff."""


class StoreUnavailable(StoreError):
    """The store failed in a way a retry may fix (5xx, timeouts)."""


class StoreMisconfigured(StoreError):
    """The store does not match the data map (missing table, index, bucket or list): no retry helps."""


THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",  # SES non-sending APIs: one call per second
        "SlowDown",  # S3
        "RequestThrottled",
    }
)
UNAVAILABLE_CODES = frozenset({"InternalServerError", "InternalError", "ServiceUnavailable", "InternalFailure"})
# Errors where the store does not match the data map or the stack's grants: retrying cannot help.
MISCONFIGURED_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "NoSuchBucket",
        "AccessDenied",
        "AccessDeniedException",
        "ValidationException",  # e.g. the data map's key names differ from the table's
        "NotFoundException",  # SES: the contact list is missing (a missing contact is handled by the caller)
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def store_error(store_name: str, resource: str, operation: str, code: str, status: int | None = None) -> StoreError:
    """The named exception for an AWS error code, with a message free of personal data."""
    message = f"store {store_name} ({resource}): {operation} failed with {code}"
    if code in THROTTLE_CODES:
        return StoreThrottled(message)
    if code in MISCONFIGURED_CODES:
        return StoreMisconfigured(message)
    if code in UNAVAILABLE_CODES or (status is not None and status >= 500):
        return StoreUnavailable(message)
    return StoreError(message)


@contextmanager
def mapped_errors(store_name: str, resource: str, operation: str) -> Iterator[None]:
    """Re-raise botocore failures inside the block as StoreThrottled/StoreUnavailable/StoreMisconfigured."""
    try:
        yield
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # `from None`: the ClientError's own message may hold identifiers and would reach the logs.
        raise store_error(store_name, resource, operation, error_code(exc), status) from None
    except (botocore_errors.ConnectionError, botocore_errors.HTTPClientError) as exc:  # timeouts included
        failure = type(exc).__name__
        raise StoreUnavailable(f"store {store_name} ({resource}): {operation} failed with {failure}") from None


class ProviderError(Exception):
    """A call to an AWS service outside the data stores (SES sending) failed; the message names the service,
    operation and error code only: provider messages can name the recipient."""


class ProviderThrottled(ProviderError):
    """The provider refused the call for rate reasons; a retry with backoff may succeed."""


class ProviderUnavailable(ProviderError):
    """The provider failed in a way a retry may fix (5xx, timeouts)."""


def provider_error(service: str, operation: str, code: str, status: int | None = None) -> ProviderError:
    message = f"{service} {operation} failed with {code}"
    if code in THROTTLE_CODES:
        return ProviderThrottled(message)
    if code in UNAVAILABLE_CODES or (status is not None and status >= 500):
        return ProviderUnavailable(message)
    return ProviderError(message)


@contextmanager
def mapped_provider_errors(service: str, operation: str) -> Iterator[None]:
    """Re-raise botocore failures inside the block as ProviderError (or its throttled/unavailable kinds)."""
    try:
        yield
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # `from None`: the chained ClientError would carry the provider's message into logs and traces.
        raise provider_error(service, operation, error_code(exc), status) from None
    except (botocore_errors.ConnectionError, botocore_errors.HTTPClientError) as exc:
        raise ProviderUnavailable(f"{service} {operation} failed with {type(exc).__name__}") from None
