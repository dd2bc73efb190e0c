"""Step Functions: state machines created where they execute, named executions, Distributed Map tolerance."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from .base import _patch

log = logging.getLogger("local.adapters")


def fail_distributed_maps_past_their_tolerance() -> None:
    """Gap: moto counts a Distributed Map's failed items but still lets the map run succeed. On AWS the run fails
    (States.ExceedToleratedFailureThreshold) once failures pass ToleratedFailureCount/Percentage, both 0 by default,
    and the Map state's Catch runs: retention relies on that to report a store whose batch deletes failed.
    """
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as component,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = component.DistributedIterationComponent._map_run

    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        original(self, env, eval_input)
        counter = eval_input.map_run_record.item_counter
        failed, total = counter.failed.get() + counter.timed_out.get(), counter.total.get()
        percentage = 100.0 * failed / total if total else 0.0
        if failed > eval_input.tolerated_failure_count and percentage > eval_input.tolerated_failure_percentage:
            error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
            cause = f"{failed} of {total} items failed, more than the map run tolerates"
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=error,
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=EventDetails(
                        mapRunFailedEventDetails=MapRunFailedEventDetails(error=error.error_name, cause=cause)
                    ),
                )
            )

    _patch(component.DistributedIterationComponent, "_map_run", _map_run)


def _definition(properties: Mapping[str, Any], account_id: str, region_name: str) -> str:
    """The ASL text of an AWS::StepFunctions::StateMachine, from any of its three forms, substituted."""
    if "DefinitionString" in properties:
        definition = properties["DefinitionString"]
    elif "Definition" in properties:
        definition = json.dumps(properties["Definition"])
    elif "DefinitionS3Location" in properties:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        location = properties["DefinitionS3Location"]
        key = s3_backends[account_id][get_partition(region_name)].get_object(
            location["Bucket"], location["Key"], version_id=location.get("Version")
        )
        definition = key.value.decode()
    else:
        raise ValueError("state machine has no DefinitionString, Definition or DefinitionS3Location")
    for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + name + "}", str(value))
    return definition


def create_state_machines_where_they_execute() -> None:
    """Gap: moto's CloudFormation creates state machines in the non-executing Step Functions backend and ignores
    ``DefinitionSubstitutions`` (how CDK's ``DefinitionBody.from_string`` passes ARNs). Create them, substituted,
    in the backend that serves the API (the ASL interpreter once ``execute_state_machine`` is on).
    """
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.responses import get_backend
    from moto.stepfunctions.utils import cfn_to_api_tags

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        logging_config = properties.get("LoggingConfiguration")
        tracing = properties.get("TracingConfiguration")
        return get_backend(account_id, region_name).create_state_machine(
            name=properties.get("StateMachineName", resource_name),
            definition=_definition(properties, account_id, region_name),
            roleArn=properties.get("RoleArn", ""),
            tags=cfn_to_api_tags(properties.get("Tags", [])),
            loggingConfiguration=_api_logging(logging_config) if logging_config else None,
            tracingConfiguration={"enabled": bool(tracing.get("Enabled"))} if tracing else None,
            sm_type=properties.get("StateMachineType", "STANDARD"),
        )

    def delete_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        get_backend(account_id, region_name).delete_state_machine(resource_name)

    _patch(StateMachine, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
    _patch(StateMachine, "delete_from_cloudformation_json", classmethod(delete_from_cloudformation_json))


def name_unnamed_executions() -> None:
    """Gap: moto's ASL interpreter names an execution started without a name "None", so a second unnamed start
    fails with ExecutionAlreadyExists. Name it with a UUID, as Step Functions does.
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start_execution = StepFunctionsParserBackend.start_execution

    def start_named_execution(
        self: Any, arn: str, name: str | None = None, execution_input: Any = None, trace_header: Any = None
    ) -> Any:
        return start_execution(self, arn, name or str(uuid.uuid4()), execution_input, trace_header)

    _patch(StepFunctionsParserBackend, "start_execution", start_named_execution)


def _api_logging(cfn: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "level": cfn.get("Level", "OFF"),
        "includeExecutionData": bool(cfn.get("IncludeExecutionData", False)),
        "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
            for d in cfn.get("Destinations", [])
            if "CloudWatchLogsLogGroup" in d
        ],
    }


def answer_redrive_as_not_redrivable() -> None:
    """Gap: moto has no RedriveExecution (in-process it raises, as a server it answers HTTP 500). Answer as Step
    Functions does for an execution it will not redrive: ``ExecutionNotRedrivable`` (HTTP 400), after checking that
    the execution exists. Callers then fall back to a new execution, the one path that works locally, and code
    outside ``local/`` handles AWS error codes only.
    """
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.responses import StepFunctionResponse

    class ExecutionNotRedrivable(AWSError):
        TYPE = "ExecutionNotRedrivable"
        STATUS = 400

    def redrive_execution(self: Any) -> Any:
        arn = self._get_param("executionArn")
        self.stepfunction_backend.describe_execution(arn)  # ExecutionDoesNotExist for an unknown execution
        raise ExecutionNotRedrivable(f"Execution {arn} cannot be redriven: the local cloud does not redrive executions")

    _patch(StepFunctionResponse, "redrive_execution", redrive_execution)


def stop_executions_waiting_for_a_task_token() -> None:
    """Gap: moto's StopExecution marks the program stopped but leaves a task waiting for its token asleep until its
    timeout, so the execution ends only then (and its Catch paths run meanwhile). On AWS the execution is aborted
    at once: wake the execution's waiting callbacks so the stopped program ends now.
    """
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    stop, set_error = ExecutionWorker.stop, Environment.set_error

    def stop_and_wake(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        stop(self, stop_date, error, cause)
        for endpoint in list(vars(self.env.callback_pool_manager).get("_pool", {}).values()):
            endpoint.interrupt_all()

    def keep_stopped(self: Any, error: Any) -> None:
        # The woken task ends in an error; a stopped execution stays stopped (ABORTED), as on AWS.
        if not isinstance(vars(self).get("_program_state"), ProgramStopped):
            set_error(self, error)

    _patch(ExecutionWorker, "stop", stop_and_wake)
    _patch(Environment, "set_error", keep_stopped)
