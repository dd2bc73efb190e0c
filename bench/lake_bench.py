"""Data-lake erasure benchmark on moto: what the batching dataset job reads to erase 10 subjects from a Parquet lake.

Builds a lake of ``--files`` zstd Parquet files (default 100 of about 10 MB: 1 GB, so that "the subjects appear
in at most 1 % of the files" means exactly one file) in a versioned bucket of in-process moto, with bloom filters
on the identifier columns (customer_id, email; sized for the row group's rows at fpp 0.001 by default; the
rewrite keeps each filter's size) and random ids, so row-group min/max statistics rule nothing out. Then runs
the dataset job's per-key work (``dataset_jobs.job.erase_key``, what each Distributed Map worker does: every
version read once for all 10 queued subjects, the object rewritten at most once) over every object, and
a naive baseline in the same run that GETs every object whole and filters it with pyarrow.

Every S3 call is counted in botocore (``after-call``): a GetObject answered with Content-Range is a ranged read
(the find), one without is a whole-object read (the rewrite's source and its verification). The column scan is
what an Athena-style engine reads: the compressed size of the identifier column chunks. Afterwards every
version of each rewritten object is read back: no subject row is left, every other row is as it was.
Prints the figures against the goals, writes bench/results.json key ``lake``; exits 1 when a goal is missed.
Not part of `make test`.

    python -m bench.lake_bench --files 100
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402  (after the path: the bench runs as a script too)
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

BUCKET = "lake-bench"
ACCOUNT, REGION = "123456789012", "us-east-1"
IDENTIFIERS = {"customer_id": "customer_id", "email": "email"}
SUBJECTS = 10
ROWS_PER_SUBJECT = 3  # each subject's rows in its file, at random positions (so in different row groups)
GOALS = {"find_fraction_max": 0.02, "column_scan_over_find_min": 10.0}
EVENT_TYPES = ["view", "click", "add_to_cart", "purchase", "refund", "login", "logout", "search"]


@dataclass
class LakeFile:
    key: str
    size: int
    rows: int
    row_groups: int
    column_scan_bytes: int  # compressed identifier column chunks
    subject_rows: int
    kept: pa.Table | None = None  # the rows that must survive, kept only for the files holding a subject


@dataclass
class Meter:
    """Every S3 call of every client of this process, by operation; GetObject split into ranged and whole."""

    calls: Counter[str] = field(default_factory=Counter)
    ranged_gets: int = 0
    ranged_bytes: int = 0
    whole_gets: int = 0
    whole_bytes: int = 0

    def after_call(self, http_response: Any = None, parsed: Any = None, model: Any = None, **_: Any) -> None:
        self.calls[model.name] += 1
        if model.name == "GetObject" and isinstance(parsed, dict) and "ContentLength" in parsed:
            if parsed.get("ContentRange"):
                self.ranged_gets += 1
                self.ranged_bytes += int(parsed["ContentLength"])
            else:
                self.whole_gets += 1
                self.whole_bytes += int(parsed["ContentLength"])

    def reset(self) -> Meter:
        snapshot = Meter(self.calls, self.ranged_gets, self.ranged_bytes, self.whole_gets, self.whole_bytes)
        self.calls, self.ranged_gets, self.ranged_bytes, self.whole_gets, self.whole_bytes = Counter(), 0, 0, 0, 0
        return snapshot


@contextmanager
def listing_without_bytes() -> Iterator[None]:
    """moto 5.2.5's ListObjectVersions deep-copies every version of the whole bucket, bytes included (spooled to
    /tmp past 8 MB), on every call: a 1 GB lake writes 1 GB per call and filled the disk. The copy only needs
    the listing's fields, so for this bench it shares them and gets an empty buffer of its own (its __del__
    closes only that one). What S3 returns is unchanged; the bytes of a GET still come from the original key."""
    from moto.s3.models import FakeKey

    def listing_copy(self: Any, memo: dict[int, Any]) -> Any:
        _ = self.etag  # computed from the bytes once and cached on the original
        clone = object.__new__(FakeKey)
        clone.__dict__.update(self.__dict__)
        clone._value_buffer = tempfile.SpooledTemporaryFile(1)
        clone.lock, clone.multipart = threading.Lock(), None
        return clone

    FakeKey.__deepcopy__ = listing_copy  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del FakeKey.__deepcopy__  # type: ignore[attr-defined]


def _ints(count: int, low: int, high: int, seed: int) -> pa.Array:
    """``count`` pseudo-random integers in [low, high) (pyarrow only: the venv has no numpy)."""
    scaled = pc.floor(pc.multiply(pc.random(count, initializer=seed), float(high - low)))
    return pc.cast(pc.add(scaled, float(low)), pa.int64())


def _identity(numbers: pa.Array) -> tuple[pa.Array, pa.Array]:
    digits = pc.cast(numbers, pa.string())
    return (
        pc.binary_join_element_wise("C", digits, ""),
        pc.binary_join_element_wise("user", digits, "@example.com", ""),
    )


def subject_numbers(seed: int) -> list[int]:
    """The subjects' customer numbers: odd (every other row's is even, so nobody else holds them), mid-range."""
    rng = random.Random(seed)
    return [2 * rng.randrange(10**9, 5 * 10**9) + 1 for _ in range(SUBJECTS)]


def event_table(rows: int, payload_bytes: int, seed: int, subjects: list[int]) -> pa.Table:
    """Clickstream-like rows: random even customer numbers, plus ROWS_PER_SUBJECT rows of each given subject,
    shuffled. ``payload`` is random bytes (an encrypted blob: it does not compress)."""
    others = rows - ROWS_PER_SUBJECT * len(subjects)
    numbers = pc.multiply(_ints(others, 5 * 10**8, 5 * 10**9, seed), 2)
    if subjects:
        numbers = pa.concat_arrays([numbers, pa.array(sorted(subjects) * ROWS_PER_SUBJECT, pa.int64())])
    order = pc.sort_indices(pc.random(rows, initializer=seed + 1))
    customer_id, email = _identity(pc.take(numbers, order))
    lengths = _ints(rows, payload_bytes // 2, payload_bytes * 3 // 2 + 1, seed + 2)
    offsets = pc.cast(pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(lengths)]), pa.int32())
    blob = random.Random(seed + 3).randbytes(offsets[-1].as_py())
    payload = pa.Array.from_buffers(pa.binary(), rows, [None, offsets.buffers()[1], pa.py_buffer(blob)])
    return pa.table(
        {
            "customer_id": customer_id,
            "email": email,
            "event_ts": _ints(rows, 1_767_225_600_000_000, 1_798_761_600_000_000, seed + 4).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "event_type": pc.take(pa.array(EVENT_TYPES), _ints(rows, 0, len(EVENT_TYPES), seed + 5)),
            "amount": pc.round(pc.multiply(pc.random(rows, initializer=seed + 6), 500.0), 2),
            "session_id": _ints(rows, 0, 2**52, seed + 7),
            "payload": payload,
        }
    )


def write_parquet(table: pa.Table, row_groups: int, fpp: float = 0.01, ndv: int | None = None) -> bytes:
    """``ndv`` None sizes each filter for its row group's rows (the tightest filter, the most false positives)."""
    group_rows = -(-table.num_rows // row_groups)
    sink = io.BytesIO()
    blooms = {path: {"ndv": ndv or group_rows, "fpp": fpp} for path in IDENTIFIERS.values()}
    pq.write_table(table, sink, compression="zstd", row_group_size=group_rows, bloom_filter_options=blooms)
    return sink.getvalue()


def column_scan_bytes(metadata: pq.FileMetaData) -> int:
    paths = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    columns = [paths[path] for path in IDENTIFIERS.values()]
    return sum(
        metadata.row_group(g).column(i).total_compressed_size for g in range(metadata.num_row_groups) for i in columns
    )


def build_lake(
    s3: Any,
    *,
    files: int,
    rows: int,
    row_groups: int,
    payload_bytes: int,
    fpp: float,
    seed: int,
    ndv: int | None = None,
) -> list[LakeFile]:
    """Write the lake; the subjects live in max(1, files // 100) files (1 % of 100 files, one file of 20)."""
    subjects = subject_numbers(seed)
    holding = sorted(random.Random(seed).sample(range(files), max(1, files // 100)))
    spread = {index: subjects[n :: len(holding)] for n, index in enumerate(holding)}
    lake = []
    for index in range(files):
        table = event_table(rows, payload_bytes, seed * 1000 + index * 10, spread.get(index, []))
        raw = write_parquet(table, row_groups, fpp, ndv)
        key = f"events/dt=2026-{index % 12 + 1:02d}-01/part-{index:05d}.zstd.parquet"
        s3.put_object(Bucket=BUCKET, Key=key, Body=raw, ContentType="application/vnd.apache.parquet")
        metadata = pq.ParquetFile(pa.BufferReader(raw)).metadata
        kept = None
        if index in spread:
            kept = table.filter(pc.invert(subject_mask(table, selection_values(subjects))))
        lake.append(
            LakeFile(
                key=key,
                size=len(raw),
                rows=table.num_rows,
                row_groups=metadata.num_row_groups,
                column_scan_bytes=column_scan_bytes(metadata),
                subject_rows=ROWS_PER_SUBJECT * len(spread.get(index, [])),
                kept=kept,
            )
        )
    return lake


def selection_values(subjects: list[int]) -> dict[str, frozenset[str]]:
    customer_ids, emails = _identity(pa.array(subjects, pa.int64()))
    return {"customer_id": frozenset(customer_ids.to_pylist()), "email": frozenset(emails.to_pylist())}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def queued_subjects(subjects: list[int], selection: Any) -> Any:
    """The 10 subjects as the job holds them: one queued entry each, owning its customer id and email."""
    from functions.privacy.connectors.base import Subject
    from functions.privacy.dataset_jobs.subjects import QueuedSubjects

    queued = QueuedSubjects(selection=selection)
    customer_ids, emails = _identity(pa.array(subjects, pa.int64()))
    for n, (customer_id, email) in enumerate(zip(customer_ids.to_pylist(), emails.to_pylist(), strict=True)):
        entry = f"request-{n}#erase"
        queued.owners[("customer_id", customer_id)] = frozenset({entry})
        queued.owners[("email", email)] = frozenset({entry})
        queued.subjects[entry] = Subject({"customer_id": customer_id, "email": email})
        queued.digests[entry] = _digest
    return queued


def subject_mask(table: pa.Table, values: dict[str, frozenset[str]]) -> pa.Array:
    masks = [
        pc.is_in(table.column(path), value_set=pa.array(sorted(values[name]), pa.string()))
        for name, path in IDENTIFIERS.items()
    ]
    mask = masks[0]
    for other in masks[1:]:
        mask = pc.or_(mask, other)
    return pc.fill_null(mask, False)


def naive_find(s3: Any, lake: list[LakeFile], values: dict[str, frozenset[str]]) -> tuple[set[str], int]:
    """The baseline: GET every object whole, filter it with pyarrow; the keys holding a subject and their rows."""
    holding, rows = set(), 0
    for item in lake:
        body = s3.get_object(Bucket=BUCKET, Key=item.key)["Body"].read()
        table = pq.read_table(pa.BufferReader(body))
        found = pc.sum(subject_mask(table, values)).as_py() or 0
        if found:
            holding.add(item.key)
            rows += found
    return holding, rows


def verify(s3: Any, lake: list[LakeFile], rewritten: set[str], values: dict[str, frozenset[str]]) -> list[str]:
    """What is wrong with the bucket after the job (nothing: an empty list)."""
    problems = []
    listing: dict[str, list[dict[str, Any]]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for version in page.get("Versions", []):
            listing.setdefault(version["Key"], []).append(version)
        problems += [f"{m['Key']}: delete marker left" for m in page.get("DeleteMarkers", [])]
    for item in lake:
        versions = listing.get(item.key, [])
        if item.key not in rewritten:
            if len(versions) != 1 or versions[0]["Size"] != item.size:
                problems.append(f"{item.key}: a clean object changed ({len(versions)} versions)")
            continue
        if not versions:
            problems.append(f"{item.key}: no version left")
        for version in versions:
            body = s3.get_object(Bucket=BUCKET, Key=item.key, VersionId=version["VersionId"])["Body"].read()
            table = pq.read_table(pa.BufferReader(body))
            if pc.sum(subject_mask(table, values)).as_py():
                problems.append(f"{item.key} version {version['VersionId']}: a subject row remains")
            if table.num_rows != item.rows - item.subject_rows:
                problems.append(f"{item.key}: {table.num_rows} rows, expected {item.rows - item.subject_rows}")
            elif item.kept is not None and not table.equals(item.kept):
                problems.append(f"{item.key}: the other rows differ from the source's")
    return problems


def run(
    *,
    files: int,
    rows: int,
    row_groups: int,
    payload_bytes: int,
    fpp: float = 0.01,
    seed: int = 7,
    ndv: int | None = None,
) -> dict[str, Any]:
    """Build the lake in moto, run the job's per-object work and the naive baseline; the figures as a dict."""
    import boto3
    from moto import mock_aws

    from functions.privacy.connectors.s3_dataset import S3DatasetConnector
    from functions.privacy.datamap.model import Identifier, Store
    from functions.privacy.dataset_jobs.job import erase_key
    from functions.privacy.datasets.selection import Selection

    meter = Meter()
    with mock_aws(), listing_without_bytes(), tempfile.TemporaryDirectory(prefix="lake-bench-") as work:
        s3 = boto3.client("s3", region_name=REGION)
        s3.meta.events.register("after-call.s3", meter.after_call)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

        t0 = time.monotonic()
        lake = build_lake(
            s3, files=files, rows=rows, row_groups=row_groups, payload_bytes=payload_bytes, fpp=fpp, seed=seed, ndv=ndv
        )
        build_seconds = time.monotonic() - t0
        meter.reset()
        values = selection_values(subject_numbers(seed))
        truth = {item.key for item in lake if item.subject_rows}

        t0 = time.monotonic()
        naive_holding, naive_rows = naive_find(s3, lake, values)
        naive_seconds = time.monotonic() - t0
        naive = meter.reset()

        # The dataset job's per-key work: every queued subject at once, each object visited once.
        store = Store.model_validate(
            {
                "kind": "s3_dataset",
                "resource": BUCKET,
                "categories": ["events"],
                "lookup": {"identifier": "customer_id"},
                "dataset": {"prefix": "", "format": "parquet", "columns": IDENTIFIERS},
                "erasure": {"mode": "delete"},
            }
        )
        identifiers = {
            "customer_id": Identifier(pattern=r"^C[0-9]+$"),
            "email": Identifier(pattern=r"^[^@\s]+@[^@\s]+$"),
        }
        connector = S3DatasetConnector("bench", store, s3, _digest, _digest, identifiers)
        queued = queued_subjects(subject_numbers(seed), Selection(identifiers=IDENTIFIERS, values=values))
        outcomes: dict[str, dict[str, Any]] = {}
        find_seconds = rewrite_seconds = 0.0
        clean_ranged_gets = clean_ranged_bytes = 0
        rewritten_find_bytes = 0
        calls: Counter[str] = Counter()
        ranged_gets = whole_gets = whole_bytes = 0
        t0 = time.monotonic()
        for item in lake:
            started = time.monotonic()
            shares = erase_key(connector, item.key, queued, "customer_id", Path(work))
            took = time.monotonic() - started
            used = meter.reset()
            # Every share of a rewritten key names the same object evidence (one rewrite for all of them).
            objects = {s["object"]["new_version_id"]: s["object"] for s in shares.values() if "object" in s}
            outcome = next(iter(objects.values()), {"status": "clean", "removed_rows": 0})
            assert len(objects) <= 1, (item.key, objects)
            outcomes[item.key] = outcome
            calls.update(used.calls)
            ranged_gets += used.ranged_gets
            whole_gets += used.whole_gets
            whole_bytes += used.whole_bytes
            if outcome["status"] == "rewritten":
                rewrite_seconds += took
                rewritten_find_bytes += used.ranged_bytes
            else:
                find_seconds += took
                clean_ranged_gets += used.ranged_gets
                clean_ranged_bytes += used.ranged_bytes
        job_seconds = time.monotonic() - t0

        rewritten = {key for key, outcome in outcomes.items() if outcome["status"] == "rewritten"}
        statuses = Counter(str(outcome["status"]) for outcome in outcomes.values())
        problems = verify(s3, lake, rewritten, values)
        if naive_holding != truth:
            problems.append(f"the naive scan found subjects in {len(naive_holding)} objects, {len(truth)} hold them")

    lake_bytes = sum(item.size for item in lake)
    scan_bytes = sum(item.column_scan_bytes for item in lake)
    find_bytes = clean_ranged_bytes + rewritten_find_bytes
    clean = len(lake) - len(rewritten)
    rewritten_bytes = sum(item.size for item in lake if item.key in rewritten)
    removed = sum(outcomes[key]["removed_rows"] for key in rewritten)
    return {
        "ran_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, moto in-process",
        "lake": {
            "files": files,
            "rows_per_file": rows,
            "row_groups_per_file": row_groups,
            "payload_bytes_mean": payload_bytes,
            "compression": "zstd",
            "bloom_filters": f"customer_id, email: ndv {ndv or 'rows per row group'}, fpp {fpp}",
            "subjects": SUBJECTS,
            "rows_per_subject": ROWS_PER_SUBJECT,
            "build_seconds": round(build_seconds, 1),
        },
        "lake_bytes": lake_bytes,
        "objects": len(lake),
        "objects_with_subjects": len(truth),
        "objects_rewritten": len(rewritten),
        "rewritten_is_exactly_holding": rewritten == truth,
        "statuses": dict(sorted(statuses.items())),
        "removed_rows": removed,
        "expected_removed_rows": sum(item.subject_rows for item in lake),
        "find_bytes_read": find_bytes,
        "find_fraction": round(find_bytes / lake_bytes, 6),
        "find_bytes_per_clean_object": round(clean_ranged_bytes / clean) if clean else 0,
        "find_gets_per_clean_object": round(clean_ranged_gets / clean, 2) if clean else 0,
        "rewrite_find_bytes": rewritten_find_bytes,
        "rewrite_whole_gets": whole_gets,
        "rewrite_whole_bytes": whole_bytes,
        "column_scan_bytes": scan_bytes,
        "column_scan_fraction": round(scan_bytes / lake_bytes, 6),
        "column_scan_over_find": round(scan_bytes / find_bytes, 2) if find_bytes else None,
        "job_seconds": round(job_seconds, 2),
        "find_seconds": round(find_seconds, 2),
        "find_ms_per_clean_object": round(1000 * find_seconds / clean, 1) if clean else 0,
        "rewrite_seconds": round(rewrite_seconds, 2),
        "rewrite_mb_per_second": round(rewritten_bytes / 1e6 / rewrite_seconds, 1) if rewrite_seconds else None,
        "gets": ranged_gets + whole_gets,
        "ranged_gets": ranged_gets,
        "puts": calls["PutObject"],
        "calls_by_operation": dict(sorted(calls.items())),
        "naive": {
            "bytes_read": naive.whole_bytes + naive.ranged_bytes,
            "gets": naive.whole_gets + naive.ranged_gets,
            "seconds": round(naive_seconds, 2),
            "objects_with_subjects": len(naive_holding),
            "subject_rows": naive_rows,
        },
        "naive_over_find_bytes": round((naive.whole_bytes + naive.ranged_bytes) / find_bytes, 1)
        if find_bytes
        else None,
        "rewritten_keys": sorted(rewritten),
        "verification_problems": problems,
    }


def goals(result: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) for each goal of the benchmark."""
    ratio = result["column_scan_over_find"] or 0.0
    return [
        (
            f"find reads <= {GOALS['find_fraction_max']:.0%} of lake bytes",
            f"{100 * result['find_fraction']:.3f} %",
            result["find_fraction"] <= GOALS["find_fraction_max"],
        ),
        (
            f">= {GOALS['column_scan_over_find_min']:.0f}x fewer bytes than the column scan",
            f"{ratio:.1f}x",
            ratio >= GOALS["column_scan_over_find_min"],
        ),
        (
            "exactly the objects holding a subject rewritten",
            f"{result['objects_rewritten']} rewritten, {result['objects_with_subjects']} hold a subject",
            result["rewritten_is_exactly_holding"],
        ),
        (
            "every version re-read: no subject row left, other rows intact",
            "ok" if not result["verification_problems"] else "; ".join(result["verification_problems"][:3]),
            not result["verification_problems"] and result["removed_rows"] == result["expected_removed_rows"],
        ),
    ]


def print_report(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    mb = 1e6
    lake = result["lake"]
    console = Console(width=150)
    figures = Table(title=f"Lake erasure: {SUBJECTS} subjects, one Selection, {result['objects']} Parquet objects")
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    rows = [
        (
            "lake",
            f"{result['lake_bytes'] / mb:,.1f} MB in {result['objects']} objects "
            f"({lake['rows_per_file']:,} rows, {lake['row_groups_per_file']} row groups each)",
        ),
        ("objects with subjects / rewritten", f"{result['objects_with_subjects']} / {result['objects_rewritten']}"),
        (
            "find bytes read (ranged GETs)",
            f"{result['find_bytes_read'] / mb:,.3f} MB = {100 * result['find_fraction']:.3f} %",
        ),
        (
            "  per clean object",
            f"{result['find_bytes_per_clean_object'] / 1024:,.1f} KiB in {result['find_gets_per_clean_object']} GETs",
        ),
        (
            "rewrite reads (whole GETs: source + verify)",
            f"{result['rewrite_whole_bytes'] / mb:,.1f} MB in {result['rewrite_whole_gets']} GETs",
        ),
        (
            "column scan (identifier chunks)",
            f"{result['column_scan_bytes'] / mb:,.1f} MB = "
            f"{100 * result['column_scan_fraction']:.2f} %, {result['column_scan_over_find']}x the find",
        ),
        (
            "naive whole-object scan",
            f"{result['naive']['bytes_read'] / mb:,.1f} MB in {result['naive']['gets']} GETs, "
            f"{result['naive']['seconds']} s ({result['naive_over_find_bytes']}x the find's bytes)",
        ),
        (
            "job wall time",
            f"{result['job_seconds']} s (find {result['find_seconds']} s = "
            f"{result['find_ms_per_clean_object']} ms/clean object; rewrite {result['rewrite_seconds']} s)",
        ),
        (
            "rewrite throughput",
            f"{result['rewrite_mb_per_second']} MB/s (whole call: read, rewrite, PUT, verify, delete)",
        ),
        ("GETs / PUTs", f"{result['gets']} ({result['ranged_gets']} ranged) / {result['puts']}"),
        ("all S3 calls", ", ".join(f"{k} {v}" for k, v in result["calls_by_operation"].items())),
    ]
    for name, value in rows:
        figures.add_row(name, value)
    console.print(figures)
    table = Table(title="Goals")
    table.add_column("goal")
    table.add_column("measured", justify="right")
    table.add_column("met")
    for goal, measured, met in goals(result):
        table.add_row(goal, measured, "[green]yes[/green]" if met else "[red]NO[/red]")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--files", type=int, default=100, help="Parquet objects (100: the subjects are in 1 %%)")
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file (100,000: about 10 MB)")
    parser.add_argument(
        "--row-groups", type=int, default=1, help="row groups per file (1: pyarrow's default for a 10 MB file)"
    )
    parser.add_argument("--payload-bytes", type=int, default=60, help="mean random (incompressible) payload per row")
    parser.add_argument("--fpp", type=float, default=0.001, help="bloom filter fpp (the rewrite keeps each size)")
    parser.add_argument(
        "--ndv", type=int, default=0, help="bloom filter ndv (0: the row group's rows, the tightest filter)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    if args.files < 20:
        print(f"note: {args.files} files is below the benchmark's 20 (the subjects then sit in over 5 % of the files)")

    from bench.results import merge_results

    result = run(
        files=args.files,
        rows=args.rows,
        row_groups=args.row_groups,
        payload_bytes=args.payload_bytes,
        fpp=args.fpp,
        seed=args.seed,
        ndv=args.ndv or None,
    )
    print_report(result)
    missed = [goal for goal, _measured, met in goals(result) if not met]
    result["goals_met"] = not missed
    merge_results(args.output, {"lake": result})  # keeps the other benchmarks' keys
    print(f"wrote {args.output} (key 'lake')")
    if missed:
        print("goal missed: " + "; ".join(missed))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
