"""The data map's format names resolve to formats that read the files they name."""

from __future__ import annotations

import gzip
import importlib.util
import io
import subprocess
import sys

import pytest

from functions.privacy.datasets.formats import NAMES, UnknownDatasetFormat, format_for
from functions.privacy.datasets.selection import Selection

SELECTION = Selection(identifiers={"customer_id": "customer_id"}, values={"customer_id": frozenset({"42"})})


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("jsonl", b'{"customer_id": 42}\n{"customer_id": 7}\n'),
        ("csv", b"customer_id,total\n42,1.00\n7,2.00\n"),
    ],
)
def test_text_formats_by_name_erase_from_plain_and_gzip_files(name: str, content: bytes) -> None:
    dataset_format = format_for(name)
    kept = content.splitlines(keepends=True)
    expected = b"".join(line for line in kept if not line.startswith((b'{"customer_id": 42', b"42,")))

    for source, unpack in ((content, bytes), (gzip.compress(content, mtime=0), gzip.decompress)):
        sink = io.BytesIO()
        stats = dataset_format.rewrite(io.BytesIO(source), sink, SELECTION)
        assert dataset_format.name == name
        assert unpack(sink.getvalue()) == expected
        assert stats.removed_rows == 1


def test_parquet_is_loaded_only_when_asked_for() -> None:
    if importlib.util.find_spec("functions.privacy.datasets.parquet") is None:
        with pytest.raises(UnknownDatasetFormat, match="parquet"):
            format_for("parquet")
    else:
        assert format_for("parquet").name == "parquet"


def test_unknown_format_names_the_choices() -> None:
    with pytest.raises(UnknownDatasetFormat, match="expected one of parquet, jsonl, csv"):
        format_for("xlsx")
    assert NAMES == ("parquet", "jsonl", "csv")


def test_importing_the_text_formats_does_not_load_pyarrow() -> None:
    probe = "import sys, functions.privacy.datasets.formats; print('pyarrow' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert answer.stdout.strip() == "False"
