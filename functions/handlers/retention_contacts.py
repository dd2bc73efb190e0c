"""ExpireContacts: remove contacts past the cut-off from the SES contact list with one import job."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, tracer
from functions.privacy.core.settings import RetentionExpirySettings
from functions.privacy.retention.service import expire_contacts

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = RetentionExpirySettings


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    counts = expire_contacts(event, SETTINGS.load(), default_clients())
    logger.info("contacts expired", extra={"store": event["store"], "expired": counts["expired"]})
    return counts
