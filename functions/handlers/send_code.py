"""SendVerificationCode: email a one-time code and park the workflow's task token on the request."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import SendCodeSettings
from functions.privacy.intake.filing import send_code

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = SendCodeSettings


class SendCodeInput(BaseModel):
    request_id: str
    task_token: str = Field(min_length=1)
    entered_at: str  # $$.State.EnteredTime: the code expires when the waiting task does
    timeout_seconds: int = Field(ge=1)


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=SendCodeInput)
def handler(event: SendCodeInput, context: LambdaContext) -> dict:
    sent = send_code(
        event.request_id, event.task_token, event.entered_at, event.timeout_seconds, SETTINGS.load(), default_clients()
    )
    logger.info("verification code sent", extra={"message_id": sent["message_id"]})
    metrics.add_metric(name="VerificationCodesSent", unit=MetricUnit.Count, value=1)
    return sent
