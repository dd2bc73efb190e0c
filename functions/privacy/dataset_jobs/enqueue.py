"""The store task of an s3_dataset store: erasure and access wait in the queue for the dataset job.

The workflow invokes it with a task token and waits. A store already acted on (its evidence recorded) and the
operations the job does not batch (rectify, restrict and opt out are not applicable to lake files) are answered
at once through the token, with exactly what run_store_task returns; erasure and access are claimed (from here
the request can no longer be cancelled) and queued, and the job resumes the token with the store's outcome.
"""

from __future__ import annotations

import json
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.core.clients import Clients
from functions.privacy.core.settings import DatasetStoreTaskSettings
from functions.privacy.dataset_jobs import queue
from functions.privacy.request_workflow.store_tasks import (
    UnknownOperation,
    claim_store,
    recorded_outcome,
    run_store_task,
)


def queue_store_task(
    request_id: str,
    store_name: str,
    operation: str,
    task_token: str,
    settings: DatasetStoreTaskSettings,
    clients: Clients,
) -> dict[str, Any]:
    """Queue the task for the next dataset job, or answer it now; returns what was done (no values)."""
    if operation in queue.OPERATIONS:
        if recorded_outcome(request_id, store_name, operation, settings, clients) is None:
            claim_store(clients.resource_table(settings.REQUESTS_TABLE), request_id, store_name, operation)
            queue.enqueue(
                clients.resource_table(settings.DATASET_QUEUE_TABLE),
                store_name,
                request_id,
                operation,
                task_token,
                timestamps.now(),
            )
            return {"store": store_name, "operation": operation, "status": "queued"}
    elif operation not in ("rectify", "restrict", "opt_out"):
        raise UnknownOperation(f"operation {operation} is not a store task")
    output = run_store_task(request_id, store_name, operation, settings, clients)
    clients.client("stepfunctions").send_task_success(taskToken=task_token, output=json.dumps(output))
    return output
