"""Where a Lambda reads its environment from.

On AWS this is simply ``os.environ``. The local cloud runs several functions in one process, each
with its own environment from the synthesized template, so it sets a per-invocation override in a
context variable instead of mutating the process-wide ``os.environ`` (which concurrent Map
iterations would race on).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

_ENV_OVERRIDE: ContextVar[Mapping[str, str] | None] = ContextVar("lambda_env_override", default=None)


def environ() -> Mapping[str, str]:
    """The environment of the function being invoked."""
    override = _ENV_OVERRIDE.get()
    return override if override is not None else os.environ


@contextmanager
def lambda_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Run the body as if ``env`` were the function's environment (used by the local cloud)."""
    token = _ENV_OVERRIDE.set(dict(env))
    try:
        yield
    finally:
        _ENV_OVERRIDE.reset(token)


def task_root() -> Path:
    """The directory the function's code was unpacked into (LAMBDA_TASK_ROOT on AWS)."""
    return Path(environ().get("LAMBDA_TASK_ROOT", Path(__file__).resolve().parents[3]))
