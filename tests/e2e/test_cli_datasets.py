"""`dsr datasets check` on the local cloud: the sample lake's files, and a Parquet file without bloom filters named."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from functions.privacy.datamap.model import StoreKind
from local.seed import lake_others, lake_row
from tests.e2e import cli_support

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture


def test_check_lists_every_lake_store_and_names_files_without_bloom_filters(local_cloud, dsr):
    datamap = local_cloud.datamap
    name, store = next((n, s) for n, s in datamap.stores_of_kind(StoreKind.S3_DATASET).items() if n == "lake_orders")
    assert store.dataset is not None
    before = dsr("datasets", "check").output
    assert all(n in before for n in datamap.stores_of_kind(StoreKind.S3_DATASET))
    assert "no bloom filter" not in before  # the seeded Parquet files carry them on every identifier column

    # Someone else's writer, without bloom filters (others only: no sample subject's rows are added).
    rows = [lake_row(store, person, datetime.now(UTC), n) for n, person in enumerate(lake_others(datamap, 5))]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink, compression="snappy")
    s3 = local_cloud.clients.client("s3")
    s3.put_object(Bucket=store.resource, Key=f"{store.dataset.prefix}external-0000.parquet", Body=sink.getvalue())

    after = dsr("datasets", "check").output
    assert f"{name}: 1 Parquet file(s) have no bloom filter on every identifier column" in after
    assert "SNAPPY" in after and "ZSTD" in after
