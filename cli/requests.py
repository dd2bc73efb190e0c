"""`dsr requests`: list, show, extend, refuse and file privacy requests."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.table import Table

from functions.privacy.core import timestamps
from functions.privacy.intake.filing import Submission
from functions.privacy.operations import extensions, filing, refusals
from functions.privacy.operations import timeline as timelines
from functions.privacy.requests import deadlines
from functions.privacy.requests.record import Jurisdiction, RequestStatus, RequestType

from .context import CliError, console, engine, guarded
from .fitted import print_fitted

app = typer.Typer(help="List, inspect, extend, refuse and file privacy requests.", no_args_is_help=True)

STATE_STYLE = {"overdue": "bold red", "at_risk": "yellow", "not_counted": "dim", "closed": "green", "on_track": ""}


def parse_moment(value: str, option: str) -> datetime:
    """An ISO 8601 date (its start, UTC) or a time with a zone; a zone-less time is refused, naming the option."""
    try:
        return timestamps.parse_utc_or_date(value, option)
    except ValueError as exc:
        raise CliError(str(exc)) from None


@app.command("list")
@guarded
def list_requests(
    ctx: typer.Context,
    status: RequestStatus | None = typer.Option(None, "--status", help="Only requests with this status."),
    request_type: RequestType | None = typer.Option(None, "--type", help="Only requests of this type."),
    due_before: str | None = typer.Option(None, "--due-before", help="Only requests due before this date/time."),
    deadline: deadlines.DeadlineState | None = typer.Option(
        None, "--deadline", help="Only requests in this deadline state (e.g. overdue, at_risk: what the alarms count)."
    ),
) -> None:
    """List requests by due date with their deadline state (no personal data: subjects are not shown)."""
    eng = engine(ctx)
    due = parse_moment(due_before, "--due-before") if due_before else None
    found = timelines.list_requests(
        eng.clients.resource_table(eng.output("RequestsTableName")),
        status=status.value if status else None,
        request_type=request_type.value if request_type else None,
        due_before=due,
    )
    now = timestamps.now()
    if deadline is not None:
        found = [r for r in found if deadlines.deadline_state(r, now) is deadline]
    columns = ("Request", "Type", "Jurisdiction", "Status", "Received", "Due", "Deadline")
    rows = []
    for record in found:
        state = deadlines.deadline_state(record, now).value
        rows.append(
            (
                record.request_id,
                record.type.value,
                record.jurisdiction.value,
                record.status,
                record.received_at,
                record.due_at,
                f"[{STATE_STYLE[state]}]{state}[/]" if STATE_STYLE[state] else state,
            )
        )
    print_fitted(console, f"{len(found)} request(s)", columns, rows, keep=("Request", "Status"))


@app.command("show")
@guarded
def show(ctx: typer.Context, request_id: str = typer.Argument(..., help="The request id (req-...).")) -> None:
    """Show one request's timeline: its record, its evidence chain, and each execution store by store."""
    eng = engine(ctx)
    timeline = timelines.request_timeline(eng.tables(), eng.clients, request_id)
    record = timeline["record"]
    summary = Table(title=f"Request {request_id}", show_header=False)
    summary.add_column("Field", style="bold")
    summary.add_column("Value")
    for name, value in record.items():
        summary.add_row(name, str(value))
    console.print(summary)
    chain = Table(title="Evidence chain")
    for column in ("#", "Event", "Recorded", "Status"):
        chain.add_column(column)
    for position, entry in enumerate(timeline["chain"]):
        chain.add_row(str(position), entry["event"], str(entry["at"]), entry.get("status") or "")
    console.print(chain)
    stores = Table(title="Store records")
    for column in ("Store", "Operation", "Event", "Counts", "Recorded"):
        stores.add_column(column)
    for entry in timeline["stores"]:
        counts = ", ".join(f"{k} {v}" for k, v in entry["counts"].items())
        stores.add_row(entry["store"], entry["operation"], entry["event"], counts, str(entry["at"]))
    console.print(stores)
    for execution in timeline["executions"]:
        steps = Table(title=f"Execution {execution['name']}: {execution['status']} (started {execution['started']})")
        for column in ("At", "State", "Store", "Event"):
            steps.add_column(column)
        for step in execution["steps"]:
            steps.add_row(str(step["at"]), step["state"], step["store"] or "", step["event"])
        console.print(steps)
    if not timeline["executions"]:
        console.print("No execution found for this request.")


@app.command("extend")
@guarded
def extend(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request id (req-...)."),
    reason: str = typer.Option(
        ..., "--reason", help="Why more time is needed; sent to the requester and kept in evidence (no personal data)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="New due date (default: the legal maximum, GDPR +2 months, CCPA +45 days)."
    ),
) -> None:
    """Extend a request's deadline once (GDPR: up to two further months; CCPA: up to 45 further days).

    Moves due_at, emails the requester and writes `deadline_extended` evidence. Closed requests are refused.
    """
    eng = engine(ctx)
    extension = extensions.extend_deadline(
        eng.clients.resource_table(eng.output("RequestsTableName")),
        eng.clients.client("s3"),
        eng.clients.client("sesv2"),
        audit_bucket=eng.output("AuditBucketName"),
        sender=eng.sender(),
        configuration_set=eng.configuration_set(),
        request_id=request_id,
        reason=reason,
        operator=eng.operator,
        until=parse_moment(until, "--until") if until else None,
    )
    console.print(
        f"Extended {extension.request_id}: due {extension.previous_due_at} -> [bold]{extension.due_at}[/]; "
        f"requester emailed; evidence {extension.evidence_key}"
    )


@app.command("file")
@guarded
def file(
    ctx: typer.Context,
    request_type: RequestType = typer.Option(..., "--type", help="The right being exercised."),
    email: str = typer.Option(..., "--email", help="The subject's email address (stored encrypted, never shown)."),
    reason: str = typer.Option(
        ...,
        "--reason",
        help="How the identity was checked and why the operator files it (a letter, a call, a child's data found "
        "without consent); kept in evidence, so no personal data.",
    ),
    jurisdiction: Jurisdiction = typer.Option(Jurisdiction.GDPR, "--jurisdiction", help="Sets the deadline."),
    corrections: str | None = typer.Option(
        None, "--corrections", help='Rectification only: JSON object attribute -> corrected value, e.g. {"name":"A"}.'
    ),
) -> None:
    """File a request on someone's behalf: created already verified by the operator, its workflow started."""
    eng = engine(ctx)
    parsed = None
    if corrections is not None:
        try:
            parsed = json.loads(corrections)
        except ValueError as exc:
            raise CliError(f"--corrections is not valid JSON: {exc}") from None
    submission = Submission(type=request_type, email=email, jurisdiction=jurisdiction, corrections=parsed)
    record = filing.file_on_behalf(
        eng.tables(), eng.clients, eng.datamap(), submission, reason=reason, operator=eng.operator
    )
    console.print(
        f"Filed {record.request_id} ({record.type.value}, {record.jurisdiction.value}), verified by "
        f"{eng.operator}, due {record.due_at}; execution {record.request_id} started"
    )


@app.command("refuse")
@guarded
def refuse(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request id (req-...)."),
    reason: str = typer.Option(
        ...,
        "--reason",
        help="Why the request is refused; sent to the requester and kept in evidence (no personal data).",
    ),
    ground: refusals.Ground = typer.Option(
        refusals.Ground.MANIFESTLY_UNFOUNDED, "--ground", help="The legal ground of the refusal."
    ),
) -> None:
    """Refuse an open request no store has acted on yet (GDPR Art. 12(4)-(5); CCPA 11 CCR 7022 for deletions).

    Closes it as `refused`, stops its execution, emails the requester the reason, the ground and their right to
    complain to a supervisory authority or seek a judicial remedy, writes `refused` evidence and drops the
    identifiers.
    """
    eng = engine(ctx)
    refusal = refusals.refuse_request(
        eng.tables(),
        eng.clients,
        sender=eng.sender(),
        configuration_set=eng.configuration_set(),
        request_id=request_id,
        reason=reason,
        ground=ground,
        operator=eng.operator,
    )
    told = "requester emailed" if refusal.message_id else "no address left to email"
    console.print(
        f"Refused {refusal.request_id} ({refusal.ground.value}); {told}; "
        f"{len(refusal.stopped)} execution(s) stopped; evidence {refusal.evidence_key}"
    )
