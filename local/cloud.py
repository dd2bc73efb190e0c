"""The local cloud: moto's server running in this process, with a synthesized CDK app (cdk.out) deployed into it.

`LocalCloud` publishes the assets, bootstraps the environment and creates every CloudFormation stack through
the AWS APIs, exactly as `cdk deploy` would against an account; moto's gaps are filled by `local.adapters`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import shutil
import socket
import time
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.core.config import default_user_config

from . import adapters

log = logging.getLogger("local.cloud")

ACCOUNT = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
DEFAULT_BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
# The newest bootstrap template version at the time of writing; templates only require a minimum.
BOOTSTRAP_VERSION = 30
MAX_TEMPLATE_BODY = 51_200  # CloudFormation's limit for TemplateBody; larger templates go through S3
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# The sample sender domain (cdk.json's sender_email); SES only sends from verified identities.
DEFAULT_IDENTITIES = ("example.com",)


class DeployError(RuntimeError):
    """A stack could not be deployed; the message lists the failed resources and their reasons."""


class LocalCloud:
    """moto in this process, with the project's stacks deployed into it. Use as a context manager."""

    _active: LocalCloud | None = None  # moto's state is process-wide: one local cloud at a time

    def __init__(
        self,
        port: int = 0,
        state_dir: Path = Path(".local"),
        region: str = DEFAULT_REGION,
        verified_identities: Iterable[str] = DEFAULT_IDENTITIES,
        quiet: bool = True,
        echo_function_logs: bool = False,
    ) -> None:
        """Functions' output goes to ``<state_dir>/logs/functions/``; ``echo_function_logs`` shows it here too."""
        self.requested_port = port
        self.state_dir = Path(state_dir).resolve()
        self.region = region
        self.verified_identities = tuple(verified_identities)
        self.quiet = quiet
        self.echo_function_logs = echo_function_logs
        self.port: int | None = None
        self.skipped: dict[str, dict[str, list[str]]] = {}
        self._server: Any = None
        self.scheduler: Any = None  # local.scheduler.LocalScheduler once started
        self._saved_env: dict[str, str | None] = {}
        self._saved_moto_config: dict[str, Any] = {}

    # ---------------------------------------------------------------------------------------- lifecycle

    @classmethod
    def running(cls) -> LocalCloud | None:
        """The local cloud started in this process, if any (tests share it rather than start a second)."""
        return cls._active

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise RuntimeError("the local cloud is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalCloud:
        """Start moto's server, point this process's AWS SDK at it, enable execution and install the adapters."""
        from moto.server import ThreadedMotoServer

        if LocalCloud._active is not None:
            raise RuntimeError(f"a local cloud is already running at {LocalCloud._active.endpoint}")
        if self.requested_port:
            _ensure_port_free(self.requested_port)  # ThreadedMotoServer would hang waiting on a busy port
        if self.quiet:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per API call is noise here
        self.state_dir.mkdir(parents=True, exist_ok=True)
        from functions.privacy.core import clients as engine_aws

        engine_aws._clients.clear()  # cached clients would keep an endpoint from before this cloud
        # The outbox belongs to one run of the cloud, like the rest of moto's in-memory state.
        shutil.rmtree(self.state_dir / "outbox", ignore_errors=True)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.requested_port, verbose=False)
        self._server.start()
        self.port = int(self._server.get_host_and_port()[1])
        LocalCloud._active = self
        # moto's configuration is process-wide and later mock_aws() calls copy it: restored in stop().
        self._saved_moto_config = copy.deepcopy(default_user_config.get("stepfunctions", {}))
        self._set_environment()
        adapters.install(self.state_dir, echo_function_logs=self.echo_function_logs)
        try:
            self._moto_api("reset", {})  # start from a clean slate even if moto was used earlier in this process
            self._moto_api("config", {"stepfunctions": {"execute_state_machine": True}})
            for identity in self.verified_identities:
                self.verify_identity(identity)
        except BaseException:
            self.stop()
            raise
        from .scheduler import LocalScheduler

        self.scheduler = LocalScheduler(self.client)
        self.scheduler.start()
        log.info("local cloud listening at %s", self.endpoint)
        return self

    def stop(self) -> None:
        """Stop the server and restore this process's environment and moto."""
        if self._server is None:
            return
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        try:
            self._server.stop()
        finally:
            self._server = None
            default_user_config["stepfunctions"] = self._saved_moto_config
            adapters.uninstall()
            self._restore_environment()
            LocalCloud._active = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _set_environment(self) -> None:
        env = {
            "MOTO_PORT": str(self.port),  # moto's Step Functions interpreter calls other services on this port
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_SECURITY_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
        self._saved_env = {name: os.environ.get(name) for name in env}
        os.environ.update(env)

    def _restore_environment(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def _moto_api(self, path: str, body: Mapping[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    # ---------------------------------------------------------------------------------------- clients

    def client(self, service: str, region: str | None = None, **config: Any) -> Any:
        """A boto3 client bound to this cloud (works without the process environment, too)."""
        return boto3.session.Session().client(
            service,
            region_name=region or self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            config=Config(**config) if config else None,
        )

    def verify_identity(self, identity: str) -> None:
        """Verify an SES sending identity (an address or a whole domain), as the company would in SES."""
        ses = self.client("sesv2")
        try:
            ses.get_email_identity(EmailIdentity=identity)
        except ClientError:
            ses.create_email_identity(EmailIdentity=identity)

    # ---------------------------------------------------------------------------------------- deploy

    def deploy(self, cdk_out: Path) -> dict[str, dict[str, str]]:
        """Deploy every stack of a synthesized cloud assembly in dependency order; returns each stack's outputs."""
        cdk_out = Path(cdk_out).resolve()
        manifest = json.loads((cdk_out / "manifest.json").read_text())
        artifacts: dict[str, Any] = manifest.get("artifacts", {})
        self._bootstrap(artifacts)
        deployed: dict[str, dict[str, str]] = {}
        for artifact_id in _dependency_order(artifacts):
            artifact = artifacts[artifact_id]
            kind = artifact.get("type")
            if kind == "cdk:asset-manifest":
                self._publish_assets(cdk_out, cdk_out / artifact["properties"]["file"])
            elif kind == "aws:cloudformation:stack":
                name = artifact.get("properties", {}).get("stackName") or artifact.get("displayName") or artifact_id
                deployed[name] = self._create_stack(cdk_out, name, artifact)
            elif kind == "cdk:cloud-assembly":
                log.warning("nested cloud assembly %s (a CDK Stage) is not deployed by the local cloud", artifact_id)
        self._verify_senders()
        return deployed

    def _region_of(self, artifact: Mapping[str, Any]) -> str:
        environment = artifact.get("environment", "")
        region = environment.rsplit("/", 1)[-1] if environment.startswith("aws://") else ""
        return self.region if not region or region.startswith("unknown-") else region

    def _substitute(self, text: str, region: str) -> str:
        for name, value in (("${AWS::AccountId}", ACCOUNT), ("${AWS::Region}", region), ("${AWS::Partition}", "aws")):
            text = text.replace(name, value)
        return text

    def _bootstrap(self, artifacts: Mapping[str, Any]) -> None:
        """Create the bootstrap version parameter(s) the templates' BootstrapVersion parameter resolves."""
        required: dict[tuple[str, str], int] = {}
        for artifact in artifacts.values():
            props = artifact.get("properties", {})
            region = self._region_of(artifact)
            for source in (props, props.get("lookupRole") or {}):
                name = source.get("bootstrapStackVersionSsmParameter")
                if name:
                    key = (region, name)
                    required[key] = max(required.get(key, 0), int(source.get("requiresBootstrapStackVersion", 0)))
        required.setdefault((self.region, DEFAULT_BOOTSTRAP_PARAMETER), 0)
        for (region, name), minimum in required.items():
            self.client("ssm", region).put_parameter(
                Name=name, Value=str(max(BOOTSTRAP_VERSION, minimum)), Type="String", Overwrite=True
            )

    def _publish_assets(self, cdk_out: Path, manifest_path: Path) -> None:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("dockerImages"):
            names = ", ".join(manifest["dockerImages"])
            log.warning("container image assets are not supported by the local cloud (no Docker): %s", names)
        for asset_id, asset in manifest.get("files", {}).items():
            source = asset["source"]
            if "path" not in source:
                raise DeployError(f"asset {asset_id}: only path sources are supported, not {sorted(source)}")
            data = self._asset_bytes(cdk_out, asset_id, source)
            for destination in asset["destinations"].values():
                region = self._substitute(destination.get("region") or self.region, self.region)
                bucket = self._substitute(destination["bucketName"], region)
                key = self._substitute(destination["objectKey"], region)
                s3 = self.client("s3", region)
                self._ensure_bucket(s3, bucket, region)
                s3.put_object(Bucket=bucket, Key=key, Body=data)

    def _asset_bytes(self, cdk_out: Path, asset_id: str, source: Mapping[str, Any]) -> bytes:
        path = (cdk_out / source["path"]).resolve()
        if source.get("packaging", "file") == "zip" and path.is_dir():
            # Directories are zipped once per asset hash (CDK's asset ids are content hashes).
            cached = self.state_dir / "assets" / f"{asset_id}.zip"
            if not cached.exists():
                cached.parent.mkdir(parents=True, exist_ok=True)
                partial = cached.with_suffix(".partial")
                _zip_directory(path, partial)
                partial.replace(cached)
            return cached.read_bytes()
        return path.read_bytes()

    @staticmethod
    def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            params: dict[str, Any] = {"Bucket": bucket}
            if region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**params)

    def _create_stack(self, cdk_out: Path, name: str, artifact: Mapping[str, Any]) -> dict[str, str]:
        props = artifact.get("properties", {})
        region = self._region_of(artifact)
        account = artifact.get("environment", "").removeprefix("aws://").split("/", 1)[0]
        if account and not account.startswith("unknown-") and account != ACCOUNT:
            log.warning("stack %s targets account %s; the local cloud deploys it into %s", name, account, ACCOUNT)
        body = (cdk_out / props["templateFile"]).read_text()
        template = json.loads(body)
        self._report_skipped(name, template)
        params: dict[str, Any] = {"StackName": name, "Capabilities": CAPABILITIES}
        if props.get("tags"):
            params["Tags"] = [{"Key": k, "Value": v} for k, v in props["tags"].items()]
        if len(body.encode()) <= MAX_TEMPLATE_BODY:
            params["TemplateBody"] = body
        else:
            params["TemplateURL"] = self._template_url(props, body, region)
        # No retries: a retried CreateStack would fail with AlreadyExists and hide the real error.
        cloudformation = self.client(
            "cloudformation", region, retries={"total_max_attempts": 1}, read_timeout=900, connect_timeout=10
        )
        try:
            cloudformation.create_stack(**params)
        except ClientError as exc:
            raise DeployError(f"stack {name}: {exc}\n{self._failure_report(cloudformation, name)}") from exc
        status = self._wait_for_stack(cloudformation, name)
        if status != "CREATE_COMPLETE":
            raise DeployError(f"stack {name} ended {status}:\n{self._failure_report(cloudformation, name)}")
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}

    def _report_skipped(self, name: str, template: Mapping[str, Any]) -> None:
        """Say which resources will not exist locally: moto's CloudFormation skips types it cannot model."""
        skipped = adapters.unsupported_resource_types(template)
        if skipped:
            self.skipped[name] = skipped
            listing = "; ".join(f"{kind} ({', '.join(ids)})" for kind, ids in sorted(skipped.items()))
            log.warning("stack %s: moto cannot create these resources, so they do not exist locally: %s", name, listing)
        kinds = {r["Type"] for r in template.get("Resources", {}).values()} & set(adapters.DELIBERATELY_SKIPPED)
        for kind in sorted(kinds - {"AWS::CDK::Metadata"}):
            reason = adapters.DELIBERATELY_SKIPPED[kind]
            log.info("stack %s: %s resources are not created locally: %s", name, kind, reason)

    def _template_url(self, props: Mapping[str, Any], body: str, region: str) -> str:
        url = props.get("stackTemplateAssetObjectUrl")
        if url:  # published with the stack's assets already
            bucket, key = self._substitute(url, region).removeprefix("s3://").split("/", 1)
        else:
            bucket = f"cdk-hnb659fds-assets-{ACCOUNT}-{region}"
            key = f"{hashlib.sha256(body.encode()).hexdigest()}.json"
            s3 = self.client("s3", region)
            self._ensure_bucket(s3, bucket, region)
            s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
        return f"https://s3.{region}.amazonaws.com/{bucket}/{key}"

    @staticmethod
    def _wait_for_stack(cloudformation: Any, name: str, timeout: float = 600.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                return status
            if time.monotonic() > deadline:
                return status
            time.sleep(0.2)

    @staticmethod
    def _failure_report(cloudformation: Any, name: str) -> str:
        try:
            events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
        except ClientError:
            return "(the stack was not created)"
        lines = [
            f"  {e['ResourceStatus']} {e['LogicalResourceId']} ({e['ResourceType']}): "
            f"{e.get('ResourceStatusReason', '')}"
            for e in reversed(events)
        ]
        return "\n".join(lines) or "(no stack events)"

    def _verify_senders(self) -> None:
        """Verify the configured identities (again: a mock_aws test in this process may have reset moto) and the
        domain of every sender address the deployed functions are configured with (SENDER* variables).
        """
        for identity in self.verified_identities:
            self.verify_identity(identity)
        functions = self.client("lambda").get_paginator("list_functions")
        for page in functions.paginate():
            for function in page["Functions"]:
                for key, value in function.get("Environment", {}).get("Variables", {}).items():
                    if "SENDER" in key.upper() and "@" in value:
                        domain = value.rsplit("@", 1)[1].strip(" >")
                        if domain not in self.verified_identities:
                            self.verify_identity(domain)


def _dependency_order(artifacts: Mapping[str, Any]) -> list[str]:
    """Artifact ids with every artifact after its dependencies (manifest order otherwise)."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(artifact_id: str) -> None:
        if artifact_id in ordered or artifact_id not in artifacts:
            return
        if artifact_id in visiting:
            raise DeployError(f"dependency cycle through {artifact_id}")
        visiting.add(artifact_id)
        for dependency in artifacts[artifact_id].get("dependencies", []):
            visit(dependency)
        visiting.discard(artifact_id)
        ordered.append(artifact_id)

    for artifact_id in artifacts:
        visit(artifact_id)
    return ordered


def _zip_directory(directory: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory).as_posix())


def _ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise RuntimeError(f"port {port} is in use: set AWS_PORT to a free port") from exc
