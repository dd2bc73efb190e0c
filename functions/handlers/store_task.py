"""One store task of a request (ExportFromStore, EraseFromStore, ... or RecheckStore) through its connector."""

from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, metrics, tracer
from functions.privacy.core.settings import StoreTaskSettings
from functions.privacy.request_workflow.store_tasks import recheck_store, run_store_task

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = StoreTaskSettings

# Counts worth a metric per operation (everything else in the outcome is logged as counts only).
METRICS = {
    "erase": {"deleted": "RecordsDeleted", "anonymised": "RecordsAnonymised"},
    "export": {"records": "RecordsExported", "objects": "ObjectsExported"},
    "rectify": {"changed": "RecordsRectified"},
    "restrict": {"changed": "RecordsRestricted"},
    "opt_out": {"changed": "ContactsOptedOut"},
}


class StoreTaskInput(BaseModel):
    request_id: str
    store: str
    operation: Literal["export", "erase", "rectify", "restrict", "opt_out", "recheck"]


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=StoreTaskInput)
def handler(event: StoreTaskInput, context: LambdaContext) -> dict:
    settings, clients = SETTINGS.load(), default_clients()
    logger.append_keys(store=event.store, operation=event.operation)
    if event.operation == "recheck":
        outcome = recheck_store(event.request_id, event.store, settings, clients)
    else:
        outcome = run_store_task(event.request_id, event.store, event.operation, settings, clients)
        metrics.add_dimension(name="store", value=event.store)
        for field, name in METRICS[event.operation].items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=int(outcome.get(field, 0)))
    logger.info("store task done", extra={k: v for k, v in outcome.items() if isinstance(v, int)})
    return outcome
