"""The dataset formats by the name the data map gives them (``parquet``, ``jsonl``, ``csv``).

Parquet is imported only when asked for, so a function that never reads Parquet does not load pyarrow.
"""

from __future__ import annotations

import importlib

from functions.privacy.datasets.csv_format import CsvFormat
from functions.privacy.datasets.format import DatasetFormat
from functions.privacy.datasets.jsonl import JsonLinesFormat

NAMES = ("parquet", "jsonl", "csv")
_PARQUET_MODULE = "functions.privacy.datasets.parquet"


class UnknownDatasetFormat(ValueError):
    """The data map names a format this engine cannot read (or one whose reader is not installed)."""


def format_for(name: str) -> DatasetFormat:
    """The DatasetFormat for a data map's ``dataset.format``; gzip is detected per object, not named here."""
    if name == "jsonl":
        return JsonLinesFormat()
    if name == "csv":
        return CsvFormat()
    if name == "parquet":
        try:
            module = importlib.import_module(_PARQUET_MODULE)
        except ModuleNotFoundError as error:
            if error.name not in {_PARQUET_MODULE, "pyarrow"}:
                raise
            raise UnknownDatasetFormat(
                f"dataset format 'parquet' needs {error.name} (the dataset worker's pyarrow layer)"
            ) from error
        parquet: DatasetFormat = module.ParquetFormat()
        return parquet
    raise UnknownDatasetFormat(f"unknown dataset format {name[:40]!r} (expected one of {', '.join(NAMES)})")
