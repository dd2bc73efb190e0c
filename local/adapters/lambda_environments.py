"""Lambda execution environments: each function gets a pool of them, and each has its own module state.

On AWS an execution environment is a process: it imports the handler once (the cold start), then serves one
invocation at a time; concurrent invocations get other environments, up to the function's concurrency limit.
Here every function runs in this process (moto, whose backends the functions' AWS calls reach, is in-process too),
so an environment is emulated by giving it private copies of the modules a Lambda process would own:

* the handler's packages and the domain package (``functions``), Powertools (its Logger, Metrics and Tracer
  objects and its cold-start flags are module state) and ``logging`` (Powertools names its logger after the
  service, and a shared registry would hand every environment the same logger and keys). Each environment
  imports them afresh under its own ``sys.modules`` mapping, swapped in under a lock while it imports;
* its own ``os.environ``: the function's variables over the process's (which point the SDK at the local cloud);
  ``os.environ`` is replaced by a mapping that answers with the environment the current thread is running in.

Why not subprocesses or subinterpreters: a subprocess per environment would cost a full interpreter start per cold
start and lose the in-process moto that tests patch to inject faults; pydantic_core and other extensions do not
support subinterpreters on this Python. docs/decisions.md has the longer version.
"""

from __future__ import annotations

import builtins
import importlib
import itertools
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from .base import _installed, _patch
from .lambda_logs import routed_console

# Modules every Lambda process owns besides the function's own code (see the module docstring).
PROCESS_PACKAGES = frozenset({"functions", "aws_lambda_powertools", "logging"})
# Small: every environment holds a copy of the modules and costs a cold start, and one process (one GIL) runs them
# all, so more concurrent environments only make each invocation slower (past its timeout, under a burst).
DEFAULT_CONCURRENCY = int(os.environ.get("LOCAL_LAMBDA_CONCURRENCY", "4"))

_namespace_lock = threading.RLock()  # held while some environment's modules are in sys.modules
_current: ContextVar[ExecutionEnvironment | None] = ContextVar("local_lambda_environment", default=None)
_original_import = builtins.__import__
_private_roots: set[str] = set(PROCESS_PACKAGES)


@dataclass(eq=False)
class ExecutionEnvironment:
    """One execution environment of one function: its modules, its environment variables, its handler."""

    function_name: str
    number: int
    roots: frozenset[str]
    environ: dict[str, str]
    log_stream: str
    modules: dict[str, ModuleType] = field(default_factory=dict)
    handler: Callable[..., Any] | None = None
    invocations: int = 0
    swapped: bool = False  # its modules are in sys.modules (this thread holds _namespace_lock)

    @contextmanager
    def active(self) -> Iterator[None]:
        """This thread runs in the environment: its os.environ and, for imports, its modules."""
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)

    @contextmanager
    def namespace(self) -> Iterator[None]:
        """Within the body, sys.modules holds this environment's private modules instead of everyone else's."""
        with _namespace_lock:
            if self.swapped:  # an import inside an import: already in place
                yield
                return
            saved = _take(self.roots)
            sys.modules.update(self.modules)
            self.swapped = True
            try:
                yield
            finally:
                self.swapped = False
                self.modules = _take(self.roots)
                sys.modules.update(saved)

    def load(self, handler_name: str) -> Callable[..., Any]:
        """The cold start: import the handler in this environment (once)."""
        if self.handler is None:
            module_name, _, attribute = handler_name.rpartition(".")
            with self.active(), self.namespace(), routed_console():
                self.handler = getattr(importlib.import_module(module_name), attribute)
        return self.handler

    def owns(self, name: str) -> bool:
        return name.partition(".")[0] in self.roots


def _take(roots: frozenset[str]) -> dict[str, ModuleType]:
    """Remove and return the modules under ``roots`` from sys.modules (the caller holds _namespace_lock)."""
    names = [name for name in list(sys.modules) if name.partition(".")[0] in roots]
    return {name: sys.modules.pop(name) for name in names if name in sys.modules}


def _absolute(name: str, globals_: Mapping[str, Any] | None, level: int) -> str:
    if level == 0:
        return name
    package = (globals_ or {}).get("__package__") or ""
    base = package.rsplit(".", level - 1)[0] if level > 1 else package
    return f"{base}.{name}" if name else base


def _import(
    name: str,
    globals: Mapping[str, Any] | None = None,  # noqa: A002 - builtins.__import__'s signature
    locals: Mapping[str, Any] | None = None,  # noqa: A002
    fromlist: Any = (),
    level: int = 0,
) -> ModuleType:
    """``import`` statements run at call time (not only at import time) must find the environment's own modules."""
    absolute = _absolute(name, globals, level)
    root = absolute.partition(".")[0]
    if root not in _private_roots:
        return _original_import(name, globals, locals, fromlist, level)
    environment = _current.get()
    if environment is None or not environment.owns(absolute):
        # Outside any environment: wait while an environment's copies are swapped in, so this thread never gets
        # one. Bounded, so two imports that each wait for a lock the other holds cannot hang.
        acquired = _namespace_lock.acquire(timeout=5)
        try:
            return _original_import(name, globals, locals, fromlist, level)
        finally:
            if acquired:
                _namespace_lock.release()
    module = environment.modules.get(absolute)
    if module is not None and all(hasattr(module, item) for item in fromlist or () if item != "*"):
        return module if fromlist else environment.modules[root]
    with environment.namespace():
        return _original_import(name, globals, locals, fromlist, level)


class EnvironmentVariables(MutableMapping[str, str]):
    """Stands in for os.environ: in an execution environment its variables, elsewhere the process's."""

    def __init__(self, process: MutableMapping[str, str]) -> None:
        self.process = process

    def _target(self) -> MutableMapping[str, str]:
        environment = _current.get()
        return self.process if environment is None else environment.environ

    def __getitem__(self, key: str) -> str:
        return self._target()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._target()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._target()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._target()))

    def __len__(self) -> int:
        return len(self._target())

    def copy(self) -> dict[str, str]:
        return dict(self._target())

    def __getattr__(self, name: str) -> Any:  # encodekey, putenv helpers, ... of the real os.environ
        return getattr(self.process, name)


class EnvironmentPool:
    """A function's environments: an idle one serves the next invocation, else a new one up to ``limit``, else the
    invocation waits for one to finish (as reserved concurrency bounds a function on AWS)."""

    def __init__(self, fn: Any, code_dir: Path, roots: frozenset[str], limit: int) -> None:
        self.fn, self.code_dir, self.roots, self.limit = fn, code_dir, roots, limit
        self.idle: list[ExecutionEnvironment] = []
        self.size = 0
        self._numbers = itertools.count(1)
        self._available = threading.Condition()

    @contextmanager
    def environment(self) -> Iterator[ExecutionEnvironment]:
        with self._available:
            while not self.idle and self.size >= self.limit:
                self._available.wait()
            if self.idle:
                environment = self.idle.pop()  # the most recently used: warm, as Lambda prefers
            else:
                self.size += 1
                environment = self._new()
        healthy = False
        try:
            yield environment
            healthy = environment.handler is not None
        finally:
            with self._available:
                if healthy:
                    self.idle.append(environment)
                else:  # a failed cold start: Lambda discards the environment and the next invocation starts over
                    self.size -= 1
                self._available.notify()

    def _new(self) -> ExecutionEnvironment:
        fn, number = self.fn, next(self._numbers)
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{number:08d}{os.urandom(12).hex()}"
        environ = dict(_process_environ())
        environ.update({str(k): str(v) for k, v in fn.environment_vars.items()})
        environ.update(
            {
                "LAMBDA_TASK_ROOT": str(self.code_dir),
                "LAMBDA_RUNTIME_DIR": str(self.code_dir),
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": fn.region,
                "AWS_DEFAULT_REGION": fn.region,
                "_HANDLER": fn.handler,
                # No X-Ray daemon locally: tracing on would patch this process's shared botocore for everyone.
                "POWERTOOLS_TRACE_DISABLED": "true",
                "AWS_XRAY_SDK_ENABLED": "false",
            }
        )
        return ExecutionEnvironment(fn.function_name, number, self.roots, environ, stream)


_pools: dict[tuple[str, str], EnvironmentPool] = {}
_pools_lock = threading.Lock()


def pool_for(fn: Any, code_dir: Path) -> EnvironmentPool:
    """The function's pool (one per function, code version and configuration: as on AWS, new code or new
    environment variables mean new environments)."""
    key = (fn.function_arn, str(code_dir), json.dumps(fn.environment_vars, sort_keys=True, default=str))
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            roots = frozenset(PROCESS_PACKAGES | _top_level_names(code_dir))
            _private_roots.update(roots)
            limit = int(fn.reserved_concurrency or 0) or DEFAULT_CONCURRENCY
            pool = _pools[key] = EnvironmentPool(fn, code_dir, roots, limit)
        return pool


def _top_level_names(code_dir: Path) -> set[str]:
    """The importable top-level names a code package holds (its own code, which each environment imports)."""
    names = set()
    for entry in code_dir.iterdir():
        if entry.is_dir() and (entry / "__init__.py").is_file():
            names.add(entry.name)
        elif entry.suffix == ".py":
            names.add(entry.stem)
    return names


def _process_environ() -> MutableMapping[str, str]:
    environ = os.environ
    return environ.process if isinstance(environ, EnvironmentVariables) else environ


def give_each_environment_its_own_state() -> None:
    """Gap: moto's Docker runner gives each invocation a container; running in-process shares one set of modules
    and one os.environ among every function and every concurrent invocation. Install per-environment state."""
    _patch(os, "environ", EnvironmentVariables(os.environ))
    _patch(builtins, "__import__", _import)

    def forget() -> None:
        with _pools_lock:
            _pools.clear()
        _private_roots.clear()
        _private_roots.update(PROCESS_PACKAGES)

    _installed.cleanups.append(forget)
