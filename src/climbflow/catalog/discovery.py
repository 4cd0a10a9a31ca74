"""Find local copies of catalog datasets: the configured source, ``$CLIMB_DATA_ROOT/<name>``, ``./data/<name>``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from climbflow import catalog
from climbflow.config import Params

log = logging.getLogger(__name__)


def candidates(name: str, params: Params | None = None) -> list[Path]:
    """Folders that may hold a copy of ``name``, in order of preference (local folders only)."""
    out: list[Path] = []
    if params is not None and name in params.datasets and "://" not in params.datasets[name].source:
        out.append(Path(params.datasets[name].source))
    env = os.environ.get("CLIMB_DATA_ROOT")
    if env:
        out.append(Path(env) / name)
    out.append(Path("data") / name)
    return out


def local_copy(name: str, params: Params | None = None) -> str | None:
    """The first candidate folder the catalog entry recognises (``detect``), or None."""
    spec = catalog.get(name)()
    for folder in candidates(name, params):
        try:
            if folder.is_dir() and spec.detect(folder):
                return str(folder)
        except (OSError, ValueError) as exc:  # an unreadable copy is reported as not found, with the reason
            log.warning("%s: %s is not a usable copy: %s", name, folder, exc)
    return None
