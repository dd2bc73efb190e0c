"""`make demo`: deploy the synthesized stacks into the in-process local cloud, seed sample subjects,
erase one through the real request state machine, and report what happened store by store.

Exits non-zero unless the subject's personal data is gone (or anonymised under a recorded
exception), the evidence is in the audit bucket and cannot be deleted, and nobody else was touched.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from functions.privacy.core.clients import Clients
from functions.privacy.datamap.model import StoreKind
from functions.privacy.evidence import records as evidence_records
from functions.privacy.requests.record import RequestType

from .cloud import LocalCloud
from .inspect import holdings, local_datamap
from .seed import seed_sample_subjects
from .synth import synthesize
from .workflow import failed_states, start_request, wait_for_execution

console = Console(width=160)  # the store table reads badly when wrapped


def _outputs(deployed: dict[str, dict[str, str]]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for outputs in deployed.values():
        flat.update(outputs)
    return flat


def main(verbose: bool = False) -> int:
    """``verbose`` also prints what the functions log; otherwise it is in ``.local/logs/`` only."""
    state_dir = Path(".local")
    state_dir.mkdir(exist_ok=True)
    datamap = local_datamap()
    console.rule("[bold]Privacy engine demo: one erasure, end to end, on the local cloud")
    with console.status("Synthesizing the CDK app (cdk-nag AwsSolutions applied)..."):
        cdk_out = synthesize(Path(tempfile.mkdtemp(prefix="cdk.out-", dir=state_dir)))
    console.print(f"Synthesized stacks into {cdk_out}")
    problems: list[str] = []
    with LocalCloud(port=0, state_dir=state_dir, echo_function_logs=verbose) as cloud:
        with console.status("Deploying the synthesized templates into the local cloud..."):
            outputs = _outputs(cloud.deploy(cdk_out))
        console.print(
            f"Deployed: state machine {outputs['RequestStateMachineArn'].split(':')[-1]}, "
            f"audit bucket {outputs['AuditBucketName']}"
        )
        console.print(_skipped_line(cloud, state_dir))
        clients = Clients()
        subjects = seed_sample_subjects(datamap, clients)
        target, others = subjects[0], subjects[1:]
        before = {s["email"]: holdings(datamap, clients, s) for s in subjects}
        console.print(f"Seeded {len(subjects)} sample subjects across {len(datamap.stores)} stores")

        request_id, execution_arn = start_request(clients, outputs, RequestType.ERASURE, target["email"])
        console.print(f"Erasure request [bold]{request_id}[/] for {target['email']} -> execution {request_id}")
        execution = wait_for_execution(clients, execution_arn)
        if execution["status"] != "SUCCEEDED":
            problems.append(f"execution ended {execution['status']}")
            for error in failed_states(clients, execution_arn):
                console.print(f"  [red]{error}")
            return _finish(problems)
        result = json.loads(execution["output"])
        problems += _report(clients, datamap, outputs, request_id, result, target, others, before)
    return _finish(problems)


def _skipped_line(cloud: LocalCloud, state_dir: Path) -> str:
    """moto's missing resource types in one line (the full listing is in the local cloud's log)."""
    kinds = {kind: len(ids) for stack in cloud.skipped.values() for kind, ids in stack.items()}
    logs = state_dir / "logs"
    if not kinds:
        return f"Every resource was created locally; function logs in {logs}/functions/"
    return (
        f"Not emulated locally (moto has no model): {sum(kinds.values())} resources of {len(kinds)} types, "
        f"listed in {logs}/local-cloud.log; function logs in {logs}/functions/"
    )


def _report(clients, datamap, outputs, request_id, result, target, others, before) -> list[str]:
    problems: list[str] = []
    s3 = clients.client("s3")
    bucket = outputs["AuditBucketName"]
    evidence = json.loads(s3.get_object(Bucket=bucket, Key=result["evidence_key"])["Body"].read())
    table = Table(title=f"Erasure {request_id}: status {evidence['status']}")
    for column in ("store", "kind", "found", "deleted", "anonymised", "kept", "re-check residual", "exception"):
        table.add_column(column)
    for name, outcome in sorted(evidence["stores"].items()):
        recheck = outcome.get("recheck", {})
        table.add_row(
            name,
            datamap.stores[name].kind.value,
            str(outcome.get("found", "-")),
            str(outcome.get("deleted", "-")),
            str(outcome.get("anonymised", "-")),
            str(outcome.get("kept", "-")),
            str(recheck.get("residual", "-")),
            "; ".join(outcome.get("exceptions", []))[:60] or "",
        )
        if outcome.get("status") != "succeeded":
            problems.append(f"store {name}: {outcome.get('status')} {outcome.get('error', '')}")
    console.print(table)
    for line in _lake_lines(datamap, evidence, s3, bucket, problems):
        console.print(line)

    after = holdings(datamap, clients, target)
    for name, counts in after.items():
        if counts["personal"]:
            problems.append(f"{name}: {counts['personal']} records of the subject still hold personal data")
    for person in others:
        if holdings(datamap, clients, person) != before[person["email"]]:
            problems.append(
                f"another subject's data changed ({person['customer_id'] if 'customer_id' in person else '?'})"
            )
    residual = {k: v["personal"] for k, v in after.items()}
    console.print(f"Re-check from outside: the subject's personal records per store {residual}")
    console.print(f"Other subjects intact: {len(others)} checked")

    head = s3.head_object(Bucket=bucket, Key=result["evidence_key"])
    console.print(
        f"Evidence: s3://{bucket}/{result['evidence_key']} sha256 {result['evidence_sha256'][:16]}... "
        f"lock {head.get('ObjectLockMode')} until {head.get('ObjectLockRetainUntilDate')}"
    )
    raw = json.dumps(evidence)
    if any(v in raw for v in target.values()):
        problems.append("the evidence contains a raw subject identifier")
    try:
        s3.delete_object(Bucket=bucket, Key=result["evidence_key"], VersionId=head["VersionId"])
        problems.append("the evidence object version could be deleted (Object Lock not enforced)")
    except s3.exceptions.ClientError as exc:
        console.print(f"Deleting the evidence is refused: {exc.response['Error']['Code']}")
    return problems


def _lake_lines(datamap, evidence: dict, s3, bucket: str, problems: list[str]) -> list[str]:
    """What erasure did inside the shared lake files: rows removed and files rewritten, from each store's record
    (the per-object list lives there only; the completion record links it by its SHA-256)."""
    lines = []
    for name, store in datamap.stores_of_kind(StoreKind.S3_DATASET).items():
        outcome = evidence["stores"].get(name, {})
        objects = []
        if "record" in outcome:
            recorded = evidence_records.read_record(s3, bucket, outcome["record"])
            if recorded is None:
                problems.append(f"{name}: the store record the completion record names is missing")
            else:
                if recorded[1] != outcome["record_sha256"]:
                    problems.append(f"{name}: the store record does not match the digest the completion record holds")
                objects = recorded[0]["outcome"].get("objects", [])
        rewritten = [o for o in objects if o["status"] in {"rewritten", "deleted"}]
        before, after = sum(o["rows_before"] for o in rewritten), sum(o["rows_after"] for o in rewritten)
        older = sum(o["older_versions_deleted"] for o in rewritten)
        kind = store.dataset.format if store.dataset else "?"
        if before - after != outcome.get("deleted", 0):  # the rewritten files lost someone else's rows
            problems.append(f"{name}: {before - after} rows left the rewritten files, {outcome.get('deleted')} erased")
        lines.append(
            f"Lake {name} ({kind}): {outcome.get('found', 0)} rows of the subject found, "
            f"{outcome.get('deleted', 0)} removed; {len(rewritten)} shared files rewritten "
            f"(rows {before} -> {after}, {older} older versions deleted), everyone else's rows kept"
        )
    return lines


def _finish(problems: list[str]) -> int:
    if problems:
        console.rule("[bold red]Demo FAILED")
        for problem in problems:
            console.print(f"[red]- {problem}")
        return 1
    console.rule("[bold green]Demo passed: the subject is erased, the evidence is locked, everyone else is intact")
    return 0


if __name__ == "__main__":
    sys.exit(main())
