"""NotifyRequester: the plain-language confirmation (and, for access, the expiring archive link)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import NotifySettings
from functions.privacy.request_workflow.confirmation import notify_requester

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = NotifySettings


class NotifyInput(BaseModel):
    request_id: str
    execution: str
    status: str
    outcomes: list[dict[str, Any]]
    held: list[dict[str, Any]] = []
    export: dict[str, Any] | None = None


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=NotifyInput)
def handler(event: NotifyInput, context: LambdaContext) -> dict:
    result = notify_requester(
        event.request_id,
        event.status,
        [*event.outcomes, *event.held],
        SETTINGS.load(),
        default_clients(),
        execution=event.execution,
        export=event.export,
    )
    logger.info("requester notified", extra={"sent": result["sent"], "message_id": result.get("message_id")})
    if result["sent"]:
        metrics.add_metric(name="ConfirmationsSent", unit=MetricUnit.Count, value=1)
    return result
