"""Modality encoders and classification heads.

Every encoder maps a batch of stored samples ``(B, *sample_shape)`` to pooled features ``(B, out_dim)``
(attribute ``out_dim``); encoders that have them also expose tokens via ``forward_tokens(x) -> (B, N, out_dim)``.
Encoders are built by modality from :class:`~climbflow.config.EncoderConfig`; modules load on first use.
"""

from __future__ import annotations

import importlib

from torch import nn

from climbflow.config import EncoderConfig
from climbflow.models.heads import MultiTaskHead

# modality -> "module:factory"; factory(cfg: EncoderConfig, sample_shape: tuple[int, ...]) -> nn.Module
ENCODERS: dict[str, str] = {
    "ecg": "climbflow.models.ecg:build",
    "eeg": "climbflow.models.eeg:build",
    "image2d": "climbflow.models.image2d:build",
    "video": "climbflow.models.video:build",
    "volume": "climbflow.models.volume:build",
    "ehr": "climbflow.models.ehr:build",
    "graph": "climbflow.models.graph:build",
}


def build_encoder(
    modality: str, cfg: EncoderConfig | dict, sample_shape: tuple[int, ...] | list[int] | int
) -> nn.Module:
    """The encoder of ``modality`` for samples of ``sample_shape`` (an int = channels, for old checkpoints)."""
    if modality not in ENCODERS:
        raise ValueError(f"unknown modality {modality!r}; allowed: {sorted(ENCODERS)}")
    if isinstance(cfg, dict):
        cfg = EncoderConfig.model_validate(cfg)
    if cfg.arch != "resnet" and modality != "image2d":
        raise ValueError(f"encoder arch {cfg.arch!r} is for image2d only; {modality!r} allows 'resnet'")
    shape = (int(sample_shape),) if isinstance(sample_shape, int) else tuple(int(d) for d in sample_shape)
    module, factory = ENCODERS[modality].split(":")
    return getattr(importlib.import_module(module), factory)(cfg, shape)


__all__ = ["ENCODERS", "MultiTaskHead", "build_encoder"]
