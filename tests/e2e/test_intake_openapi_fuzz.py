"""A bounded schemathesis run of docs/openapi.json against the local cloud's REST API.

Valid and invalid inputs alike must get no 5xx, and every response must match the documented status
codes, content type and schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from infra.config import ROOT
from tests.e2e import intake_support as support

pytestmark = pytest.mark.e2e

schema = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.json")
# Enough to cover every operation with valid and invalid bodies, headers and ids; each valid
# POST /requests starts a real workflow, so the run stays bounded.
schema.config.generation.update(max_examples=12, deterministic=True)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def intake(local_cloud):
    with support.serve_api(local_cloud) as served:
        yield served


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, print_blob=True)
def test_the_api_honours_its_openapi_document(case, intake):
    case.call_and_validate(base_url=intake.url, checks=CHECKS, timeout=60)
