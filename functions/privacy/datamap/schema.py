"""Write the data map's JSON Schema to docs/datamap.schema.json: ``python -m functions.privacy.datamap.schema``.

``--check`` only compares, exiting 1 when the committed file is stale (for CI).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from functions.privacy.datamap.model import json_schema

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "datamap.schema.json"


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = schema_text()
    if "--check" in argv:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is stale: run python -m functions.privacy.datamap.schema", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
