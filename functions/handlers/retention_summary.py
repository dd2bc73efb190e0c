"""WriteRunSummary: the run's status (completed or partially_completed) and its summary evidence."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import RetentionEvidenceSettings
from functions.privacy.retention.service import summarize

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = RetentionEvidenceSettings


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    output = summarize(event, event["stores"], SETTINGS.load(), default_clients())
    failed = [s["store"] for s in output["stores"] if s["status"] != "succeeded"]
    metrics.add_metric(name="RetentionFailures", unit=MetricUnit.Count, value=len(failed))
    logger.info("retention run done", extra={"status": output["status"], "failed_stores": failed})
    return output
