"""Small 3D CNN for CT volumes, input ``(B, 1, D, S, S)`` with windowed values 0..255 (uint8 or float)."""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock3d(nn.Module):
    """Two 3x3x3 conv-BN layers with a residual connection (projected when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(c_out)
        self.conv2 = nn.Conv3d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(c_out)
        nn.init.zeros_(self.bn2.weight)  # each block starts as identity
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv3d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm3d(c_out)
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class VolumeEncoder(nn.Module):
    """Stem (3x3x3 conv, stride 1 along depth and 2 in-plane: slices are thicker than pixels), then ``depth``
    stride-2 residual stages; tokens are the last stage's voxels, the pooled feature their mean.

    Values 0..255 are scaled to [-1, 1]. Stage ``i`` has ``min(width * 2**i, 8 * width)`` channels.
    """

    def __init__(self, in_channels: int = 1, width: int = 32, depth: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.stem = nn.Sequential(
            nn.Conv3d(in_channels, width, 3, stride=(1, 2, 2), padding=1, bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
        )
        stages, c_in = [], width
        for i in range(depth):
            c_out = min(width * 2**i, 8 * width)
            stages.append(BasicBlock3d(c_in, c_out, stride=2))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(dropout)
        self.out_dim = c_in

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, out_dim)``: one token per voxel of the last stage's feature map."""
        if x.ndim != 5:
            raise ValueError(f"expected (B, C, D, S, S) volumes, got shape {tuple(x.shape)}")
        features = self.stages(self.stem(x.float() / 127.5 - 1.0))
        return features.flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.forward_tokens(x).mean(dim=1))


def build(cfg, sample_shape: tuple[int, ...]) -> VolumeEncoder:
    """Encoder for ``(channels, D, S, S)`` volumes."""
    if len(sample_shape) != 4:
        raise ValueError(f"volume sample_shape must be (channels, D, S, S), got {sample_shape}")
    return VolumeEncoder(sample_shape[0], width=cfg.width, depth=cfg.depth, dropout=cfg.dropout)
