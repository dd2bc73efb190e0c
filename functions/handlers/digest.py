"""WriteEvidenceDigest: sign a digest of the evidence records written since the previous digest (scheduled)."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import DigestSettings
from functions.privacy.evidence.digests import write_digest

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = DigestSettings


class DigestInput(BaseModel):
    # The schedule passes its scheduled time, so a replayed invocation writes the same digest.
    as_of: AwareDatetime | None = None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=DigestInput)
def handler(event: DigestInput, context: LambdaContext) -> dict:
    settings, clients = SETTINGS.load(), default_clients()
    written = write_digest(
        clients.client("s3"), clients.client("kms"), settings.AUDIT_BUCKET, settings.SIGNING_KEY_ID, event.as_of
    )
    records = written["records"] if written else 0
    metrics.add_metric(name="EvidenceRecordsDigested", unit=MetricUnit.Count, value=records)
    logger.info("evidence digest", extra=written or {"records": 0})
    return written or {"key": None, "records": 0}
