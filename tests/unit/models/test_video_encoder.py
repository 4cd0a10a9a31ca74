"""Video encoder: shapes, per-frame tokens, padding mask (padding frames change nothing), temporal mixing."""

from __future__ import annotations

import pytest
import torch

from climbflow.config import EncoderConfig
from climbflow.models import build_encoder
from climbflow.models.video import VideoEncoder

SHAPE = (8, 1, 32, 32)


def _encoder(**kw) -> VideoEncoder:
    torch.manual_seed(0)
    enc = build_encoder("video", EncoderConfig(width=8, depth=2, dropout=0.0, **kw), SHAPE).eval()
    torch.nn.init.normal_(enc.temporal.weight, std=0.2)  # trained-like temporal mixing (it starts at zero)
    return enc


def _clips(b: int = 2, t: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (b, t, 1, 32, 32), generator=g, dtype=torch.uint8)


def test_shapes_tokens_and_width_cap():
    enc = _encoder()
    x = _clips()
    assert enc(x).shape == (2, enc.out_dim) and enc.out_dim == 16
    assert enc.forward_tokens(x).shape == (2, 8, enc.out_dim)
    torch.testing.assert_close(enc(x.float()), enc(x))  # same pixel values, either dtype
    wide = build_encoder("video", EncoderConfig(width=4, depth=6), SHAPE)
    assert wide.out_dim == 32
    rgb = build_encoder("video", EncoderConfig(width=4, depth=2), (4, 3, 32, 32))
    assert rgb(torch.zeros(1, 4, 3, 32, 32)).shape == (1, rgb.out_dim)


def test_frame_mask_marks_all_zero_frames():
    x = _clips()
    x[0, 5:] = 0
    mask = VideoEncoder.frame_mask(x)
    assert mask.tolist() == [[True] * 5 + [False] * 3, [True] * 8]
    assert VideoEncoder.frame_mask(torch.zeros(1, 4, 1, 8, 8)).all()  # an all-black clip keeps its frames


def test_pooled_output_is_the_mean_of_real_frame_tokens():
    enc = _encoder()
    x = _clips(b=1)
    x[0, 6:] = 0
    tokens = enc.forward_tokens(x)
    assert tokens[0, 6:].abs().max() == 0  # padding tokens are zero
    torch.testing.assert_close(enc(x), tokens[:, :6].mean(dim=1))


def test_padding_frames_change_nothing():
    enc = _encoder()
    x = _clips(b=1)
    x[0, 5:] = 0
    base = enc(x)
    # whatever a masked frame contains, the output is the same
    noisy = x.clone()
    noisy[0, 5:] = _clips(b=1, seed=3)[0, 5:]
    mask = torch.tensor([[True] * 5 + [False] * 3])
    torch.testing.assert_close(enc(noisy, mask=mask), base)
    torch.testing.assert_close(enc.forward_tokens(noisy, mask=mask), enc.forward_tokens(x))
    # and the number of trailing padding frames does not matter either
    torch.testing.assert_close(enc(x[:, :5]), base)
    longer = torch.cat([x, torch.zeros_like(x)], dim=1)
    torch.testing.assert_close(enc(longer), base)
    # unmasked, the same noisy frames do change the output (the mask is what protects it)
    assert not torch.allclose(enc(noisy), base)


def test_padding_does_not_leak_across_the_batch_in_training_mode():
    enc = _encoder().train()
    x = _clips()
    x[1, 4:] = 0
    noisy = x.clone()
    noisy[1, 4:] = _clips(seed=5)[1, 4:]
    mask = VideoEncoder.frame_mask(x)
    torch.testing.assert_close(enc(noisy, mask=mask), enc(x))  # GroupNorm: no batch statistics


def test_temporal_mixing_sees_frame_order():
    enc = _encoder()
    x = _clips(b=1)
    shuffled = x[:, torch.tensor([3, 1, 7, 0, 5, 2, 6, 4])]
    assert not torch.allclose(enc(x), enc(shuffled), atol=1e-5)
    enc2 = build_encoder("video", EncoderConfig(width=8, depth=2, dropout=0.0), SHAPE).eval()
    torch.testing.assert_close(enc2(x), enc2(shuffled))  # at init the temporal conv is zero: order-free mean


def test_gradients_reach_the_temporal_convolution():
    enc = build_encoder("video", EncoderConfig(width=8, depth=2, dropout=0.0), SHAPE)
    enc(_clips()).sum().backward()
    assert enc.temporal.weight.grad is not None and enc.temporal.weight.grad.abs().sum() > 0


def test_bad_input_shapes():
    enc = _encoder()
    with pytest.raises(ValueError, match="B, T, C, S, S"):
        enc(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="frames, channels"):
        build_encoder("video", EncoderConfig(), (1, 32, 32))
