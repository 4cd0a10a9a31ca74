"""Video encoder: a small 2D CNN shared over frames, a masked temporal convolution, masked mean pooling.

Input ``(B, T, C, S, S)`` with pixel values 0..255 (uint8 or float), as stored by
:mod:`climbflow.modalities.video`. Padding frames are masked out everywhere after the frame CNN: their
tokens are zeroed before and after the temporal convolution and they are left out of the mean, so the
output does not depend on what a padding frame contains, nor on how many padding frames follow the clip.

The mask: by default a frame is padding when **all its pixels are zero** (what zero-padding a short clip to
``T`` frames produces); a clip whose frames are all zero keeps all of them. Standardized clips are
repeat-padded (see :mod:`climbflow.modalities.video`) and so normally have no padding frames; the mask
matters for zero-padded batches (e.g. clips of different lengths) and may be given explicitly.
The frame CNN uses GroupNorm, not BatchNorm, so that padding frames do not leak through batch statistics.
"""

from __future__ import annotations

import torch
from torch import nn


def _groups(channels: int) -> int:
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class FrameBlock(nn.Module):
    """Two 3x3 conv-GroupNorm layers with a residual connection (projected when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        nn.init.zeros_(self.norm2.weight)  # each block starts as identity
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.GroupNorm(_groups(c_out), c_out)
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class VideoEncoder(nn.Module):
    """Frame CNN (stem 5x5 stride 2 + ``depth`` stride-2 residual stages, global average pool) -> per-frame
    tokens -> residual temporal conv (kernel 3) -> masked mean over frames.

    Stage ``i`` has ``min(width * 2**i, 8 * width)`` channels; ``out_dim`` is the last stage's width.
    """

    def __init__(self, in_channels: int = 1, width: int = 32, depth: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 5, stride=2, padding=2, bias=False),
            nn.GroupNorm(_groups(width), width),
            nn.ReLU(inplace=True),
        )
        stages, c_in = [], width
        for i in range(depth):
            c_out = min(width * 2**i, 8 * width)
            stages.append(FrameBlock(c_in, c_out, stride=2))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.temporal = nn.Conv1d(c_in, c_in, 3, padding=1)
        nn.init.zeros_(self.temporal.weight)  # starts as pure per-frame features
        nn.init.zeros_(self.temporal.bias)
        self.dropout = nn.Dropout(dropout)
        self.out_dim = c_in

    @staticmethod
    def frame_mask(x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` bool, True for real frames: frames with a non-zero pixel (all True if none has one)."""
        real = x.flatten(2).ne(0).any(dim=2)
        return real | ~real.any(dim=1, keepdim=True)

    def forward_tokens(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, out_dim)`` per-frame tokens; tokens of padding frames are zero."""
        if x.ndim != 5:
            raise ValueError(f"expected (B, T, C, S, S) clips, got shape {tuple(x.shape)}")
        b, t = x.shape[:2]
        mask = self.frame_mask(x) if mask is None else mask.to(device=x.device, dtype=torch.bool)
        keep = mask.unsqueeze(-1).float()
        frames = x.flatten(0, 1).float() / 127.5 - 1.0
        tokens = self.stages(self.stem(frames)).mean(dim=(-2, -1)).view(b, t, -1) * keep
        mixed = self.temporal(tokens.transpose(1, 2)).transpose(1, 2)
        return (tokens + mixed) * keep

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = self.frame_mask(x) if mask is None else mask.to(device=x.device, dtype=torch.bool)
        tokens = self.forward_tokens(x, mask)
        weights = mask.float().unsqueeze(-1)
        pooled = (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        return self.dropout(pooled)


def build(cfg, sample_shape: tuple[int, ...]) -> VideoEncoder:
    """Encoder for ``(frames, channels, S, S)`` clips."""
    if len(sample_shape) != 4:
        raise ValueError(f"video sample_shape must be (frames, channels, S, S), got {sample_shape}")
    return VideoEncoder(sample_shape[1], width=cfg.width, depth=cfg.depth, dropout=cfg.dropout)
