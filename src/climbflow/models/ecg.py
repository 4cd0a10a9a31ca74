"""1D ResNet encoder for 12-lead ECG, input ``(B, leads, T)`` float."""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock1d(nn.Module):
    """Two conv-BN layers with a residual connection (projected when the shape changes)."""

    def __init__(
        self, c_in: int, c_out: int, stride: int, kernel: int = 7, activation: type[nn.Module] = nn.ReLU
    ) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        nn.init.zeros_(self.bn2.weight)  # each block starts as identity
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out)
            )
        self.act = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act(out + self.shortcut(x))


class ResNet1d(nn.Module):
    """Stem (conv k=15 stride 2, max-pool), ``depth`` stride-2 residual stages, global average pool.

    Stage ``i`` has ``min(width * 2**i, 8 * width)`` channels; ``out_dim`` is the last stage's width.
    """

    def __init__(self, in_channels: int, width: int = 32, depth: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.stem = nn.Sequential(
            nn.Conv1d(in_channels, width, 15, stride=2, padding=7, bias=False),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool1d(3, stride=2, padding=1),
        )
        stages, c_in = [], width
        for i in range(depth):
            c_out = min(width * 2**i, 8 * width)
            stages.append(BasicBlock1d(c_in, c_out, stride=2))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(dropout)
        self.out_dim = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x.float()))
        return self.dropout(x.mean(dim=-1))  # mean, not AdaptiveAvgPool: deterministic backward on CUDA

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, L, out_dim)``: one token per time step of the last stage (L = samples / 2**(depth + 2))."""
        return self.stages(self.stem(x.float())).transpose(1, 2)


def build(cfg, sample_shape: tuple[int, ...]) -> ResNet1d:
    """Encoder for ``(leads, samples)`` ECGs."""
    return ResNet1d(sample_shape[0], width=cfg.width, depth=cfg.depth, dropout=cfg.dropout)
