"""Per-modality standardization: raw decoded arrays -> fixed-shape arrays stored in the shards.

Each modality is a module here that defines

- ``DTYPE``: the storage dtype of its samples,
- ``sample_shape(cfg) -> tuple[int, ...]``: the fixed shape of one stored sample,
- ``standardize(raw, props, cfg) -> np.ndarray``: one decoded record -> that shape (``RecordError`` on bad input),
- ``output_rate(cfg) -> float | None``: the sampling rate of stored samples (Hz, or fps), if any,

where ``cfg`` is the modality's section of ``params.standardize`` (e.g. ``standardize.ecg``) and ``props`` is
what the dataset's ``decode`` returned next to the raw array.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

from climbflow.config import StandardizeConfig

MODULES: dict[str, str] = {
    "ecg": "climbflow.modalities.ecg",
    "eeg": "climbflow.modalities.eeg",
    "image2d": "climbflow.modalities.image2d",
    "video": "climbflow.modalities.video",
    "volume": "climbflow.modalities.volume",
    "ehr": "climbflow.modalities.ehr",
    "graph": "climbflow.modalities.graph",
}


def module(modality: str) -> ModuleType:
    if modality not in MODULES:
        raise ValueError(f"unknown modality {modality!r}; known: {sorted(MODULES)}")
    return importlib.import_module(MODULES[modality])


def _section(modality: str, cfg: StandardizeConfig) -> Any:
    return getattr(cfg, modality)


def storage_dtype(modality: str) -> np.dtype:
    return np.dtype(module(modality).DTYPE)


def sample_shape(modality: str, cfg: StandardizeConfig) -> tuple[int, ...]:
    return tuple(int(d) for d in module(modality).sample_shape(_section(modality, cfg)))


def standardize(modality: str, raw: Any, props: dict[str, Any], cfg: StandardizeConfig) -> np.ndarray:
    """One decoded record -> the modality's fixed shape and storage dtype (raises RecordError on bad input)."""
    mod = module(modality)
    out = np.asarray(mod.standardize(raw, props, _section(modality, cfg)))
    expected = sample_shape(modality, cfg)
    if out.shape != expected:
        raise AssertionError(f"{modality} standardize returned shape {out.shape}, expected {expected}")
    return out.astype(mod.DTYPE, copy=False)


def target_sampling_rate(modality: str, cfg: StandardizeConfig) -> float | None:
    rate = module(modality).output_rate(_section(modality, cfg))
    return None if rate is None else float(rate)
