"""ActOnDatasetStore and RecheckDatasetStore: an s3_dataset store's task (python3.12 with pyarrow).

With a task token (ActOnDatasetStore waits for it) erasure and access are queued for the dataset job; without
one (the re-check) the store is searched for the subject now, as for every other store.
"""

from typing import Literal

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, tracer
from functions.privacy.core.settings import DatasetStoreTaskSettings
from functions.privacy.dataset_jobs.enqueue import queue_store_task
from functions.privacy.request_workflow.store_tasks import recheck_store

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = DatasetStoreTaskSettings


class DatasetStoreTaskInput(BaseModel):
    request_id: str
    store: str
    operation: Literal["export", "erase", "rectify", "restrict", "opt_out", "recheck"]
    task_token: str | None = Field(default=None, min_length=1)


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
@event_parser(model=DatasetStoreTaskInput)
def handler(event: DatasetStoreTaskInput, context: LambdaContext) -> dict:
    settings, clients = SETTINGS.load(), default_clients()
    logger.append_keys(store=event.store, operation=event.operation)
    if event.operation == "recheck":
        outcome = recheck_store(event.request_id, event.store, settings, clients)
    elif event.task_token is None:
        raise ValueError("an s3_dataset store task other than the re-check needs the workflow's task token")
    else:
        outcome = queue_store_task(event.request_id, event.store, event.operation, event.task_token, settings, clients)
    logger.info(
        "dataset store task done",
        extra={k: v for k, v in outcome.items() if isinstance(v, int | str) and k in {"status", "found", "residual"}},
    )
    return outcome
