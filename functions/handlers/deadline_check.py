"""DeadlineCheck: once a day, count open requests at risk of missing their deadline or past it."""

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, tracer
from functions.privacy.core.settings import DeadlineCheckSettings
from functions.privacy.requests.deadlines import check_deadlines

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = DeadlineCheckSettings

# No dimensions (not even service): the overdue alarm watches PrivacyEngine/RequestsOverdue as is.
metrics = EphemeralMetrics(namespace="PrivacyEngine", service="")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    settings = SETTINGS.load()
    summary = check_deadlines(default_clients().resource_table(settings.REQUESTS_TABLE))
    result = {
        "at_risk": len(summary.at_risk),
        "overdue": len(summary.overdue),
        "unverified": len(summary.not_counted),
        "overdue_requests": [r.request_id for r in summary.overdue],
        "at_risk_requests": [r.request_id for r in summary.at_risk],
    }
    metrics.add_metric(name="RequestsAtRisk", unit=MetricUnit.Count, value=result["at_risk"])
    metrics.add_metric(name="RequestsOverdue", unit=MetricUnit.Count, value=result["overdue"])
    logger.info("deadlines checked", extra=result)
    return result
