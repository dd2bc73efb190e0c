"""RecordStoreOutcome: add up a store's counts, write its retention evidence, emit metrics."""

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import RetentionEvidenceSettings
from functions.privacy.retention.service import record_store

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = RetentionEvidenceSettings


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    settings = SETTINGS.load()
    entry = record_store(event, event["units"], settings, default_clients())
    logger.info("store retention recorded", extra={k: v for k, v in entry.items() if isinstance(v, int)})
    if not event["dry_run"]:
        # One metric per category the store holds: dashboards read expiry in the policy's words.
        for category in settings.datamap().stores[event["store"]].categories:
            with single_metric(
                name="RetentionExpired", unit=MetricUnit.Count, value=entry["expired"], namespace="PrivacyEngine"
            ) as metric:
                metric.add_dimension(name="store", value=event["store"])
                metric.add_dimension(name="category", value=category)
    return entry
