"""Modality encoders (pooled features, attribute ``out_dim``) and classification heads."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from climbflow.config import EncoderConfig
from climbflow.models.ecg import ResNet1d
from climbflow.models.heads import MultiTaskHead
from climbflow.models.image2d import ResNet2d

ENCODERS: dict[str, Callable[[EncoderConfig, int], nn.Module]] = {
    "ecg": lambda cfg, c: ResNet1d(c, width=cfg.width, depth=cfg.depth, dropout=cfg.dropout),
    "image2d": lambda cfg, c: ResNet2d(c, width=cfg.width, depth=cfg.depth, dropout=cfg.dropout),
}


def build_encoder(modality: str, cfg: EncoderConfig | dict, in_channels: int) -> nn.Module:
    """The encoder of ``modality``: ``forward(x) -> (B, out_dim)`` pooled features."""
    if modality not in ENCODERS:
        raise ValueError(f"unknown modality {modality!r}; allowed: {sorted(ENCODERS)}")
    if isinstance(cfg, dict):
        cfg = EncoderConfig.model_validate(cfg)
    return ENCODERS[modality](cfg, int(in_channels))


__all__ = ["ENCODERS", "MultiTaskHead", "ResNet1d", "ResNet2d", "build_encoder"]
