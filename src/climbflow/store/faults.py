"""Test-only fault injection: crash the process at a named point, deterministically.

``CLIMB_TEST_KILL_AT=<point>[@<n>]`` makes the process SIGKILL itself the ``n``-th time (default: first) it
reaches :func:`fault_point` ``(<point>)``. Inert unless that variable is set (one dict lookup per call).
Points: ``standardize.sample`` (before each record of a range), ``train.step`` (after each training step,
before that step's checkpoint), ``dvc.push`` (after ``dvc add``, before the push), ``registry.register``
(model version created, alias and tags not yet set), ``s3.put`` (between the files of an S3 publish).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

KILL_ENV = "CLIMB_TEST_KILL_AT"
_hits: Counter[str] = Counter()


def fault_point(name: str) -> None:
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return
    point, _, nth = spec.partition("@")
    if point != name:
        return
    _hits[name] += 1
    if _hits[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
