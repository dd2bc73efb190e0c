"""PlanRetentionRun: the run id and each store's cut-offs, from the data map."""

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.observability import logger, tracer
from functions.privacy.core.settings import RetentionPlanSettings
from functions.privacy.retention.runs import RetentionRunInput
from functions.privacy.retention.service import start_run

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = RetentionPlanSettings


class PlanInput(BaseModel):
    run: RetentionRunInput  # the execution input: {"as_of": ..., "dry_run": ...}
    execution: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=PlanInput)
def handler(event: PlanInput, context: LambdaContext) -> dict:
    plan = start_run(event.run, event.execution, SETTINGS.load())
    logger.info("retention run planned", extra={"run_id": plan["run_id"], "stores": len(plan["stores"])})
    return plan
