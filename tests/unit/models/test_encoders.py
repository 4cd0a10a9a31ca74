"""Encoders: output shapes, width cap, image scaling, determinism of construction."""

from __future__ import annotations

import pytest
import torch

from climbflow.config import EncoderConfig
from climbflow.models import MultiTaskHead, build_encoder
from climbflow.models.image2d import CXR_MEAN, CXR_STD, ResNet2d


@pytest.mark.parametrize("depth", [1, 3, 5])
def test_ecg_encoder_shape(depth: int) -> None:
    enc = build_encoder("ecg", EncoderConfig(width=4, depth=depth, dropout=0.0), sample_shape=(12, 5000))
    out = enc(torch.randn(3, 12, 500))
    assert out.shape == (3, enc.out_dim)
    assert enc.out_dim == min(4 * 2 ** (depth - 1), 8 * 4)


def test_width_is_capped_at_8x() -> None:
    enc = build_encoder("ecg", EncoderConfig(width=4, depth=6), sample_shape=(12, 5000))
    assert enc.out_dim == 32
    widths = [m.out_channels for m in enc.modules() if isinstance(m, torch.nn.Conv1d)]
    assert max(widths) == 32


@pytest.mark.parametrize("size", [32, 64])
def test_image_encoder_shape_uint8_and_float(size: int) -> None:
    enc = build_encoder("image2d", EncoderConfig(width=4, depth=3), sample_shape=(1, 64, 64)).eval()
    x = torch.randint(0, 256, (2, 1, size, size), dtype=torch.uint8)
    out = enc(x)
    assert out.shape == (2, enc.out_dim)
    torch.testing.assert_close(enc(x.float()), out)  # same pixel values, either dtype


def test_image_normalization() -> None:
    x = torch.tensor([0, 255], dtype=torch.uint8)
    torch.testing.assert_close(
        ResNet2d.normalize(x), torch.tensor([-CXR_MEAN / CXR_STD, (1 - CXR_MEAN) / CXR_STD])
    )


def test_head_and_dict_config() -> None:
    enc = build_encoder("ecg", {"width": 8, "depth": 2, "dropout": 0.1}, sample_shape=(12, 5000))
    head = MultiTaskHead(enc.out_dim, 7)
    assert head(enc(torch.randn(2, 12, 200))).shape == (2, 7)


def test_unknown_modality() -> None:
    with pytest.raises(ValueError, match="allowed"):
        build_encoder("mri", EncoderConfig(), sample_shape=(2,))


def test_construction_is_seeded() -> None:
    states = []
    for _ in range(2):
        torch.manual_seed(3)
        states.append(build_encoder("image2d", EncoderConfig(width=4, depth=2), (1, 32, 32)).state_dict())
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k])


@pytest.mark.parametrize(("modality", "shape"), [("ecg", (12, 1000)), ("image2d", (3, 64, 64))])
def test_tokens_pool_to_the_features(modality: str, shape: tuple[int, ...]) -> None:
    enc = build_encoder(modality, EncoderConfig(width=4, depth=2, dropout=0.0), sample_shape=shape).eval()
    x = torch.rand(2, *shape) * (255 if modality == "image2d" else 1)
    tokens = enc.forward_tokens(x)
    assert (
        tokens.ndim == 3 and tokens.shape[0] == 2 and tokens.shape[2] == enc.out_dim and tokens.shape[1] > 1
    )
    torch.testing.assert_close(tokens.mean(dim=1), enc(x))
