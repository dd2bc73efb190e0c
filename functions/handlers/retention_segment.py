"""ExpireSegment: one DynamoDB parallel-scan segment of a retention run."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, tracer
from functions.privacy.core.settings import RetentionExpirySettings
from functions.privacy.retention.service import expire_segment

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = RetentionExpirySettings


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    result = expire_segment(
        event, SETTINGS.load(), default_clients(), lambda: context.get_remaining_time_in_millis() / 1000
    )
    logger.info("segment done", extra={"store": event["store"], "segment": event["segment"], "more": result["more"]})
    return result
