"""Lambda code and dependencies, built without Docker.

The code asset is `functions/` with its bytecode plus the validated data map as JSON (Lambdas read
their plan from it); the dependency layer is pip-installed for the Lambda platform from
lambda-requirements.txt, so functions run exactly the pinned versions the tests ran.
"""

from __future__ import annotations

import compileall
import hashlib
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from functions.privacy.datamap.model import DataMap

from .config import ROOT

BUILD = ROOT / ".build"
RUNTIME = lambda_.Runtime.PYTHON_3_11


def code_asset(datamap: DataMap) -> lambda_.Code:
    """`functions/` with the resolved data map beside it, staged under .build/ (content-hashed by CDK)."""
    stage = BUILD / "lambda"
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(ROOT / "functions", stage / "functions", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compile_bytecode(stage / "functions")
    (stage / "datamap.json").write_text(datamap.model_dump_json(by_alias=True, indent=1), encoding="utf-8")
    return lambda_.Code.from_asset(str(stage))


def compile_bytecode(package: Path) -> None:
    """Ship .pyc: /var/task is read-only, so otherwise Lambda compiles our package at every cold start.

    Only for the runtime's Python version (other versions' files would be ignored there). Hash-checked,
    so they stay valid whatever times the zip gives the sources, and compiled with a fixed source path
    so the same code gives the same asset hash.
    """
    if sys.version_info[:2] != tuple(int(part) for part in RUNTIME.name.removeprefix("python").split(".")):
        return
    compileall.compile_dir(
        package,
        ddir=package.name,
        quiet=1,
        workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )


def dependency_layer(scope: Construct, construct_id: str) -> lambda_.LayerVersion:
    """Powertools, pydantic and friends for the Lambda platform, cached by the requirements' hash."""
    requirements = ROOT / "lambda-requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    target = BUILD / f"layer-{digest}"
    if not (target / "python").exists():
        tmp = target.with_suffix(".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
                "--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.11",
                "--target", str(tmp / "python"), "-r", str(requirements),
            ],
            check=True,
        )  # fmt: skip
        tmp.rename(target)
    return lambda_.LayerVersion(
        scope,
        construct_id,
        code=lambda_.Code.from_asset(str(target)),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[lambda_.Architecture.X86_64],
        description="Pinned runtime dependencies (lambda-requirements.txt)",
    )
