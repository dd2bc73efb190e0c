"""bench/results.json holds one key per benchmark; each benchmark replaces only its own keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def merge_results(path: Path, updates: dict[str, Any]) -> None:
    """Write ``updates`` into the JSON object at ``path``, keeping every other key as it was."""
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing.update(updates)
    path.write_text(json.dumps(existing, indent=2) + "\n")
