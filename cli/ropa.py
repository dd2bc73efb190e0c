"""`dsr ropa`: the record of processing activities (GDPR Art. 30(1)) from the data map and the stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from functions.privacy.operations import ropa as records

from .context import ROOT, CliError, Engine, console, engine, guarded


def stack_facts(eng: Engine) -> records.StackFacts:
    """The deployed settings (the stack's ProcessingRecord output), else cdk.json's context for an older stack."""
    raw: dict[str, Any]
    if eng.outputs.get("ProcessingRecord"):
        try:
            raw = json.loads(str(eng.outputs["ProcessingRecord"]))
        except ValueError as exc:
            raise CliError(f"the stack's ProcessingRecord output is not JSON: {exc}") from None
    else:
        try:
            raw = dict(json.loads((ROOT / "cdk.json").read_text())["context"])
        except (OSError, KeyError, ValueError):
            raise CliError("no ProcessingRecord output on the stack and no context in cdk.json") from None
        if "verification_timeout_hours" in raw and "verification_timeout_seconds" not in raw:
            raw["verification_timeout_seconds"] = int(raw["verification_timeout_hours"]) * 3600
    try:
        return records.StackFacts.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise CliError(f"the controller and measures are incomplete ({problems}): set them in cdk.json") from None


@guarded
def ropa(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON instead of text."),
    html: Path | None = typer.Option(None, "--html", help="Also write the record as a standalone HTML page here."),
) -> None:
    """Record of processing (GDPR Art. 30(1)): controller, purposes, data subjects and categories, recipients,
    transfers to third countries, retention periods and the technical measures, from the data map and the stack.
    """
    eng = engine(ctx)
    datamap = eng.datamap()
    record = records.build_ropa(datamap, stack_facts(eng))
    if as_json:
        # Plain print, not Rich: JSON must not be wrapped or highlighted.
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        for line in records.text_lines(record):
            console.print(line, highlight=False, markup=False)
    if html is not None:
        try:
            html.write_text(records.render_html(record, datamap), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {html}: {exc}") from None
        # On stderr with --json, so stdout stays one JSON document.
        typer.echo(f"HTML record written to {html}", err=as_json)
