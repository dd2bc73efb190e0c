"""What an operator should know about a dataset store before trusting a find: its files and their bloom filters.

Reads Parquet footers only (ranged GETs); text files are counted, never read. Names, sizes and counts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pyarrow.parquet as pq

from functions.privacy.datamap.model import Store
from functions.privacy.datasets.ranged import RangedObject


@dataclass
class StoreSurvey:
    """One dataset store: its current files, their bytes, and how a find will search the Parquet ones."""

    store: str
    format: str
    objects: int = 0
    bytes: int = 0
    noncurrent_versions: int = 0
    with_bloom_filters: int = 0  # Parquet files with a bloom filter on every identifier column
    without_bloom_filters: int = 0  # searched by statistics, then by reading the identifier column
    missing_columns: int = 0  # Parquet files lacking an identifier column: a find refuses them
    codecs: set[str] = field(default_factory=set)
    footer_bytes_read: int = 0

    @property
    def search(self) -> str:
        if self.format != "parquet":
            return "streamed (every line is read)"
        if self.without_bloom_filters or self.missing_columns:
            return "statistics, then the identifier column, where bloom filters are missing"
        return "bloom filters, then the candidate row groups' identifier column"


def survey_store(s3: Any, name: str, store: Store) -> StoreSurvey:
    """Footers of every current Parquet file under the store's prefix; counts for text files."""
    assert store.dataset is not None  # s3_dataset stores have a dataset (data map model)
    result = StoreSurvey(store=name, format=store.dataset.format)
    columns = set(store.dataset.columns.values())
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=store.resource, Prefix=store.dataset.prefix)
    for page in pages:
        for version in page.get("Versions", []):
            if not version.get("IsLatest"):
                result.noncurrent_versions += 1
                continue
            if int(version.get("Size", 0)) == 0:
                continue  # folder placeholders and _SUCCESS markers
            result.objects += 1
            result.bytes += int(version["Size"])
            if store.dataset.format == "parquet":
                _survey_parquet(s3, store.resource, version, columns, result)
    return result


def _survey_parquet(s3: Any, bucket: str, version: dict[str, Any], columns: set[str], result: StoreSurvey) -> None:
    source = RangedObject(
        s3, bucket, version["Key"], version_id=version["VersionId"], etag=version["ETag"], size=int(version["Size"])
    )
    metadata = pq.ParquetFile(cast(Any, source)).metadata
    result.footer_bytes_read += source.bytes_read
    paths = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    if not columns <= set(paths):
        result.missing_columns += 1
        return
    groups = [metadata.row_group(g) for g in range(metadata.num_row_groups)]
    result.codecs.update(group.column(i).compression for group in groups for i in paths.values())
    if all(group.column(paths[c]).bloom_filter_offset is not None for group in groups for c in columns):
        result.with_bloom_filters += 1
    else:
        result.without_bloom_filters += 1
