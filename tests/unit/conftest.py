"""Fixtures for unit tests: the sample data map as a plain document, to break one thing at a time."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

SAMPLE = Path(__file__).resolve().parents[2] / "datamap.yaml"
_SAMPLE_RAW = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def sample_raw() -> dict[str, Any]:
    """A fresh deep copy of the sample data map document (tests may change it freely)."""
    return copy.deepcopy(_SAMPLE_RAW)
