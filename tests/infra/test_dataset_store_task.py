"""s3_dataset stores: the dataset store task (python3.12 with pyarrow), its grants, routing and the sample lake.

The sample datamap.yaml is copied with its s3_dataset stores replaced by two sharing one lake bucket under
known prefixes; a copy without such stores must synthesize no dataset function and download no pyarrow.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template

from functions.privacy.datamap.model import DataMap, load_datamap, with_resource_names
from infra.app_builder import build_app
from infra.config import ROOT
from infra.datastore_access import dataset_statements
from infra.lambda_code import DATASET_RUNTIME, dependency_layer_dir, pyarrow_layer_dir
from tests.infra.template_support import arn_text, functions, listed, one_function, role_statements

LAKE = "dsr-sample-lake-123456789012-us-east-1"
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # 250 MB: function code and all its layers, unzipped
LAKE_STORES = {
    "clicks": {
        "kind": "s3_dataset",
        "resource": "dsr-sample-lake-{account}-{region}",
        "categories": ["location"],
        "lookup": {"identifier": "customer_id"},
        "dataset": {"prefix": "clicks/", "format": "parquet", "columns": {"customer_id": "customer_id"}},
        "erasure": {"mode": "delete"},
    },
    "order_lines": {
        "kind": "s3_dataset",
        "resource": "dsr-sample-lake-{account}-{region}",
        "categories": ["orders"],
        "lookup": {"identifier": "customer_id"},
        "dataset": {
            "prefix": "orders/",
            "format": "jsonl",
            "columns": {"customer_id": "customer_id", "email": "buyer.email"},
        },
        "erasure": {"mode": "delete"},
    },
}


def dataset_map_file(directory: Path, lake: dict[str, Any] = LAKE_STORES, name: str = "with-lake") -> Path:
    """datamap.yaml with its own lake stores replaced by ``lake`` (the sample itself is left alone)."""
    document = yaml.safe_load((ROOT / "datamap.yaml").read_text(encoding="utf-8"))
    stores = {n: s for n, s in document["stores"].items() if s["kind"] != "s3_dataset"}
    document["stores"] = {**stores, **lake}
    path = directory / f"datamap-{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    """The real app on the sample map without its lake stores."""
    plain = dataset_map_file(tmp_path_factory.mktemp("datamap-plain"), lake={}, name="without-lake")
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out.plain")), context={"datamap": str(plain)})
    built = build_app(app)
    app.synth()
    return built


@pytest.fixture(scope="module")
def lake_map(tmp_path_factory) -> Path:
    return dataset_map_file(tmp_path_factory.mktemp("datamap"))


@pytest.fixture(scope="module")
def lake_app(tmp_path_factory, lake_map):
    """The real app (cdk-nag included: synthesizing proves every new finding is acknowledged) on the lake map."""
    outdir = tmp_path_factory.mktemp("cdk.out.lake")
    app = App(outdir=str(outdir), context={"datamap": str(lake_map)})
    built = build_app(app)
    app.synth()
    return built, outdir


@pytest.fixture(scope="module")
def lake_template(lake_app) -> Template:
    return Template.from_stack(lake_app[0]["privacy"])


def _definition(template: Template) -> dict[str, Any]:
    """The request state machine's definition, each substituted ARN shown as <LogicalId.Arn>."""
    machines = {k: v for k, v in template.find_resources("AWS::StepFunctions::StateMachine").items() if "Request" in k}
    (machine,) = machines.values()
    substitutions = {k: arn_text(v) for k, v in machine["Properties"].get("DefinitionSubstitutions", {}).items()}
    definition = arn_text(machine["Properties"]["DefinitionString"])
    body = re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], definition)
    return json.loads(body)


def _routes(processor: dict[str, Any]) -> tuple[str, str]:
    """(function of s3_dataset tasks, function of the others) in a Map's item processor."""
    states = processor["States"]
    choice = states[processor["StartAt"]]
    assert choice["Type"] == "Choice"
    (rule,) = choice["Choices"]
    conditions = rule.get("And", [rule])
    assert {"Variable": "$.kind", "StringEquals": "s3_dataset"} in conditions
    dataset, default = states[rule["Next"]], states[choice["Default"]]
    assert dataset["Retry"] == default["Retry"] and dataset["Catch"] == default["Catch"]
    return dataset["Parameters"]["FunctionName"], default["Parameters"]["FunctionName"]


# A map without s3_dataset stores: nothing new.


def test_without_dataset_stores_there_is_no_dataset_function_or_python312_layer(stacks):
    template = Template.from_stack(stacks["privacy"])
    assert {p["Runtime"] for p in functions(template).values()} == {"python3.11"}
    assert not [k for k in functions(template) if "DatasetStoreTask" in k]
    for layer in template.find_resources("AWS::Lambda::LayerVersion").values():
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.11"]
    sample = Template.from_stack(stacks["datastores"])
    assert "LakeBucketName" not in sample.find_outputs("*")


def test_without_dataset_stores_dataset_tasks_would_go_to_the_store_task(stacks):
    definition = _definition(Template.from_stack(stacks["privacy"]))
    store_task = one_function(Template.from_stack(stacks["privacy"]), "StoreTask")[0]
    for name in ("ActOnStores", "RecheckStores"):
        dataset, default = _routes(definition["States"][name]["ItemProcessor"])
        assert dataset == default == f"<{store_task}.Arn>"


# With s3_dataset stores.


@pytest.mark.parametrize("name", ["DatasetStoreTask", "DatasetJob"])
def test_the_lake_functions_run_on_python312_with_two_layers(lake_template, name):
    _, store_task = one_function(lake_template, "StoreTask")
    _, dataset = one_function(lake_template, name)
    handler = {"DatasetStoreTask": "dataset_store_task", "DatasetJob": "dataset_job"}[name]
    assert dataset["Handler"] == f"functions.handlers.{handler}.handler"
    assert dataset["Code"] == store_task["Code"]  # the same code asset
    assert dataset["Runtime"] == "python3.12" and store_task["Runtime"] == "python3.11"
    assert (dataset["MemorySize"], dataset["EphemeralStorage"], dataset["Timeout"]) == (3008, {"Size": 10240}, 900)
    layers = lake_template.find_resources("AWS::Lambda::LayerVersion")
    assert len(dataset["Layers"]) == 2
    for ref in dataset["Layers"]:
        assert layers[ref["Ref"]]["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert any("pyarrow==26.0.1" in layers[r["Ref"]]["Properties"]["Description"] for r in dataset["Layers"])
    variables = dataset["Environment"]["Variables"]
    shared = {k: v for k, v in variables.items() if not k.startswith("DATASET_")}
    assert shared == store_task["Environment"]["Variables"]
    assert "DATASET_QUEUE_TABLE" in variables


def _asset_dir(outdir: Path, code: dict[str, Any]) -> Path:
    return outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"


def _size(directory: Path) -> int:
    return sum(p.lstat().st_size for p in directory.rglob("*") if p.is_file() and not p.is_symlink())


def test_the_dataset_store_task_fits_lambdas_unzipped_size_limit(lake_app, lake_template):
    """Code asset (as staged into cdk.out) plus both layers (as staged under .build/), unzipped."""
    _, dataset = one_function(lake_template, "DatasetStoreTask")
    code = _size(_asset_dir(lake_app[1], dataset["Code"]))
    dependencies, pyarrow = _size(dependency_layer_dir(DATASET_RUNTIME)), _size(pyarrow_layer_dir())
    total = code + dependencies + pyarrow
    print(
        f"\nDatasetStoreTask unzipped: code {code / 1e6:.1f} MB + dependencies {dependencies / 1e6:.1f} MB "
        f"+ pyarrow {pyarrow / 1e6:.1f} MB = {total / 1e6:.1f} MB of {LAMBDA_UNZIPPED_LIMIT / 1e6:.1f} MB"
    )
    assert total < LAMBDA_UNZIPPED_LIMIT
    # The layers deployed are those directories (CDK stages them into cdk.out by content hash).
    layers = lake_template.find_resources("AWS::Lambda::LayerVersion")
    staged = sorted(
        _size(_asset_dir(lake_app[1], layers[r["Ref"]]["Properties"]["Content"])) for r in dataset["Layers"]
    )
    assert staged == sorted([dependencies, pyarrow])


def test_the_pyarrow_layer_is_trimmed_of_what_lambda_never_loads():
    package = pyarrow_layer_dir() / "python" / "pyarrow"
    assert (package / "parquet" / "__init__.py").is_file() and (package / "compute.py").is_file()
    for gone in ("include", "includes", "src", "tests", "flight.py"):
        assert not (package / gone).exists(), gone
    for pattern in ("*.pyx", "*.pxd", "*.pxi", "libarrow_flight.so*", "_flight.*", "*.cpython-311.pyc"):
        assert not list(package.rglob(pattern)), pattern
    assert list(package.glob("lib.cpython-312-*.so")) and list(package.glob("libarrow_substrait.so*"))
    assert list((pyarrow_layer_dir() / "python").glob("xxhash/_xxhash.cpython-312-*.so"))


def _python312() -> str | None:
    candidates = [
        shutil.which("python3.12"),
        *map(str, sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))),
    ]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


PARQUET_ROUND_TRIP = """
import io, sys
sys.path[:0] = sys.argv[1:]
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq, pyarrow.csv, pyarrow.json, xxhash
import aws_lambda_powertools.utilities.parser, pydantic_core
table = pa.table({"customer_id": [f"c{i}" for i in range(1000)], "n": list(range(1000))})
buffer = io.BytesIO()
pq.write_table(table, buffer, compression="zstd", bloom_filter_options={"customer_id": {"ndv": 1000, "fpp": 0.01}})
buffer.seek(0)
parquet = pq.ParquetFile(buffer)
column = parquet.metadata.row_group(0).column(0)
assert column.bloom_filter_offset is not None and column.bloom_filter_length > 0
kept = parquet.read_row_group(0).filter(pc.invert(pc.is_in(table["customer_id"], pa.array(["c1"]))))
assert kept.num_rows == 999 and pa.__file__.startswith(sys.argv[1]), pa.__file__
print(pa.__version__, xxhash.xxh64_intdigest(b""))
"""


@pytest.mark.skipif(_python312() is None, reason="no python3.12 interpreter here to load the cp312 layers")
def test_the_trimmed_layers_write_and_read_parquet_with_bloom_filters_on_python312():
    """Only the layers on the path (-I -S: no site-packages), as /opt/python is on Lambda."""
    layers = [str(pyarrow_layer_dir() / "python"), str(dependency_layer_dir(DATASET_RUNTIME) / "python")]
    run = subprocess.run(
        [str(_python312()), "-I", "-S", "-c", PARQUET_ROUND_TRIP, *layers], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[0] == "26.0.1"


def test_the_dataset_store_task_only_reads_the_lake(lake_template):
    """It queues erasure and access for the dataset job and re-checks: listing and reading, nothing more."""
    _, dataset = one_function(lake_template, "DatasetStoreTask")
    for statement in role_statements(lake_template, dataset):
        if any(LAKE in arn_text(r) for r in listed(statement["Resource"])):
            assert all(a.startswith(("s3:List", "s3:Get")) for a in listed(statement["Action"])), statement


def test_the_dataset_job_may_act_on_exactly_the_lake_prefixes(lake_template):
    _, dataset = one_function(lake_template, "DatasetJob")
    statements = role_statements(lake_template, dataset)
    lake = [s for s in statements if any(LAKE in arn_text(r) for r in listed(s["Resource"]))]
    by_resource = {tuple(sorted(arn_text(r) for r in listed(s["Resource"]))): s for s in lake}
    bucket = f"arn:<AWS::Partition>:s3:::{LAKE}"
    objects = by_resource[(f"{bucket}/clicks/*", f"{bucket}/orders/*")]
    assert set(objects["Action"]) == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObjectVersion",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        "s3:PutObjectTagging",
        "s3:GetObjectAcl",
        "s3:GetObjectVersionAcl",
        "s3:PutObjectAcl",
        "s3:GetObjectRetention",
        "s3:GetObjectLegalHold",
    }
    bucket_level = [s for s in lake if [arn_text(r) for r in listed(s["Resource"])] == [bucket]]
    listing = [s for s in bucket_level if "Condition" in s]
    assert [set(s["Action"]) for s in listing] == [{"s3:ListBucket", "s3:ListBucketVersions"}]
    assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": ["clicks/*", "orders/*"]}}
    (settings,) = [s for s in bucket_level if "Condition" not in s]
    assert set(settings["Action"]) == {
        "s3:GetBucketVersioning",
        "s3:GetBucketOwnershipControls",
        "s3:GetBucketObjectLockConfiguration",
    }
    assert len(lake) == 3  # nothing else on the lake, and no s3:DeleteObject (a delete marker hides, not erases)
    # The same requests-table, evidence, key and export grants as the store task, and its queue and work files.
    _, store_task = one_function(lake_template, "StoreTask")
    shared = [s for s in role_statements(lake_template, store_task) if not _is_data_store(s) and not _is_logs(s)]
    own = [s for s in statements if s not in lake and not _is_logs(s)]
    assert all(s in own for s in shared)


def _is_logs(statement: dict[str, Any]) -> bool:
    return any(a.startswith("logs:") for a in listed(statement["Action"]))


def _is_data_store(statement: dict[str, Any]) -> bool:
    """A statement on one of the sample data map's stores (not on the engine's own resources)."""
    text = " ".join(arn_text(r) for r in listed(statement["Resource"]))
    return "dsr-sample-" in text or any(a.startswith("ses:") for a in listed(statement["Action"]))


def test_the_store_task_gets_nothing_on_the_lake(lake_template):
    _, store_task = one_function(lake_template, "StoreTask")
    for statement in role_statements(lake_template, store_task):
        assert not any(LAKE in arn_text(r) for r in listed(statement["Resource"])), statement
    for key, function in functions(lake_template).items():
        if "DatasetJob" in key:
            continue
        for statement in role_statements(lake_template, function):
            if "s3:PutObject" in listed(statement["Action"]):
                assert not any(LAKE in arn_text(r) for r in listed(statement["Resource"])), (key, statement)


def test_read_only_dataset_access_lists_and_gets_only(lake_map):
    datamap = with_resource_names(load_datamap(lake_map), "123456789012", "us-east-1")
    actions = set()
    for statement in dataset_statements(Stack(App(), "ReadOnly"), datamap, write=False):
        actions |= set(statement.to_statement_json()["Action"])
    assert actions and all(a.startswith(("s3:List", "s3:Get")) for a in actions), actions


# Every S3 call of the lake code, and the IAM actions it needs (VersionId-qualified where the code pins versions).
S3_CALL_ACTIONS = {
    "head_object": {"s3:GetObject", "s3:GetObjectVersion"},
    "get_object": {"s3:GetObject", "s3:GetObjectVersion"},
    "put_object": {"s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectAcl"},  # Tagging and Grant* headers
    "delete_object": {"s3:DeleteObjectVersion"},  # always with a VersionId
    "get_object_tagging": {"s3:GetObjectTagging", "s3:GetObjectVersionTagging"},
    "get_object_acl": {"s3:GetObjectAcl", "s3:GetObjectVersionAcl"},
    "get_bucket_versioning": {"s3:GetBucketVersioning"},
    "get_bucket_ownership_controls": {"s3:GetBucketOwnershipControls"},
    "get_object_lock_configuration": {"s3:GetBucketObjectLockConfiguration"},
    "list_object_versions": {"s3:ListBucketVersions"},
    "list_objects_v2": {"s3:ListBucket"},
    "delete_objects": {"s3:DeleteObject"},  # the job's own files in the work bucket
}
LAKE_CODE = [
    ROOT / "functions" / "privacy" / "datasets",
    ROOT / "functions" / "privacy" / "dataset_jobs",
    ROOT / "functions" / "privacy" / "connectors" / "s3_dataset.py",
]


def test_every_s3_call_of_the_lake_code_is_granted(lake_template):
    calls = set()
    for place in LAKE_CODE:
        for source in [place] if place.is_file() else sorted(place.rglob("*.py")) if place.is_dir() else []:
            text = source.read_text(encoding="utf-8")
            # The S3 client is `s3` / `self.s3` / `self._s3` in datasets/, `self._client` in the connector.
            calls |= set(re.findall(r"(?:\b_?s3|\._client)\.(\w+)\(", text)) - {"get_paginator"}
            calls |= set(re.findall(r"get_paginator\(\"(\w+)\"\)", text))
    assert {"head_object", "put_object", "delete_object", "list_object_versions"} <= calls
    unknown = calls - set(S3_CALL_ACTIONS)
    assert not unknown, f"S3 calls with no known IAM actions here (add them and grant them): {sorted(unknown)}"
    _, dataset = one_function(lake_template, "DatasetJob")
    granted = {a for s in role_statements(lake_template, dataset) for a in listed(s["Action"])}
    granted |= {a.replace("*", "") for a in granted if a.endswith("*")}  # CDK's s3:DeleteObject* and the like
    for call in sorted(calls):
        assert S3_CALL_ACTIONS[call] <= granted, (call, S3_CALL_ACTIONS[call] - granted)


def test_the_workflow_routes_s3_dataset_tasks_to_the_dataset_store_task(lake_template):
    definition = _definition(lake_template)
    dataset_task = one_function(lake_template, "DatasetStoreTask")[0]
    store_task = one_function(lake_template, "StoreTask")[0]
    for name in ("ActOnStores", "RecheckStores"):
        assert _routes(definition["States"][name]["ItemProcessor"]) == (f"<{dataset_task}.Arn>", f"<{store_task}.Arn>")
    selector = definition["States"]["RecheckStores"]["ItemSelector"]
    assert selector["kind.$"] == "$$.Map.Item.Value.kind"
    (machine,) = [k for k in lake_template.find_resources("AWS::StepFunctions::StateMachine") if "Request" in k]
    role = lake_template.find_resources("AWS::StepFunctions::StateMachine")[machine]["Properties"]["RoleArn"]
    invokes = [
        arn_text(r)
        for policy in lake_template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role["Fn::GetAtt"][0]} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in listed(s["Action"])
        for r in listed(s["Resource"])
    ]
    assert f"<{dataset_task}.Arn>" in invokes


def test_the_sample_stack_has_one_versioned_private_lake_bucket_and_its_output(lake_app):
    sample = Template.from_stack(lake_app[0]["datastores"])
    sample.resource_properties_count_is("AWS::S3::Bucket", {"BucketName": LAKE}, 1)
    sample.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "BucketName": LAKE,
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                }
            ),
            "DeletionPolicy": "Delete",
        },
    )
    (lake_logical,) = sample.find_resources("AWS::S3::Bucket", {"Properties": {"BucketName": LAKE}})
    tls_only = [
        p
        for p in sample.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": lake_logical}
        and any(
            s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        )
    ]
    assert len(tls_only) == 1
    assert sample.find_outputs("LakeBucketName")["LakeBucketName"]["Value"] == {"Ref": lake_logical}


def test_the_lake_map_is_valid_and_shares_one_bucket(lake_map):
    datamap: DataMap = load_datamap(lake_map)
    assert {s.resource for s in datamap.stores.values() if s.kind.value == "s3_dataset"} == {
        "dsr-sample-lake-{account}-{region}"
    }


def test_the_routing_choices_run_on_motos_interpreter(lake_template, monkeypatch):
    """The synthesized ActOnStores and RecheckStores, their Lambda tasks swapped for Pass states naming the route."""
    import time

    import boto3
    from moto import mock_aws

    definition = _definition(lake_template)
    states = {}
    for name in ("ActOnStores", "RecheckStores"):
        state = dict(definition["States"][name], ResultPath="$.routes", MaxConcurrency=1)
        state.pop("Next")
        processor = state["ItemProcessor"]
        for inner, body in processor["States"].items():
            if body["Type"] == "Task":
                processor["States"][inner] = {"Type": "Pass", "Result": inner, "End": True}
        states[name] = state
    states["ActOnStores"]["Next"] = "RecheckStores"
    states["RecheckStores"]["ResultPath"] = "$.recheck_routes"
    states["RecheckStores"]["End"] = True
    machine_definition = json.dumps({"StartAt": "ActOnStores", "States": states})
    tasks = [
        {"request_id": "r", "store": "clicks", "kind": "s3_dataset", "operation": "erase"},
        {"request_id": "r", "store": "customers", "kind": "dynamodb", "operation": "erase"},
        {"request_id": "r", "store": "legacy", "operation": "erase"},  # planned before kinds: an ordinary task
    ]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="routes", definition=machine_definition, roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, name="routed", input=json.dumps({"tasks": tasks[:2]}))[
            "executionArn"
        ]
        legacy = sfn.start_execution(stateMachineArn=arn, name="legacy", input=json.dumps({"tasks": tasks[2:]}))[
            "executionArn"
        ]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            described = [sfn.describe_execution(executionArn=a) for a in (execution, legacy)]
            if all(d["status"] != "RUNNING" for d in described):
                break
            time.sleep(0.2)
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in sfn.get_execution_history(executionArn=legacy)["events"]
            if "stateEnteredEventDetails" in e
        ]
    assert described[0]["status"] == "SUCCEEDED", described[0]
    output = json.loads(described[0]["output"])
    assert output["routes"] == ["ActOnDatasetStore", "ActOnStore"]
    assert output["recheck_routes"] == ["RecheckDatasetStore", "RecheckStore"]
    # ActOnStores takes a task without a kind to the store task; RecheckStores' ItemSelector needs the kind.
    assert "ActOnStore" in entered and "ActOnDatasetStore" not in entered
    assert described[1]["status"] == "FAILED"
