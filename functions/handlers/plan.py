"""PlanStoreTasks: resolve the subject through the data map and list one task per store."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import PlanSettings
from functions.privacy.request_workflow.planning import plan_request

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = PlanSettings


class PlanInput(BaseModel):
    request_id: str


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=PlanInput)
def handler(event: PlanInput, context: LambdaContext) -> dict:
    plan = plan_request(event.request_id, SETTINGS.load(), default_clients())
    logger.info("planned store tasks", extra={"request_type": plan["type"], "stores": len(plan["tasks"])})
    metrics.add_dimension(name="request_type", value=str(plan["type"]))
    metrics.add_metric(name="RequestsPlanned", unit=MetricUnit.Count, value=1)
    return plan
