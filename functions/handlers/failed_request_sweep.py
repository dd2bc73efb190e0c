"""FailedRequestSweep: once a day, drop the raw identifiers of old failed and never-verified requests."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import FailedRequestSweepSettings
from functions.privacy.retention.failed_requests import sweep_failed_requests

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = FailedRequestSweepSettings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    settings = SETTINGS.load()
    clients = default_clients()
    result = sweep_failed_requests(
        clients.resource_table(settings.REQUESTS_TABLE),
        clients.client("s3"),
        settings.AUDIT_BUCKET,
        retention_days=settings.FAILED_REQUEST_RETENTION_DAYS,
    )
    summary = {"dropped": len(result.dropped), "kept": result.kept, "dropped_requests": result.dropped}
    metrics.add_metric(name="FailedRequestIdentifiersDropped", unit=MetricUnit.Count, value=len(result.dropped))
    logger.info("failed requests swept", extra=summary)
    return summary
