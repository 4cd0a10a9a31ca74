"""Channel-aware CNN encoder for multichannel EEG windows, input ``(B, channels, T)`` float µV.

1. Temporal filters shared by all channels (a ``(1, k)`` 2D convolution over ``(B, 1, channels, T)``): each
   electrode is filtered by the same learned filter bank (EEGNet-style), so every feature stays tied to its
   electrode.
2. Spatial mixing: a ``(channels, 1)`` convolution combines the electrodes' filtered signals into ``width``
   maps (learned montages), then ``depth`` stride-2 residual temporal blocks.
3. The time steps of the last stage are the tokens (``forward_tokens``); ``forward`` mean-pools them.

The input is scaled by a fixed ``1 / INPUT_SCALE_UV`` (no per-sample normalization: amplitude is diagnostic).
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SCALE_UV = 50.0


class TemporalBlock(nn.Module):
    """Two conv-BN layers over time with a residual connection (projected when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int = 7) -> None:
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
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act(out + self.shortcut(x))


class EEGEncoder(nn.Module):
    """Shared per-channel temporal filters -> spatial mixing -> residual temporal stages -> time tokens.

    ``filters = max(4, width // 2)`` temporal filters (kernel 25, stride 2, i.e. 125 ms at 200 Hz); stage ``i``
    has ``min(width * 2**i, 8 * width)`` channels; ``out_dim`` is the last stage's width.
    """

    def __init__(self, channels: int, width: int = 32, depth: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.channels = channels
        filters = max(4, width // 2)
        self.temporal = nn.Sequential(
            nn.Conv2d(1, filters, (1, 25), stride=(1, 2), padding=(0, 12), bias=False),
            nn.BatchNorm2d(filters),
            nn.GELU(),
        )
        self.spatial = nn.Sequential(
            nn.Conv2d(filters, width, (channels, 1), bias=False),
            nn.BatchNorm2d(width),
            nn.GELU(),
            nn.MaxPool2d((1, 2)),
        )
        stages, c_in = [], width
        for i in range(depth):
            c_out = min(width * 2**i, 8 * width)
            stages.append(TemporalBlock(c_in, c_out, stride=2))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(dropout)
        self.out_dim = c_in

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, channels, T) -> (B, N, out_dim): one token per time step of the last stage."""
        if x.ndim != 3 or x.shape[1] != self.channels:
            raise ValueError(f"expected (B, {self.channels}, T) EEG, got {tuple(x.shape)}")
        h = self.temporal(x.float().unsqueeze(1) / INPUT_SCALE_UV)  # (B, F, C, T/2)
        h = self.spatial(h).squeeze(2)  # (B, width, T/4)
        return self.stages(h).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.forward_tokens(x).mean(dim=1))  # mean: deterministic backward on CUDA


def build(cfg, sample_shape: tuple[int, ...]) -> EEGEncoder:
    """Encoder for ``(channels, samples)`` EEG windows."""
    return EEGEncoder(sample_shape[0], width=cfg.width, depth=cfg.depth, dropout=cfg.dropout)
