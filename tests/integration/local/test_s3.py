"""The local cloud's faster ListObjectVersions (retention lists whole buckets) answers exactly like moto's own."""

from __future__ import annotations

import pytest

from local.adapters import s3 as s3_adapter


def _pages(s3, bucket: str, **params) -> list[tuple]:
    seen, params = [], {"Bucket": bucket, "MaxKeys": 3, **params}
    while True:
        page = s3.list_object_versions(**params)
        seen.append(
            (
                [(v["Key"], v["VersionId"], v["IsLatest"]) for v in page.get("Versions", [])],
                [(m["Key"], m["VersionId"], m["IsLatest"]) for m in page.get("DeleteMarkers", [])],
                [p["Prefix"] for p in page.get("CommonPrefixes", [])],
            )
        )
        if not page.get("IsTruncated"):
            return seen
        params["KeyMarker"] = page["NextKeyMarker"]
        params["VersionIdMarker"] = page.get("NextVersionIdMarker", "")


@pytest.mark.parametrize("params", [{}, {"Prefix": "users/"}, {"Prefix": "users/", "Delimiter": "/"}])
def test_listing_versions_without_copies_pages_exactly_like_moto(aws, monkeypatch, params):
    from moto.s3.models import S3Backend

    s3 = aws.client("s3")
    s3.create_bucket(Bucket="bench-bucket")
    s3.put_bucket_versioning(Bucket="bench-bucket", VersioningConfiguration={"Status": "Enabled"})
    for n in range(7):
        for _ in range(1 + n % 3):
            s3.put_object(Bucket="bench-bucket", Key=f"users/u{n % 4}/f{n}.txt", Body=b"x")
    s3.put_object(Bucket="bench-bucket", Key="other.txt", Body=b"x")
    s3.delete_object(Bucket="bench-bucket", Key="users/u1/f1.txt")  # a delete marker on top

    expected = _pages(s3, "bench-bucket", **params)
    monkeypatch.setattr(S3Backend, "list_object_versions", s3_adapter.s3_list_object_versions)
    assert _pages(s3, "bench-bucket", **params) == expected


def test_a_listing_resumes_after_a_deleted_marker_version(aws, monkeypatch):
    from moto.s3.models import S3Backend

    monkeypatch.setattr(S3Backend, "list_object_versions", s3_adapter.s3_list_object_versions)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="bench-bucket")
    s3.put_bucket_versioning(Bucket="bench-bucket", VersioningConfiguration={"Status": "Enabled"})
    for n in range(6):
        s3.put_object(Bucket="bench-bucket", Key=f"k{n}", Body=b"x")
    first = s3.list_object_versions(Bucket="bench-bucket", MaxKeys=3)
    for version in first["Versions"]:  # delete the page just listed, marker version included
        s3.delete_object(Bucket="bench-bucket", Key=version["Key"], VersionId=version["VersionId"])

    rest = s3.list_object_versions(
        Bucket="bench-bucket", MaxKeys=3, KeyMarker=first["NextKeyMarker"], VersionIdMarker=first["NextVersionIdMarker"]
    )

    assert [v["Key"] for v in rest["Versions"]] == ["k3", "k4", "k5"]
