"""The `dsr` command: global options and the command groups (one module each)."""

from __future__ import annotations

from pathlib import Path

import typer

from . import datasets, evidence, executions, holds, report, requests, retention, ropa
from .context import DEFAULT_OUTPUTS, DEFAULT_STACK, Options, default_operator

app = typer.Typer(
    name="dsr",
    help="Operate the privacy engine: requests and deadlines, legal holds, redrives, retention runs, evidence "
    "verification and the compliance report. Works on AWS (the PrivacyEngine stack's outputs) or, with --local, "
    "on the local cloud started by `make up`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # errors an operator can act on are printed in one line; others are bugs
    add_completion=False,
)
app.add_typer(requests.app, name="requests")
app.add_typer(holds.app, name="holds")
app.add_typer(executions.app, name="executions")
app.add_typer(retention.app, name="retention")
app.add_typer(evidence.app, name="evidence")
app.add_typer(datasets.app, name="datasets")
app.command("report")(report.report)
app.command("ropa")(ropa.ropa)


@app.callback()
def main(
    ctx: typer.Context,
    local: bool = typer.Option(
        False, "--local", help="Act on the local cloud described by .local/outputs.json (see --outputs)."
    ),
    outputs: Path = typer.Option(
        DEFAULT_OUTPUTS, "--outputs", help="The local cloud's outputs file (with --local).", show_default=True
    ),
    stack: str = typer.Option(
        DEFAULT_STACK, "--stack", help="CloudFormation stack whose outputs name the engine's resources (AWS)."
    ),
    region: str | None = typer.Option(None, "--region", help="AWS region (default: the AWS SDK's configuration)."),
    datamap: Path | None = typer.Option(
        None, "--datamap", help="The data map the stack was deployed with (default: $DATAMAP or datamap.yaml)."
    ),
    operator: str = typer.Option(
        "", "--operator", help="Your name in operator evidence records (default: $DSR_OPERATOR or your login)."
    ),
) -> None:
    ctx.obj = Options(
        local=local,
        outputs_file=outputs,
        stack=stack,
        region=region,
        datamap=datamap,
        operator=operator or default_operator(),
    )


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()
