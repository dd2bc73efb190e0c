"""Lake (s3_dataset) retention: its python3.12 function, its grants, and the retention workflow's s3_dataset branch.

The sample datamap.yaml has three lake stores with a retention timestamp (the session's ``stacks``); a copy
without lake stores, and one whose lake stores have no retention timestamp, must synthesize no such function.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app_builder import build_app
from infra.config import ROOT
from tests.infra.template_support import arn_text, functions, listed, one_function, role_statements

LAKE = "dsr-sample-lake-123456789012-us-east-1"
LAKE_PREFIXES = ("events/clicks/", "exports/orders/", "exports/tickets/")


def _map_file(directory: Path, name: str, keep_lake: bool) -> Path:
    document = yaml.safe_load((ROOT / "datamap.yaml").read_text(encoding="utf-8"))
    stores = {}
    for store_name, store in document["stores"].items():
        if store["kind"] == "s3_dataset":
            if not keep_lake:
                continue
            store = {k: v for k, v in store.items() if k != "retention_timestamp"}
        stores[store_name] = store
    document["stores"] = stores
    path = directory / f"datamap-{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _synth(tmp_path_factory: pytest.TempPathFactory, name: str, keep_lake: bool) -> Template:
    datamap = _map_file(tmp_path_factory.mktemp(f"datamap-{name}"), name, keep_lake)
    app = App(outdir=str(tmp_path_factory.mktemp(f"cdk.out.{name}")), context={"datamap": str(datamap)})
    built = build_app(app)
    app.synth()
    return Template.from_stack(built["privacy"])


@pytest.fixture(scope="module")
def template(stacks) -> Template:
    return Template.from_stack(stacks["privacy"])


@pytest.fixture(scope="module")
def without_lake(tmp_path_factory) -> Template:
    return _synth(tmp_path_factory, "no-lake", keep_lake=False)


@pytest.fixture(scope="module")
def undated_lake(tmp_path_factory) -> Template:
    return _synth(tmp_path_factory, "undated-lake", keep_lake=True)


def _retention_definition(template: Template) -> tuple[dict[str, Any], dict[str, Any]]:
    """The retention state machine's definition (substituted ARNs as <LogicalId.Arn>) and its properties."""
    (machine,) = template.find_resources(
        "AWS::StepFunctions::StateMachine", {"Properties": {"StateMachineName": "PrivacyEngine-Retention"}}
    ).values()
    props = machine["Properties"]
    substitutions = {k: arn_text(v) for k, v in props.get("DefinitionSubstitutions", {}).items()}
    body = re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], arn_text(props["DefinitionString"]))
    return json.loads(body), props


def _store_states(definition: dict[str, Any]) -> dict[str, Any]:
    return definition["States"]["ExpireStores"]["ItemProcessor"]["States"]


def test_the_lake_retention_function_runs_python312_with_the_dependency_and_pyarrow_layers(template):
    _, function = one_function(template, "RetentionDataset")
    _, dataset_task = one_function(template, "DatasetStoreTask")
    assert function["Handler"] == "functions.handlers.retention_dataset.handler"
    assert function["Runtime"] == "python3.12"
    assert (function["MemorySize"], function["EphemeralStorage"], function["Timeout"]) == (3008, {"Size": 10240}, 900)
    layers = template.find_resources("AWS::Lambda::LayerVersion")
    assert len(function["Layers"]) == 2 and function["Layers"] == dataset_task["Layers"]  # the same two layers
    for ref in function["Layers"]:
        assert layers[ref["Ref"]]["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert any("pyarrow" in layers[r["Ref"]]["Properties"]["Description"] for r in function["Layers"])
    variables = function["Environment"]["Variables"]
    assert {"RETENTION_WORK_BUCKET", "HOLDS_TABLE", "HMAC_KEY_ID", "DATAMAP_FILE"} <= set(variables)


def test_without_lake_stores_or_without_their_timestamps_there_is_no_lake_retention_function(
    without_lake, undated_lake
):
    for template in (without_lake, undated_lake):
        assert not [k for k in functions(template) if "RetentionDataset" in k]
        definition, _ = _retention_definition(template)
        objects, _ = one_function(template, "RetentionObjects")
        # The branch is never taken; its stand-in is the object lister, which would fail a misrouted store.
        assert _store_states(definition)["PlanDatasetBatches"]["Parameters"]["FunctionName"] == f"<{objects}.Arn>"
    assert not [k for k in functions(without_lake) if "DatasetStoreTask" in k]


def test_the_retention_workflow_routes_s3_dataset_stores_to_the_lake_branch(template):
    definition, props = _retention_definition(template)
    states = _store_states(definition)
    routes = {c["StringEquals"]: c["Next"] for c in states["ChooseStoreKind"]["Choices"]}
    assert routes["s3_dataset"] == "StartDatasetListing"
    assert states["StartDatasetListing"]["Next"] == "PlanDatasetBatches"
    logical, _ = one_function(template, "RetentionDataset")
    plan = states["PlanDatasetBatches"]
    assert plan["Parameters"] == {"FunctionName": f"<{logical}.Arn>", "Payload": {"step": "plan", "event.$": "$"}}
    assert plan["Catch"][0]["Next"] == "StoreFailed" and plan["Next"] == "ExpireDatasetBatches"
    batches = states["ExpireDatasetBatches"]
    assert batches["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED" and "ItemBatcher" not in batches
    assert batches["MaxConcurrency"] == 20  # retention_batch_concurrency (its default), as for object batches
    assert batches["MaxConcurrency"] == states["DeleteObjectBatches"]["MaxConcurrency"]
    assert batches["ItemReader"]["Parameters"]["Key.$"] == "$.round.manifest_key"
    worker = batches["ItemProcessor"]["States"]["ExpireDatasetBatch"]
    assert worker["Parameters"]["FunctionName"] == f"<{logical}.Arn>"
    assert "StoreThrottled" in worker["Retry"][0]["ErrorEquals"]
    assert batches["Catch"][0]["Next"] == "StoreFailed" and batches["ResultPath"] == "$.dataset_results"
    assert states["MoreDatasetBatches"]["Choices"][0]["Next"] == "PlanDatasetBatches"
    collect = states["CollectDatasetCounts"]
    assert collect["Next"] == "RecordStoreOutcome" and collect["Parameters"]["dataset_results.$"] == "$.dataset_results"
    # The state machine may invoke it.
    role = props["RoleArn"]["Fn::GetAtt"][0]
    invokes = [
        arn_text(r)
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in listed(s["Action"])
        for r in listed(s["Resource"])
    ]
    assert f"<{logical}.Arn>" in invokes


def test_the_lake_retention_function_may_rewrite_only_under_the_lake_prefixes_and_reads_holds(template):
    _, function = one_function(template, "RetentionDataset")
    statements = role_statements(template, function)
    lake = [s for s in statements if any(LAKE in arn_text(r) for r in listed(s["Resource"]))]
    bucket = f"arn:<AWS::Partition>:s3:::{LAKE}"
    objects = [s for s in lake if "s3:PutObject" in listed(s["Action"])]
    assert [sorted(arn_text(r) for r in listed(s["Resource"])) for s in objects] == [
        sorted(f"{bucket}/{p}*" for p in LAKE_PREFIXES)
    ]
    assert "s3:DeleteObjectVersion" in objects[0]["Action"] and "s3:DeleteObject" not in objects[0]["Action"]
    (listing,) = [s for s in lake if "Condition" in s]
    assert sorted(listing["Condition"]["StringLike"]["s3:prefix"]) == sorted(f"{p}*" for p in LAKE_PREFIXES)
    assert len(lake) == 3  # listing, bucket settings and the objects: nothing else on the lake
    holds = [s for s in statements if "dynamodb:Scan" in listed(s["Action"])]
    assert holds and all("HoldsTable" in json.dumps(s["Resource"]) for s in holds)
    assert any("kms:GenerateMac" in listed(s["Action"]) for s in statements)
    work = [s for s in statements if "WorkBucket" in json.dumps(s["Resource"])]
    assert work and not any("dynamodb:BatchWriteItem" in listed(s["Action"]) for s in statements)
