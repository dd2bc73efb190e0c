"""WriteEvidence: aggregate store outcomes, held stores, the re-check and the export; write the completion evidence."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import CompleteSettings
from functions.privacy.request_workflow.completion import complete_request

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = CompleteSettings


class CompleteInput(BaseModel):
    request_id: str
    outcomes: list[dict[str, Any]]
    rechecks: list[dict[str, Any]]
    held: list[dict[str, Any]] = []
    execution: str | None = None
    export: dict[str, Any] | None = None


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=CompleteInput)
def handler(event: CompleteInput, context: LambdaContext) -> dict:
    result = complete_request(
        event.request_id,
        event.outcomes,
        event.rechecks,
        SETTINGS.load(),
        default_clients(),
        held=event.held,
        execution=event.execution,
        export=event.export,
    )
    logger.info("request evidence written", extra={"status": result["status"], "held_stores": len(event.held)})
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
