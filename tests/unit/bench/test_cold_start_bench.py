"""The cold start benchmark reads `-X importtime` output into a tree and charges each module to a group."""

from __future__ import annotations

from bench.cold_start import attribute, parse_importtime

# Children are printed before their parent, two spaces deeper; times are microseconds.
SAMPLE = """\
import time: self [us] | cumulative | imported package
import time:      1000 |       1000 |   functions.privacy
import time:      2000 |       2000 |       json
import time:     40000 |      40000 |       aws_xray_sdk.core
import time:      3000 |      45000 |     functions.privacy.core.observability
import time:       500 |      46500 |   functions.privacy.core
import time:      7000 |       7000 |     asyncio
import time:     90000 |      97000 |   botocore
import time:      1000 |     144500 | functions
"""


def test_tree_keeps_each_module_under_its_importer() -> None:
    (root,) = parse_importtime(SAMPLE)
    assert root.name == "functions" and root.cumulative_us == 144500
    assert [c.name for c in root.children] == ["functions.privacy", "functions.privacy.core", "botocore"]
    observability = root.children[1].children[0]
    assert [c.name for c in observability.children] == ["json", "aws_xray_sdk.core"]


def test_ungrouped_modules_count_for_their_importer() -> None:
    ms = attribute(parse_importtime(SAMPLE))
    # json is charged to our package (we imported it), asyncio to boto (botocore imported it).
    assert ms == {"ours": 7.5, "xray": 40.0, "boto": 97.0}
