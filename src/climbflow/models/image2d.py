"""2D image encoders (small ResNet; ConvNeXt V2 at CLIMB's sizes), input ``(B, C, S, S)``, pixels 0..255."""

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


def build(cfg, sample_shape: tuple[int, ...]) -> nn.Module:
    """Encoder for ``(channels, H, W)`` images: ``cfg.arch`` "resnet" (``width`` / ``depth``) or
    "convnextv2-<size>" (fixed sizes, see :data:`CONVNEXTV2`)."""
    if cfg.arch.startswith("convnextv2-"):
        return ConvNeXtV2(sample_shape[0], size=cfg.arch.removeprefix("convnextv2-"), dropout=cfg.dropout)
    return ResNet2d(sample_shape[0], width=cfg.width, depth=cfg.depth, dropout=cfg.dropout)


# --- ConvNeXt V2 (Woo et al. 2023), CLIMB's best image encoder at the "base" size ---
CONVNEXTV2 = {  # name -> (stage widths, blocks per stage), as in the paper's model zoo
    "atto": ((40, 80, 160, 320), (2, 2, 6, 2)),
    "tiny": ((96, 192, 384, 768), (3, 3, 9, 3)),
    "base": ((128, 256, 512, 1024), (3, 3, 27, 3)),
}


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a ``(B, C, H, W)`` map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class GRN(nn.Module):
    """Global response normalization over ``(B, H, W, C)``: ``gamma * (x * n) + beta + x``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    """7x7 depthwise conv -> LayerNorm -> 4x MLP with GELU and GRN, residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtV2(nn.Module):
    """ConvNeXt V2 encoder for 0..255 images: 4x4 patch stem, four stages with 2x2 downsampling between them,
    global average pool and LayerNorm. ``size`` is a key of :data:`CONVNEXTV2`."""

    def __init__(self, in_channels: int = 1, size: str = "base", dropout: float = 0.0) -> None:
        super().__init__()
        if size not in CONVNEXTV2:
            raise ValueError(f"unknown ConvNeXt V2 size {size!r}; allowed: {sorted(CONVNEXTV2)}")
        dims, depths = CONVNEXTV2[size]
        self.in_channels = in_channels
        stem = [nn.Conv2d(in_channels, dims[0], 4, stride=4), LayerNorm2d(dims[0], eps=1e-6)]
        layers: list[nn.Module] = list(stem)
        for i, (dim, depth) in enumerate(zip(dims, depths, strict=True)):
            if i:
                layers += [LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, stride=2)]
            layers += [ConvNeXtV2Block(dim) for _ in range(depth)]
        self.features = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.dropout = nn.Dropout(dropout)
        self.out_dim = dims[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(ResNet2d.normalize(x))
        return self.dropout(self.norm(x.mean(dim=(-2, -1))))

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H' * W', out_dim)``: one token per position of the last stage (H' = H / 32)."""
        return self.features(ResNet2d.normalize(x)).flatten(2).transpose(1, 2)
