"""EraseFromStore / RecheckStore: run one store task of a request through its connector."""

from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.aws import default_clients
from functions.privacy.observability import logger, metrics, tracer
from functions.privacy.settings import Settings
from functions.privacy.store_tasks import erase_store, recheck_store


class StoreTaskInput(BaseModel):
    request_id: str
    store: str
    operation: Literal["erase", "recheck"]


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=StoreTaskInput)
def handler(event: StoreTaskInput, context: LambdaContext) -> dict:
    settings, clients = Settings.load(), default_clients()
    logger.append_keys(store=event.store, operation=event.operation)
    if event.operation == "erase":
        outcome = erase_store(event.request_id, event.store, settings, clients)
        metrics.add_dimension(name="store", value=event.store)
        metrics.add_metric(name="RecordsDeleted", unit=MetricUnit.Count, value=outcome["deleted"])
        metrics.add_metric(name="RecordsAnonymised", unit=MetricUnit.Count, value=outcome["anonymised"])
    else:
        outcome = recheck_store(event.request_id, event.store, settings, clients)
    logger.info("store task done", extra={k: v for k, v in outcome.items() if isinstance(v, int)})
    return outcome
