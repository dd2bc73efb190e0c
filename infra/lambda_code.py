"""Lambda code and dependencies, built without Docker.

The code asset is `functions/` with its bytecode plus the validated data map as JSON (Lambdas read
their plan from it); the dependency layer is pip-installed for the Lambda platform from
lambda-requirements.txt, so functions run exactly the pinned versions the tests ran.

Dataset stores (s3_dataset) need pyarrow, whose 26.x wheels are manylinux_2_28 (glibc 2.28): python3.11
runs on Amazon Linux 2 (glibc 2.26), so the dataset function runs python3.12 (Amazon Linux 2023, glibc
2.34) with a cp312 build of the same dependency layer plus a pyarrow layer (`pyarrow_layer`). Both are
pip-installed from PyPI for the Lambda platform (``--platform``, ``--only-binary``), no Docker, and cached
under .build/ by a hash of what goes into them.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import py_compile
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from functions.privacy.datamap.model import DataMap

from .config import ROOT

BUILD = ROOT / ".build"
RUNTIME = lambda_.Runtime.PYTHON_3_11
# The dataset store task's runtime: the oldest Python whose Lambda OS (glibc 2.34) runs pyarrow 26's wheels.
DATASET_RUNTIME = lambda_.Runtime.PYTHON_3_12
# The lake libraries (the s3_dataset connector's imports), at the versions requirements.txt pins for the tests.
LAKE_PACKAGES = ("pyarrow", "xxhash")
LAKE_PLATFORM = "manylinux_2_28_x86_64"  # pip also accepts older tags under it (xxhash ships manylinux2014 too)

# What the pyarrow layer leaves out. Each is never loaded by `import pyarrow.parquet` / `pyarrow.compute`:
# - include/, includes/, src/, *.pyx, *.pxd, *.pxi: C++ headers and sources and Cython sources, only for
#   building extensions against pyarrow (the compiled modules are the .so files);
# - tests/ and _pyarrow_cpp_tests.*: pyarrow's own test suite;
# - Arrow Flight (about 33 MB): per `readelf -d`, libarrow_flight and libarrow_python_flight are NEEDED only
#   by pyarrow._flight (pyarrow.flight), which nothing else imports. Substrait, Acero and Dataset stay: the
#   core pyarrow.lib module links them.
# tests/infra/test_dataset_layers.py imports the trimmed tree on python3.12 where one is installed.
PYARROW_TRIM_DIRS = ("include", "includes", "src", "tests")
PYARROW_TRIM_FILES = (
    "*.pyx",
    "*.pxd",
    "*.pxi",
    "_pyarrow_cpp_tests.*",
    "flight.py",
    "_flight.*.so",
    "libarrow_flight.so*",
    "libarrow_python_flight.so*",
)
# Bump when the trim lists change, so the cached layer is rebuilt.
PYARROW_TRIM_VERSION = "1"


def python_version(runtime: lambda_.Runtime) -> str:
    """ "3.12" for python3.12."""
    return runtime.name.removeprefix("python")


def code_asset(datamap: DataMap) -> lambda_.Code:
    """`functions/` with the resolved data map beside it, staged under .build/ (content-hashed by CDK)."""
    stage = code_stage()
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(ROOT / "functions", stage / "functions", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compile_bytecode(stage / "functions")
    (stage / "datamap.json").write_text(datamap.model_dump_json(by_alias=True, indent=1), encoding="utf-8")
    return lambda_.Code.from_asset(str(stage))


def code_stage() -> Path:
    """Where the code asset is staged (tests measure it)."""
    return BUILD / "lambda"


def compile_bytecode(package: Path) -> None:
    """Ship .pyc: /var/task is read-only, so otherwise Lambda compiles our package at every cold start.

    Only for the runtime's Python version (other versions' files would be ignored there). Hash-checked,
    so they stay valid whatever times the zip gives the sources, and compiled with a fixed source path
    so the same code gives the same asset hash.
    """
    if sys.version_info[:2] != tuple(int(part) for part in python_version(RUNTIME).split(".")):
        return
    compileall.compile_dir(
        package,
        ddir=package.name,
        quiet=1,
        workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )


def _built_once(target: Path, build: Callable[[Path], None]) -> Path:
    """``target``, built by ``build(tmp)`` into a private directory and renamed into place (safe between
    processes synthesizing at once: whoever renames first wins, the others discard theirs)."""
    if (target / "python").exists():
        return target
    tmp = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        build(tmp)
        tmp.rename(target)
    except OSError:
        if not (target / "python").exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _pip_install(tmp: Path, *, platform: str, version: str, args: list[str]) -> None:
    # pip compiles .pyc with the interpreter running it: useless (and dead weight) for another Python.
    compile_flag = [] if sys.version_info[:2] == tuple(int(p) for p in version.split(".")) else ["--no-compile"]
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
            "--platform", platform, "--implementation", "cp", "--python-version", version,
            *compile_flag, "--target", str(tmp / "python"), *args,
        ],
        check=True,
    )  # fmt: skip


def dependency_layer_dir(runtime: lambda_.Runtime = RUNTIME) -> Path:
    """The staged dependency layer for ``runtime``, built on first use (cached by the requirements' hash)."""
    requirements = ROOT / "lambda-requirements.txt"
    version = python_version(runtime)
    if runtime.name == RUNTIME.name:  # the name the python3.11 layer has always had
        target = BUILD / f"layer-{hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]}"
    else:
        tag = f"cp{version.replace('.', '')}"
        digest = hashlib.sha256(requirements.read_bytes() + f"\0{tag}".encode()).hexdigest()[:16]
        target = BUILD / f"layer-{tag}-{digest}"
    return _built_once(
        target,
        lambda tmp: _pip_install(tmp, platform="manylinux2014_x86_64", version=version, args=["-r", str(requirements)]),
    )


def dependency_layer(scope: Construct, construct_id: str, runtime: lambda_.Runtime = RUNTIME) -> lambda_.LayerVersion:
    """Powertools, pydantic and friends for the Lambda platform, cached by the requirements' hash."""
    target = dependency_layer_dir(runtime)
    return lambda_.LayerVersion(
        scope,
        construct_id,
        code=lambda_.Code.from_asset(str(target)),
        compatible_runtimes=[runtime],
        compatible_architectures=[lambda_.Architecture.X86_64],
        description="Pinned runtime dependencies (lambda-requirements.txt)"
        + ("" if runtime.name == RUNTIME.name else f" for {runtime.name}"),
    )


def lake_pins() -> list[str]:
    """``pyarrow==x.y.z`` and ``xxhash==...`` exactly as requirements.txt pins them (one source of versions)."""
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    pins = []
    for name in LAKE_PACKAGES:
        match = re.search(rf"^{re.escape(name)}==(\S+)\s*$", text, flags=re.MULTILINE | re.IGNORECASE)
        if match is None:
            raise ValueError(f"requirements.txt pins no {name}==<version>: the pyarrow layer needs one")
        pins.append(f"{name}=={match.group(1)}")
    return pins


def trim_pyarrow(site: Path) -> None:
    """Drop from an installed pyarrow what Lambda never loads (see PYARROW_TRIM_DIRS and PYARROW_TRIM_FILES)."""
    package = site / "pyarrow"
    for name in PYARROW_TRIM_DIRS:
        shutil.rmtree(package / name, ignore_errors=True)
    for pattern in PYARROW_TRIM_FILES:
        for path in package.rglob(pattern):
            if path.is_file() or path.is_symlink():
                path.unlink()


def pyarrow_layer_dir() -> Path:
    """The staged pyarrow layer, built on first use (cached by the pins, platform and trim rules)."""
    pins, version = lake_pins(), python_version(DATASET_RUNTIME)
    key = "\n".join([*pins, LAKE_PLATFORM, version, PYARROW_TRIM_VERSION])
    target = BUILD / f"pyarrow-{hashlib.sha256(key.encode()).hexdigest()[:16]}"

    def build(tmp: Path) -> None:
        _pip_install(tmp, platform=LAKE_PLATFORM, version=version, args=pins)
        trim_pyarrow(tmp / "python")

    return _built_once(target, build)


def pyarrow_layer(scope: Construct, construct_id: str) -> lambda_.LayerVersion:
    """pyarrow and xxhash for python3.12 x86_64 (the s3_dataset connector's Parquet, JSON Lines and CSV work)."""
    return lambda_.LayerVersion(
        scope,
        construct_id,
        code=lambda_.Code.from_asset(str(pyarrow_layer_dir())),
        compatible_runtimes=[DATASET_RUNTIME],
        compatible_architectures=[lambda_.Architecture.X86_64],
        description=f"{', '.join(lake_pins())} for {DATASET_RUNTIME.name} (trimmed: no headers, tests, Flight)",
    )
