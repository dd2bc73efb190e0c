"""Where the CLI finds the engine: the local cloud's .local/outputs.json (--local) or the CloudFormation
outputs of the deployed PrivacyEngine stack, plus boto3 clients bound to the same place.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import boto3
import typer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from functions.privacy.core.clients import Clients
from functions.privacy.datamap.model import DataMap, DataMapError, load_datamap, with_resource_names
from functions.privacy.operations.actions import Tables

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUTS = Path(".local/outputs.json")
DEFAULT_STACK = "PrivacyEngine"
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60)

console = Console()
errors = Console(stderr=True)


class CliError(Exception):
    """A problem the operator can fix; printed as one line, exit status 1."""


class _EndpointClients(Clients):
    """Clients bound to one endpoint and region (the local cloud) instead of the environment's."""

    def __init__(self, endpoint: str, region: str) -> None:
        super().__init__()
        self._endpoint, self._region = endpoint, region
        self._cache: dict[str, Any] = {}
        self._session_local = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )

    def client(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self._session_local.client(service, endpoint_url=self._endpoint, config=_CONFIG)
        return self._cache[service]

    def resource_table(self, name: str) -> Any:
        return self._session_local.resource("dynamodb", endpoint_url=self._endpoint, config=_CONFIG).Table(name)


class _SessionClients(Clients):
    def __init__(self, session: boto3.session.Session) -> None:
        super().__init__(session)
        self._session_aws = session
        self._cache: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self._session_aws.client(service, config=_CONFIG)
        return self._cache[service]


@dataclass
class Options:
    """The global options, turned into an Engine only when a command needs one (so --help needs nothing)."""

    local: bool = False
    outputs_file: Path = DEFAULT_OUTPUTS
    stack: str = DEFAULT_STACK
    region: str | None = None
    datamap: Path | None = None
    operator: str = ""
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = load_local(self) if self.local else load_aws(self)
        return self._engine


@dataclass
class Engine:
    outputs: dict[str, Any]
    clients: Clients
    region: str
    account: str
    datamap_path: Path
    operator: str
    _datamap: DataMap | None = field(default=None, repr=False)

    def output(self, name: str) -> str:
        value = self.outputs.get(name)
        if not value:
            raise CliError(f"the deployment has no output {name} (is the stack up to date?)")
        return str(value)

    def tables(self) -> Tables:
        return Tables(
            requests_table=self.output("RequestsTableName"),
            holds_table=self.output("HoldsTableName"),
            audit_bucket=self.output("AuditBucketName"),
            hmac_key=self.output("HmacKeyArn"),
            state_machine_arn=self.output("RequestStateMachineArn"),
        )

    def datamap(self) -> DataMap:
        if self._datamap is None:
            self._datamap = with_resource_names(load_datamap(self.datamap_path), self.account, self.region)
        return self._datamap

    def sender(self) -> str:
        """The SES sender of requester email (the stack's SenderEmail output, else cdk.json's sender_email)."""
        if self.outputs.get("SenderEmail"):
            return str(self.outputs["SenderEmail"])
        try:
            return str(json.loads((ROOT / "cdk.json").read_text())["context"]["sender_email"])
        except (OSError, KeyError, ValueError):
            raise CliError("no sender address: the stack has no SenderEmail output and cdk.json none") from None

    def configuration_set(self) -> str | None:
        """The engine's transactional SES configuration set (output SesConfigurationSet): requester mail sent
        with it reaches addresses on the account suppression list (an opted-out requester still hears back)."""
        return str(self.outputs["SesConfigurationSet"]) if self.outputs.get("SesConfigurationSet") else None


def _datamap_path(options: Options) -> Path:
    if options.datamap is not None:
        return options.datamap
    return Path(os.environ.get("DATAMAP", ROOT / "datamap.yaml"))


def load_local(options: Options) -> Engine:
    path = options.outputs_file
    try:
        described = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"{path} not found: start the local cloud first (make up)") from None
    except ValueError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(described, dict) or "aws_endpoint" not in described:
        raise CliError(f"{path} has no aws_endpoint: is it the local cloud's outputs.json?")
    region = str(described.get("region") or "us-east-1")
    clients = _EndpointClients(str(described["aws_endpoint"]), region)
    return Engine(
        described,
        clients,
        region,
        str(described.get("account", "123456789012")),
        _datamap_path(options),
        options.operator,
    )


def load_aws(options: Options) -> Engine:
    try:
        session = boto3.session.Session(region_name=options.region) if options.region else boto3.session.Session()
        region = session.region_name
        if not region:
            raise CliError("no AWS region: pass --region or set AWS_DEFAULT_REGION")
        cloudformation = session.client("cloudformation", config=_CONFIG)
        stack = cloudformation.describe_stacks(StackName=options.stack)["Stacks"][0]
        account = session.client("sts", config=_CONFIG).get_caller_identity()["Account"]
    except ClientError as exc:
        raise CliError(f"cannot read stack {options.stack}: {exc.response['Error'].get('Message', exc)}") from None
    except BotoCoreError as exc:
        raise CliError(f"cannot reach AWS: {exc}") from None
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    return Engine(outputs, _SessionClients(session), region, account, _datamap_path(options), options.operator)


def default_operator() -> str:
    try:
        return os.environ.get("DSR_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def engine(ctx: typer.Context) -> Engine:
    options = ctx.find_root().obj
    assert isinstance(options, Options)
    return options.engine()


P = ParamSpec("P")
R = TypeVar("R")


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors an operator can act on into one line on stderr and exit status 1 (no traceback)."""
    from functions.privacy.operations.actions import OperatorError
    from functions.privacy.operations.extensions import ExtensionRefused
    from functions.privacy.requests.record import RequestNotFound
    from functions.privacy.subjects.holds import HoldNotFound
    from functions.privacy.subjects.resolution import AmbiguousIdentifier

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except ClientError as exc:
            error = exc.response.get("Error", {})
            message = f"{exc.operation_name}: {error.get('Code')}: {error.get('Message', '')}"
        except BotoCoreError as exc:
            message = f"AWS: {exc}"
        except ValidationError as exc:
            message = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors())
        except (
            CliError,
            RequestNotFound,
            HoldNotFound,
            OperatorError,
            ExtensionRefused,
            AmbiguousIdentifier,
            DataMapError,
            ValueError,
        ) as exc:
            message = str(exc)
        except Exception as exc:  # a bug, not an operator's mistake: still one line unless asked for the traceback
            if os.environ.get("DSR_DEBUG"):
                raise
            message = f"unexpected {type(exc).__name__}: {exc} (DSR_DEBUG=1 shows the traceback)"
        errors.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)

    return wrapper
