"""The lake benchmark on a tiny lake: its figures have the documented shape and only the holding object is rewritten."""

from __future__ import annotations

from bench.lake_bench import goals, run


def test_tiny_lake_rewrites_only_the_object_holding_the_subjects() -> None:
    result = run(files=3, rows=4000, row_groups=4, payload_bytes=60)

    assert result["objects"] == 3 and result["objects_with_subjects"] == 1
    assert result["objects_rewritten"] == 1 and result["rewritten_is_exactly_holding"]
    assert result["statuses"] == {"clean": 2, "rewritten": 1}
    assert result["removed_rows"] == result["expected_removed_rows"] == 30  # 10 subjects x 3 rows
    assert result["verification_problems"] == []
    assert result["naive"]["objects_with_subjects"] == 1 and result["naive"]["bytes_read"] == result["lake_bytes"]
    # The find is ranged reads only; the rewritten object is read whole twice (its source, then the new version).
    assert 0 < result["find_bytes_read"] < result["lake_bytes"]
    assert result["rewrite_whole_gets"] == 2 and result["puts"] == 1
    assert result["gets"] == result["ranged_gets"] + result["rewrite_whole_gets"]
    for name in ("lake_bytes", "column_scan_bytes", "job_seconds", "find_gets_per_clean_object", "calls_by_operation"):
        assert name in result
    assert [met for _goal, _measured, met in goals(result)][2:] == [True, True]
