"""RejectUnverified: the code expired or was entered wrongly too often; record the rejection with evidence."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import RejectUnverifiedSettings
from functions.privacy.intake.filing import reject_unverified

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = RejectUnverifiedSettings


class RejectInput(BaseModel):
    request_id: str
    error: str  # the error name the workflow caught: States.Timeout or VerificationFailed


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RejectInput)
def handler(event: RejectInput, context: LambdaContext) -> dict:
    result = reject_unverified(event.request_id, event.error, SETTINGS.load(), default_clients())
    logger.info("request rejected unverified", extra={"error": event.error})
    metrics.add_dimension(name="reason", value=event.error)
    metrics.add_metric(name="RequestsRejectedUnverified", unit=MetricUnit.Count, value=1)
    return result
