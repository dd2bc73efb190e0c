"""DeleteObjectBatch: one DeleteObjects call for one key batch (a Distributed Map item)."""

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, tracer
from functions.privacy.core.settings import RetentionBatchSettings
from functions.privacy.retention.service import delete_object_batch

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = RetentionBatchSettings


class BatchInput(BaseModel):
    store: str
    work_bucket: str
    batch: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=BatchInput)
def handler(event: BatchInput, context: LambdaContext) -> dict:
    return delete_object_batch(event.model_dump(), SETTINGS.load(), default_clients())
