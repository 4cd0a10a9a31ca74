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

from climbflow.models.ecg import BasicBlock1d

INPUT_SCALE_UV = 50.0


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
            stages.append(BasicBlock1d(c_in, c_out, stride=2, activation=nn.GELU))
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
