"""PlanDatasetBatches and ExpireDatasetBatch: lake (s3_dataset) retention on the python3.12 dataset function.

``{"step": "plan", "event": <store plan>}`` lists the store's current objects into key batches;
``{"step": "batch", "event": <batch item>}`` drops the expired rows of one batch's objects (holds kept).
"""

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, tracer
from functions.privacy.core.settings import RetentionExpirySettings
from functions.privacy.retention.lake import expire_dataset_batch, plan_dataset_round

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = RetentionExpirySettings


class DatasetStepInput(BaseModel):
    step: Literal["plan", "batch"]
    event: dict[str, Any]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=DatasetStepInput)
def handler(event: DatasetStepInput, context: LambdaContext) -> dict:
    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    logger.append_keys(run_id=event.event.get("run_id"), store=event.event.get("store"))
    if event.step == "plan":
        result = plan_dataset_round(event.event, SETTINGS.load(), default_clients(), time_left)
        logger.info("dataset batches planned", extra={"batches": result["round"]["batches"]})
        return result
    result = expire_dataset_batch(event.event, SETTINGS.load(), default_clients(), time_left)
    carry = result["carry"]
    logger.info(
        "dataset batch done",
        extra={"objects": carry.get("objects", 0), "expired": carry.get("expired", 0), "more": result["more"]},
    )
    return result
