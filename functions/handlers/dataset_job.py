"""PlanDatasetJob, RunDatasetBatch and FinishDatasetJob: the dataset job's steps on the python3.12 dataset function.

``{"step": "plan", "job_id": ...}`` claims the queue and lists the stores' keys into batches;
``{"step": "batch", "event": <manifest item>}`` visits one batch's objects for every claimed subject;
``{"step": "finish", "job_id": ..., "failed": bool}`` records and resumes (or fails, for a retry) each claimed task.
"""

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.privacy.core.clients import default_clients
from functions.privacy.core.observability import logger, tracer
from functions.privacy.core.settings import DatasetJobSettings
from functions.privacy.dataset_jobs.job import finish_job, plan_job, run_batch

# What this function reads from its environment (tests/infra checks the template supplies it).
SETTINGS = DatasetJobSettings


class DatasetJobStep(BaseModel):
    step: Literal["plan", "batch", "finish"]
    job_id: str
    failed: bool = False
    event: dict[str, Any] = {}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=DatasetJobStep)
def handler(event: DatasetJobStep, context: LambdaContext) -> dict:
    settings, clients = SETTINGS.load(), default_clients()
    logger.append_keys(job_id=event.job_id, step=event.step)
    if event.step == "plan":
        result = plan_job(event.job_id, settings, clients)
    elif event.step == "batch":
        result = run_batch(
            {**event.event, "job_id": event.job_id},
            settings,
            clients,
            lambda: context.get_remaining_time_in_millis() / 1000,
        )
    else:
        result = finish_job(event.job_id, event.failed, settings, clients)
    logger.info("dataset job step done", extra={k: v for k, v in result.items() if isinstance(v, int)})
    return result
