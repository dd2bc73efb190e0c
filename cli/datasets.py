"""`dsr datasets`: the data-lake stores (s3_dataset) as a find will see them."""

from __future__ import annotations

import typer
from rich.table import Table

from .context import console, engine, guarded

app = typer.Typer(help="Data-lake stores (s3_dataset): their files and how a find searches them.", no_args_is_help=True)


@app.command("check")
@guarded
def check(ctx: typer.Context) -> None:
    """Per dataset store: current files and bytes, older versions, and whether Parquet files carry bloom filters on
    every identifier column (without them a find falls back to statistics and reading the identifier column)."""
    # Imported here: pyarrow is only needed by this command, not by the rest of the CLI.
    from functions.privacy.datamap.model import StoreKind
    from functions.privacy.datasets.survey import survey_store

    eng = engine(ctx)
    datamap = eng.datamap()
    stores = datamap.stores_of_kind(StoreKind.S3_DATASET)
    if not stores:
        console.print("The data map has no s3_dataset stores.")
        return
    table = Table(title="Dataset stores")
    for column in ("store", "format", "files", "MB", "older versions", "bloom filters", "codecs"):
        table.add_column(column, overflow="fold")
    notes = []
    s3 = eng.clients.client("s3")
    for name, store in stores.items():
        survey = survey_store(s3, name, store)
        parquet = survey.format == "parquet"
        blooms = f"{survey.with_bloom_filters}/{survey.objects}" if parquet else "-"
        codecs = ", ".join(sorted(survey.codecs)) if parquet else "gzip kept if present"
        table.add_row(
            name, survey.format, str(survey.objects), f"{survey.bytes / 1e6:.1f}", str(survey.noncurrent_versions),
            blooms, codecs,
        )  # fmt: skip
        if survey.without_bloom_filters:
            notes.append(
                f"{name}: {survey.without_bloom_filters} Parquet file(s) have no bloom filter on every identifier "
                "column: a find still works, by row-group statistics and then the identifier column (more bytes read)"
            )
        if survey.missing_columns:
            notes.append(
                f"{name}: {survey.missing_columns} Parquet file(s) lack an identifier column: a find fails them"
            )
    console.print(table)
    for note in notes:
        console.print(note, highlight=False, markup=False)
