"""2D ResNet encoder for single-channel images, input ``(B, 1, S, S)`` with pixel values 0..255."""

from __future__ import annotations

import torch
from torch import nn

CXR_MEAN = 0.4721  # CLIMB's chest X-ray normalization (climb.md §2)
CXR_STD = 0.3025


class BasicBlock2d(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection (projected when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        nn.init.zeros_(self.bn2.weight)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet2d(nn.Module):
    """Small 2D ResNet: stem (7x7 stride 2, max-pool), ``depth`` stride-2 stages, global average pool.

    Input pixels are in 0..255 (uint8 or float of the same values, as stored); they are scaled to
    [0, 1] and normalized with the CXR mean/std. Stage ``i`` has ``min(width * 2**i, 8 * width)`` channels.
    """

    def __init__(self, in_channels: int = 1, width: int = 32, depth: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages, c_in = [], width
        for i in range(depth):
            c_out = min(width * 2**i, 8 * width)
            stages.append(BasicBlock2d(c_in, c_out, stride=2))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(dropout)
        self.out_dim = c_in

    @staticmethod
    def normalize(x: torch.Tensor) -> torch.Tensor:
        """0..255 pixels -> [0, 1] -> (x - mean) / std."""
        return (x.float() / 255.0 - CXR_MEAN) / CXR_STD

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(self.normalize(x)))
        return self.dropout(x.mean(dim=(-2, -1)))

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H' * W', out_dim)``: one token per position of the last stage's feature map."""
        return self.stages(self.stem(self.normalize(x))).flatten(2).transpose(1, 2)


def build(cfg, sample_shape: tuple[int, ...]) -> ResNet2d:
    """Encoder for ``(channels, H, W)`` images."""
    return ResNet2d(sample_shape[0], width=cfg.width, depth=cfg.depth, dropout=cfg.dropout)
