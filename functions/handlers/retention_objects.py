"""PlanObjectBatches: list a bucket's versions and write key batches for the Distributed Map."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, tracer
from functions.privacy.core.settings import RetentionExpirySettings
from functions.privacy.retention.service import plan_object_round

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = RetentionExpirySettings


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    result = plan_object_round(
        event, SETTINGS.load(), default_clients(), lambda: context.get_remaining_time_in_millis() / 1000
    )
    logger.info("object batches planned", extra={"store": event["store"], "batches": result["round"]["batches"]})
    return result
