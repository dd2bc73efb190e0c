"""S3: version listings that share versions instead of copying them, and the bucket properties CloudFormation sets."""

from __future__ import annotations

import logging
from typing import Any

from .base import _patch

log = logging.getLogger("local.adapters")


class _VersionView:
    """A read-only view of one moto object version with its own is_latest flag (what moto deep-copies for)."""

    __slots__ = ("is_latest", "version")

    def __init__(self, version: Any) -> None:
        self.version, self.is_latest = version, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.version, name)


def s3_list_object_versions(
    self: Any,
    bucket_name: str,
    delimiter: str | None = None,
    key_marker: str | None = None,
    max_keys: int | None = 1000,
    prefix: str = "",
    version_id_marker: str | None = None,
) -> tuple[list[Any], list[str], list[Any], str | None, str | None]:
    from moto.core.utils import unix_time_millis
    from moto.s3.models import FakeKey

    bucket = self.get_bucket(bucket_name)
    views = [_VersionView(v) for _, versions in list(bucket.keys.iterlists()) for v in list(versions)]
    views.sort(key=lambda r: (r.name, -unix_time_millis(r.last_modified)))
    resume_after_key = bool(
        key_marker
        and version_id_marker
        and not any(v.name == key_marker and v.version_id == version_id_marker for v in views)
    )
    if resume_after_key:
        # The marker's version was deleted since the last page (retention deletes between pages). S3 resumes by
        # position; moto would return nothing at all. Resume after the marker's key.
        version_id_marker = None
    common_prefixes: set[str] = set()
    versions_out: list[Any] = []
    markers_out: list[Any] = []
    next_key_marker = next_version_id_marker = None
    last_name = None
    skipping = True
    last_added: Any = None
    for view in views:
        name = view.name
        view.is_latest = name != last_name
        if view.is_latest:
            last_name = name
        if skipping:
            if key_marker is None:
                skipping = False
            elif resume_after_key:
                skipping = name <= key_marker
                if skipping:
                    continue
            elif not version_id_marker:
                skipping = name < key_marker
                continue
            elif name == key_marker and view.version_id == version_id_marker:
                skipping = False
                continue
            else:
                continue
        if not name.startswith(prefix):
            continue
        is_common_prefix = False
        if delimiter and delimiter in name[len(prefix) :]:
            end = len(prefix) + name[len(prefix) :].index(delimiter) + len(delimiter)
            if name[:end] == key_marker:
                continue
            common_prefixes.add(name[:end])
            name, is_common_prefix = name[:end], True
        elif last_added is not None:
            name = last_added.name
        if max_keys is not None and len(versions_out) + len(markers_out) + len(common_prefixes) >= max_keys:
            next_key_marker = name
            next_version_id_marker = None if is_common_prefix or last_added is None else last_added.version_id
            break
        if not is_common_prefix:
            last_added = view
            (versions_out if isinstance(view.version, FakeKey) else markers_out).append(view)
    return versions_out, sorted(common_prefixes), markers_out, next_key_marker, next_version_id_marker


def list_object_versions_without_copying_data() -> None:
    """Gap: moto's ListObjectVersions deep-copies every version in the bucket (object bodies included, one temporary
    file each) on every page, so listing a bucket of 100,000 versions page by page takes hours. Same answer
    (ordering, markers, prefixes, delimiter) from views that share the versions instead of copying them, and a page
    marker whose version was deleted meanwhile resumes after its key instead of ending the listing.
    """
    from moto.s3.models import S3Backend

    _patch(S3Backend, "list_object_versions", s3_list_object_versions)


def apply_s3_bucket_properties() -> None:
    """Gap: moto's CloudFormation creates an AWS::S3::Bucket with only its encryption and tags. Also apply
    versioning, Object Lock (with its default retention) and the public access block, which the product relies
    on (erasure removes old versions; evidence must be undeletable).
    """
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    original = FakeBucket.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        bucket = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = s3_backends[account_id][get_partition(region_name)]
        versioning = properties.get("VersioningConfiguration", {}).get("Status")
        lock = properties.get("ObjectLockConfiguration", {})
        if versioning or properties.get("ObjectLockEnabled"):
            backend.put_bucket_versioning(bucket.name, versioning or "Enabled")
        if properties.get("ObjectLockEnabled") or lock.get("ObjectLockEnabled") == "Enabled":
            retention = lock.get("Rule", {}).get("DefaultRetention", {})
            backend.put_object_lock_configuration(
                bucket.name,
                lock_enabled=True,
                mode=retention.get("Mode"),
                days=int(retention.get("Days", 0)),  # moto's PutObjectLockConfiguration uses 0 for "not set"
                years=int(retention.get("Years", 0)),
            )
        if "PublicAccessBlockConfiguration" in properties:
            backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
        return bucket

    _patch(FakeBucket, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
