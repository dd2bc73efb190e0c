"""`dsr holds`: place, release and list legal holds."""

from __future__ import annotations

import typer

from functions.privacy.operations import holds as hold_actions
from functions.privacy.subjects import holds as holds_domain

from .context import console, engine, guarded
from .fitted import print_fitted

app = typer.Typer(
    help="Legal holds: records erasure and retention must keep while the hold stands.", no_args_is_help=True
)


@app.command("place")
@guarded
def place(
    ctx: typer.Context,
    email: str = typer.Option(..., "--email", help="The subject's email; resolved through the data map."),
    reason: str = typer.Option(..., "--reason", help="Why (e.g. a litigation reference); kept in evidence."),
    store: str | None = typer.Option(None, "--store", help="Hold only this store of the data map."),
    category: str | None = typer.Option(None, "--category", help="Hold only stores holding this data category."),
    expires: str | None = typer.Option(None, "--expires", help="When the hold lapses (ISO 8601); default: never."),
) -> None:
    """Place a hold on a subject's records (every store, one store or one category) and record it in evidence."""
    eng = engine(ctx)
    hold = hold_actions.place_hold(
        eng.tables(),
        eng.clients,
        eng.datamap(),
        email=email,
        reason=reason,
        operator=eng.operator,
        store=store,
        category=category,
        expires_at=expires,
    )
    scope = f"store {hold.store}" if hold.store else f"category {hold.category}" if hold.category else "every store"
    console.print(f"Placed {hold.hold_id} on {hold.subject_hmac} ({scope})")
    for missing in hold.unresolved:
        # The hold still covers the email's own stores; these stores cannot be matched without the identifier.
        not_searched = ", ".join(missing["stores_not_searched"]) or "none"
        console.print(
            f"Not resolved: {missing['identifier']} (not found in store {missing['store']}); "
            f"stores not covered by value: {not_searched}"
        )


@app.command("release")
@guarded
def release(
    ctx: typer.Context,
    subject_hmac: str = typer.Argument(..., help="The subject's HMAC, as `dsr holds list` shows it."),
    hold_id: str = typer.Argument(..., help="The hold id (hold-...)."),
) -> None:
    """Release a hold: the record stays for the audit trail, the subject's identifiers are dropped."""
    eng = engine(ctx)
    hold = hold_actions.release_hold(
        eng.tables(), eng.clients, subject=subject_hmac, hold_id=hold_id, operator=eng.operator
    )
    console.print(f"Released {hold.hold_id} at {hold.released_at}")


@app.command("list")
@guarded
def list_holds(
    ctx: typer.Context,
    all_holds: bool = typer.Option(False, "--all", help="Include released and expired holds."),
) -> None:
    """List active holds (subjects by HMAC only)."""
    eng = engine(ctx)
    found = holds_domain.all_holds(eng.clients.resource_table(eng.output("HoldsTableName")), include_inactive=all_holds)
    columns = ("Subject", "Hold", "State", "Scope", "Reason", "Placed", "By", "Expires", "Released")
    rows = []
    for hold in found:
        scope = f"store {hold.store}" if hold.store else f"category {hold.category}" if hold.category else "all stores"
        state = "released" if hold.released_at else "active" if hold.active() else "expired"
        rows.append(
            (
                hold.subject_hmac,
                hold.hold_id,
                state,
                scope,
                hold.reason,
                hold.placed_at,
                hold.placed_by,
                hold.expires_at or "",
                hold.released_at or "",
            )
        )
    print_fitted(console, f"{len(found)} hold(s)", columns, rows, keep=("Hold", "State"))
