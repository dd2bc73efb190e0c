"""docs/openapi.json is generated from the intake API's code and must not drift from it."""

import json

from functions.handlers.intake import openapi_document
from infra.config import ROOT

COMMITTED = ROOT / "docs" / "openapi.json"


def test_committed_openapi_document_matches_the_code():
    generated = json.loads(openapi_document())
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == generated, "docs/openapi.json is stale: run `make openapi` and commit the result"


def test_every_operation_documents_its_errors_with_one_error_shape():
    document = json.loads(openapi_document())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            # Filing names no request, nor does the topic list: no 404 there.
            assert "422" in responses and ("404" in responses or path in ("/requests", "/topics")), (path, method)
            for status, response in responses.items():
                if status.startswith("4"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, status)
