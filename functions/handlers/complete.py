"""WriteEvidence: aggregate store outcomes and the re-check, write the completion evidence."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.aws import default_clients
from functions.privacy.completion import complete_request
from functions.privacy.observability import logger, metrics, tracer
from functions.privacy.settings import Settings


class CompleteInput(BaseModel):
    request_id: str
    outcomes: list[dict[str, Any]]
    rechecks: list[dict[str, Any]]


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=CompleteInput)
def handler(event: CompleteInput, context: LambdaContext) -> dict:
    result = complete_request(event.request_id, event.outcomes, event.rechecks, Settings.load(), default_clients())
    logger.info("request evidence written", extra={"status": result["status"]})
    metrics.add_dimension(name="status", value=result["status"])
    metrics.add_metric(name="RequestsClosed", unit=MetricUnit.Count, value=1)
    # Separate EMF documents: one metric document carries one set of dimensions.
    with single_metric(name="RequestsClosedByType", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as one:
        one.add_dimension(name="request_type", value=result["request_type"])
    for outcome in event.outcomes:
        if outcome.get("status") != "succeeded":  # failed after the workflow's retries
            with single_metric(
                name="StoreTasksFailed", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
            ) as one:
                one.add_dimension(name="store", value=str(outcome.get("store")))
    return result
