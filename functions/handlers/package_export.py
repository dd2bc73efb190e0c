"""PackageExport: stream an access request's parts into one zip archive with its manifest."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import PackageExportSettings
from functions.privacy.request_workflow.exports import package_export

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = PackageExportSettings


class PackageInput(BaseModel):
    request_id: str
    outcomes: list[dict[str, Any]]


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=PackageInput)
def handler(event: PackageInput, context: LambdaContext) -> dict:
    settings = SETTINGS.load()
    result = package_export(
        event.request_id, event.outcomes, settings.datamap(), default_clients().client("s3"), settings.EXPORT_BUCKET
    )
    logger.info("export packaged", extra={k: v for k, v in result.items() if isinstance(v, int)})
    metrics.add_metric(name="ExportBytes", unit=MetricUnit.Bytes, value=result["archive_bytes"])
    return result
