"""Where and how training runs: accelerator, precision, CPU threads and the scope around a Trainer.

Shared by every trainer (:mod:`climbflow.train.fit`, :mod:`climbflow.train.fusion`).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch

logger = logging.getLogger(__name__)

MAX_CPU_THREADS = 8
THREADS_ENV = "CLIMBFLOW_NUM_THREADS"  # small models on shared CPUs train faster on 1 thread


def device_kind() -> str:
    """Lightning's accelerator name for this machine: ``gpu`` when CUDA is available, else ``cpu``."""
    return "gpu" if torch.cuda.is_available() else "cpu"


def resolve_precision(precision: str) -> str:
    """``auto`` -> bf16-mixed on CUDA, 32-true on CPU; bf16-mixed asked for on CPU also stays fp32."""
    if not torch.cuda.is_available():
        if precision == "bf16-mixed":
            logger.warning("precision bf16-mixed needs CUDA; training in fp32 on CPU")
        return "32-true"
    return "bf16-mixed" if precision == "auto" else precision


def set_threads() -> None:
    """Intra-op threads: ``$CLIMBFLOW_NUM_THREADS`` if set, else the CPUs this process may use (at most 8)."""
    if os.environ.get(THREADS_ENV):
        torch.set_num_threads(max(1, int(os.environ[THREADS_ENV])))
        return
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    torch.set_num_threads(max(1, min(n, MAX_CPU_THREADS)))


@contextmanager
def training_scope() -> Iterator[None]:
    """Restore torch's global determinism flag after the Trainer sets it; quiet known Lightning hints."""
    was = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", message=".*Total length of .* across ranks is zero.*")
        warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode at the start of training.*")
        warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
        warnings.filterwarnings("ignore", message=".*sync_dist=True.*")
        warnings.filterwarnings("ignore", message=".*max_epochs.*not set.*")
        warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
        warnings.filterwarnings("ignore", message=".*ended before the epoch ended.*")
        warnings.filterwarnings("ignore", message=".*overridden `on_after_batch_transfer`.*")
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was, warn_only=warn_only)
