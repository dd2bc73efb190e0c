"""State shared by the adapters: what is installed, how to patch moto and undo it, where files go."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("local.adapters")


_MISSING = object()


@dataclass
class _Installed:
    state_dir: Path = Path(".local").resolve()
    users: int = 0
    originals: list[tuple[Any, str, Any]] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)


_installed = _Installed()
_install_lock = threading.Lock()


def _patch(owner: Any, name: str, replacement: Any) -> None:
    """Replace ``owner.name`` and remember the raw original (descriptor included) for `uninstall()`."""
    _installed.originals.append((owner, name, vars(owner).get(name, _MISSING)))
    setattr(owner, name, replacement)


def state_dir() -> Path:
    """Where adapters keep files (extracted Lambda code, the outbox)."""
    return _installed.state_dir
