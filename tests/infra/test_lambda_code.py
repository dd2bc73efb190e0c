"""The code asset ships bytecode Lambda can use as is (it cannot write any under /var/task)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from infra.lambda_code import compile_bytecode

ROOT = Path(__file__).resolve().parents[2]


def _staged(tmp_path: Path, name: str) -> Path:
    package = tmp_path / name / "functions"
    shutil.copytree(ROOT / "functions", package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compile_bytecode(package)
    return package


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="bytecode is built only for the runtime's Python")
def test_every_module_has_hash_checked_bytecode_identical_across_builds(tmp_path: Path) -> None:
    first, second = _staged(tmp_path, "a"), _staged(tmp_path, "b")
    sources = sorted(first.rglob("*.py"))
    assert len(sources) > 50
    for source in sources:
        pyc = Path(importlib.util.cache_from_source(str(source)))
        data = pyc.read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER, pyc
        # Flags 0b11: hash-based and checked against the source, so zip file times do not matter.
        assert int.from_bytes(data[4:8], "little") == 0b11, pyc
        assert data == (second / pyc.relative_to(first)).read_bytes(), f"{pyc} differs between builds"
