"""ConvNeXt V2 image encoder at CLIMB's sizes, checked against the published model sizes."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from climbflow.config import EncoderConfig
from climbflow.models import build_encoder

# timm's convnextv2_{atto,base} (ImageNet-1k heads: 320x1000 / 1024x1000 linear) have 3.71 M / 88.72 M
# parameters; without that head, with 3 input channels: 3.71 - 0.321 and 88.72 - 1.025 (in millions)
PUBLISHED = {"atto": (3.71 - 0.321, 320), "base": (88.72 - 1.025, 1024)}


@pytest.mark.parametrize("size", sorted(PUBLISHED))
def test_parameter_count_and_width_match_the_published_models(size: str) -> None:
    enc = build_encoder("image2d", EncoderConfig(arch=f"convnextv2-{size}"), (3, 224, 224))
    millions = sum(p.numel() for p in enc.parameters()) / 1e6
    expected, width = PUBLISHED[size]
    assert millions == pytest.approx(expected, rel=0.005)
    assert enc.out_dim == width


def test_features_and_tokens_at_stride_32() -> None:
    enc = build_encoder("image2d", EncoderConfig(arch="convnextv2-atto"), (1, 64, 64)).eval()
    x = torch.randint(0, 256, (2, 1, 64, 64)).float()
    assert enc(x).shape == (2, 320)
    assert enc.forward_tokens(x).shape == (2, 4, 320)  # (64 / 32)^2 positions


def test_trains_one_step() -> None:
    enc = build_encoder("image2d", EncoderConfig(arch="convnextv2-atto"), (1, 32, 32))
    before = [p.detach().clone() for p in enc.parameters()]
    opt = torch.optim.SGD(enc.parameters(), lr=0.1)
    enc(torch.randint(0, 256, (2, 1, 32, 32)).float()).square().mean().backward()
    opt.step()
    assert sum(not torch.equal(a, b) for a, b in zip(before, enc.parameters(), strict=True)) > 0


def test_arch_is_validated() -> None:
    with pytest.raises(ValidationError, match="arch"):
        EncoderConfig(arch="convnextv2-huge")
    with pytest.raises(ValueError, match="image2d only"):
        build_encoder("ecg", EncoderConfig(arch="convnextv2-atto"), (12, 500))
