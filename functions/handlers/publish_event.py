"""PublishCompletionEvent: one event for downstream recipients (GDPR Art. 19) on the stack's bus."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import PublishEventSettings
from functions.privacy.request_workflow.downstream import publish_completion

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = PublishEventSettings


class PublishInput(BaseModel):
    request_id: str
    type: str
    subject_hmac: str
    status: str
    outcomes: list[dict[str, Any]]


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=PublishInput)
def handler(event: PublishInput, context: LambdaContext) -> dict:
    result = publish_completion(
        event.request_id,
        event.type,
        event.subject_hmac,
        event.status,
        event.outcomes,
        SETTINGS.load(),
        default_clients().client("events"),
    )
    logger.info("completion event", extra={"published": result["published"]})
    if result["published"]:
        metrics.add_metric(name="DownstreamEventsPublished", unit=MetricUnit.Count, value=1)
    return result
