"""Fills the gaps in moto that the local cloud needs: one module per service it patches, one function per gap.

Every adapter patches moto in this process (the server runs in-process), is installed by `install()` and
removed again by `uninstall()`, so moto-based tests that run after the local cloud see stock moto.
"""

from __future__ import annotations

from pathlib import Path

from . import (
    cloudformation,
    dynamodb,
    events,
    kms,
    lambda_environments,
    lambda_logs,
    lambda_runtime,
    s3,
    sesv2,
    stepfunctions,
)
from .base import _MISSING, _install_lock, _installed, state_dir
from .cloudformation import DELIBERATELY_SKIPPED, unsupported_resource_types

__all__ = ["DELIBERATELY_SKIPPED", "install", "state_dir", "uninstall", "unsupported_resource_types"]


def install(state_dir: Path, echo_function_logs: bool = False) -> None:
    """Install every adapter (reference counted: nested local clouds share one installation).

    Functions' output goes to ``<state_dir>/logs/functions/<function>.log``; ``echo_function_logs`` also shows it here.
    """
    with _install_lock:
        _installed.state_dir = Path(state_dir).resolve()
        _installed.users += 1
        if _installed.users > 1:
            return
        lambda_logs.route_function_output(_installed.state_dir / "logs" / "functions", echo_function_logs)
        lambda_environments.give_each_environment_its_own_state()
        lambda_runtime.run_lambdas_in_process()
        sesv2.write_sent_email_to_outbox()
        sesv2.serve_ses_suppression_list()
        sesv2.serve_ses_import_jobs()
        stepfunctions.fail_distributed_maps_past_their_tolerance()
        dynamodb.scan_tables_while_others_write()
        s3.list_object_versions_without_copying_data()
        stepfunctions.create_state_machines_where_they_execute()
        stepfunctions.name_unnamed_executions()
        stepfunctions.answer_redrive_as_not_redrivable()
        stepfunctions.stop_executions_waiting_for_a_task_token()
        s3.apply_s3_bucket_properties()
        kms.apply_kms_key_properties()
        dynamodb.apply_dynamodb_table_properties()
        events.refer_to_event_buses_by_name()
        cloudformation.create_resource_types_moto_skips()
        cloudformation.fail_stacks_loudly()


def uninstall() -> None:
    """Undo `install()` once its last user is done."""
    with _install_lock:
        _installed.users = max(0, _installed.users - 1)
        if _installed.users:
            return
        while _installed.originals:
            owner, name, original = _installed.originals.pop()
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        while _installed.cleanups:
            _installed.cleanups.pop()()
