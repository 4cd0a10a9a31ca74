"""Per-modality standardization: raw decoded arrays -> fixed-shape tensors stored in the shards."""

from __future__ import annotations

from typing import Any

import numpy as np

from climbflow.config import StandardizeConfig

STORAGE_DTYPE = {"ecg": np.float16, "image2d": np.uint8}


def sample_shape(modality: str, cfg: StandardizeConfig) -> tuple[int, ...]:
    if modality == "ecg":
        return (len(cfg.ecg.leads), int(round(cfg.ecg.sampling_rate * cfg.ecg.seconds)))
    if modality == "image2d":
        return (1, cfg.image2d.size, cfg.image2d.size)
    raise ValueError(f"unknown modality {modality!r}; known: {sorted(STORAGE_DTYPE)}")


def standardize(modality: str, raw: np.ndarray, props: dict[str, Any], cfg: StandardizeConfig) -> np.ndarray:
    """One decoded record -> the modality's fixed shape and storage dtype (raises RecordError on bad input)."""
    if modality == "ecg":
        from climbflow.modalities.ecg import standardize_ecg

        out = standardize_ecg(
            raw,
            props["sampling_rate"],
            props["lead_names"],
            cfg.ecg.sampling_rate,
            cfg.ecg.seconds,
            cfg.ecg.leads,
        )
    elif modality == "image2d":
        from climbflow.modalities.image2d import standardize_image

        out = standardize_image(raw, cfg.image2d.size)
    else:
        raise ValueError(f"unknown modality {modality!r}; known: {sorted(STORAGE_DTYPE)}")
    return out.astype(STORAGE_DTYPE[modality])


def target_sampling_rate(modality: str, cfg: StandardizeConfig) -> float | None:
    return float(cfg.ecg.sampling_rate) if modality == "ecg" else None
