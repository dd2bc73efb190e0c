"""Lambda output: what a function writes (Powertools' JSON log lines, EMF metric blobs, warnings) goes to its own file.

On AWS each function's stdout and stderr land in its own CloudWatch log group, never on the console of whoever
invoked it. Here every function runs in this process, so `sys.stdout` and `sys.stderr` are replaced by streams
that look up which function (if any) the current thread is running and write to
``<state_dir>/logs/functions/<function>.log`` (and, when echoing, to the console as well); output of anything else
passes through unchanged.
"""

from __future__ import annotations

import re
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TextIO

from .base import _installed

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FunctionLog:
    """One function's log file; writes from concurrent invocations never interleave within a write."""

    def __init__(self, path: Path, echo: TextIO | None) -> None:
        self.path, self._echo = path, echo
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8", buffering=1)

    def write(self, text: str) -> None:
        with self._lock:
            self._file.write(text)
            if self._echo is not None:
                self._echo.write(text)

    def close(self) -> None:
        with self._lock:
            self._file.close()


class _Routing:
    folder: Path | None = None
    echo: bool = False
    logs: dict[str, FunctionLog] = {}  # noqa: RUF012 - replaced on install, shared on purpose
    lock = threading.Lock()
    console: TextIO = sys.__stdout__  # type: ignore[assignment]


_routing = _Routing()
_current: ContextVar[FunctionLog | None] = ContextVar("local_function_log", default=None)


class RoutedStream:
    """Stands in for sys.stdout / sys.stderr: a running function's output goes to its log, the rest to ``original``."""

    def __init__(self, original: TextIO) -> None:
        self.original = original

    def write(self, text: str) -> int:
        target = _current.get()
        if target is None:
            return self.original.write(text)
        target.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _current.get() is None:
            self.original.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, ... of the real stream
        return getattr(self.original, name)


def function_log(function_name: str) -> FunctionLog | None:
    """The log of ``function_name`` (None until output routing is installed)."""
    folder = _routing.folder
    if folder is None:
        return None
    with _routing.lock:
        log = _routing.logs.get(function_name)
        if log is None:
            path = folder / f"{_UNSAFE.sub('_', function_name)}.log"
            log = _routing.logs[function_name] = FunctionLog(path, _routing.console if _routing.echo else None)
        return log


@contextmanager
def function_output(function_name: str) -> Iterator[None]:
    """Within the body, this thread's stdout and stderr are ``function_name``'s log."""
    token = _current.set(function_log(function_name))
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def routed_console() -> Iterator[None]:
    """Within the body sys.stdout and sys.stderr are routed streams, whatever replaced them since install (pytest's
    capture does). Handlers import under this, so a logging handler made at import time keeps a routed stream."""
    saved = sys.stdout, sys.stderr
    sys.stdout = saved[0] if isinstance(saved[0], RoutedStream) else RoutedStream(saved[0])
    sys.stderr = saved[1] if isinstance(saved[1], RoutedStream) else RoutedStream(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def in_function() -> bool:
    """Whether this thread is running a function (its output goes to that function's log)."""
    return _current.get() is not None


def logs_dir() -> Path | None:
    return _routing.folder


def route_function_output(folder: Path, echo: bool) -> None:
    """Gap: moto would run functions in containers with their own output. Give each function a log file here."""
    # The logs belong to one run of the cloud, like the outbox and the rest of moto's in-memory state.
    shutil.rmtree(folder, ignore_errors=True)
    _routing.folder, _routing.echo, _routing.logs = folder, echo, {}
    saved = sys.stdout, sys.stderr
    _routing.console = saved[0]
    sys.stdout, sys.stderr = RoutedStream(saved[0]), RoutedStream(saved[1])

    def restore() -> None:
        # Only if nobody replaced them since (pytest's capture may have).
        if isinstance(sys.stdout, RoutedStream):
            sys.stdout = saved[0]
        if isinstance(sys.stderr, RoutedStream):
            sys.stderr = saved[1]
        with _routing.lock:
            for log in _routing.logs.values():
                log.close()
            _routing.folder, _routing.logs = None, {}

    _installed.cleanups.append(restore)
