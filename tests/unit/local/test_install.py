"""Installing and uninstalling every adapter."""

from __future__ import annotations

import warnings
from pathlib import Path

from local import adapters
from local.adapters import cloudformation


def test_uninstall_gives_back_stock_moto(tmp_path: Path) -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation import parsing
    from moto.s3.models import FakeBucket
    from moto.sesv2 import urls
    from moto.sesv2.responses import SESV2Response

    before = (
        vars(LambdaFunction)["invoke"],
        vars(FakeBucket)["create_from_cloudformation_json"],
        parsing.resource_class_from_type,
        dict(urls.url_paths),
        list(warnings.filters),
    )
    already_installed = adapters._installed.users > 0  # a session-wide local cloud may be running
    adapters.install(tmp_path)
    try:
        assert hasattr(SESV2Response, "put_suppressed_destination")
        assert parsing.resource_class_from_type("AWS::SES::ContactList") is cloudformation.SesContactList
    finally:
        adapters.uninstall()
    after = (
        vars(LambdaFunction)["invoke"],
        vars(FakeBucket)["create_from_cloudformation_json"],
        parsing.resource_class_from_type,
        dict(urls.url_paths),
        list(warnings.filters),
    )
    assert after == before
    assert hasattr(SESV2Response, "put_suppressed_destination") == already_installed
