"""Exact resume: RNG states in the checkpoint, restored at the first batch after a restart.

Together with the step-keyed sampler (:mod:`climbflow.train.sampling`), the loaders' own generators and
Lightning's model / optimizer / scheduler / loop state, a run killed mid-epoch and resumed from
``last.ckpt`` ends with the same weights, bit for bit, as an uninterrupted run. The checkpoint also holds a
fingerprint of the run (config, data, seed): resuming a different run's checkpoint is an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from climbflow.store.faults import fault_point

log = logging.getLogger(__name__)
LAST = "last.ckpt"
STATE_KEY = "climbflow_resume"


def rng_state() -> dict[str, Any]:
    """torch (CPU and every CUDA device), numpy and python RNG states as tensors and plain types."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "key": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py_state[0], "state": list(py_state[1]), "gauss": py_state[2]},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def run_fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-serialisable run inputs."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ExactResume(pl.Callback):
    """Saves RNG states and the run fingerprint in every checkpoint; restores the RNG states right before
    the first batch after a restart (where the interrupted run saved them)."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self._pending: dict[str, Any] | None = None

    @property
    def state_key(self) -> str:
        return STATE_KEY

    def state_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "rng": rng_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"checkpoint belongs to another run (fingerprint {state_dict.get('fingerprint')} != "
                f"{self.fingerprint}): delete it or use another output directory"
            )
        self._pending = state_dict["rng"]

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, i: int
    ) -> None:
        if self._pending is not None:
            set_rng_state(self._pending)
            self._pending = None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        fault_point("train.step")  # test-only crash hook (before this step's checkpoint), inert by default


def resumable_checkpoint(ckpt_dir: Path, fingerprint: str) -> Path | None:
    """``ckpt_dir/last.ckpt`` if it exists; raises ValueError when it belongs to another run."""
    path = Path(ckpt_dir) / LAST
    if not path.exists():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - a checkpoint cut short by a crash: start over, cleanly
        log.warning("%s is unreadable (%s: %s); training restarts from step 0", path, type(exc).__name__, exc)
        path.unlink(missing_ok=True)
        return None
    found = blob.get("callbacks", {}).get(STATE_KEY, {}).get("fingerprint")
    if found != fingerprint:
        raise ValueError(
            f"{path}: checkpoint belongs to another run (fingerprint {found} != {fingerprint}); "
            "delete it or use another output directory"
        )
    return path
