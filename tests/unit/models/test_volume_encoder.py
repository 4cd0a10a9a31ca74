"""Volume encoder: shapes, tokens, width cap, value scaling, gradients, bad shapes."""

from __future__ import annotations

import pytest
import torch

from climbflow.config import EncoderConfig
from climbflow.models import build_encoder

SHAPE = (1, 16, 32, 32)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_shapes_and_tokens(depth: int):
    torch.manual_seed(0)
    enc = build_encoder("volume", EncoderConfig(width=4, depth=depth, dropout=0.0), SHAPE).eval()
    x = torch.randint(0, 256, (2, *SHAPE), dtype=torch.uint8)
    out = enc(x)
    assert out.shape == (2, enc.out_dim) and enc.out_dim == min(4 * 2 ** (depth - 1), 32)
    tokens = enc.forward_tokens(x)
    # stem halves H and W only, each stage halves all three axes
    d, s = 16 // 2**depth, 32 // 2 ** (depth + 1)
    assert tokens.shape == (2, max(d, 1) * s * s, enc.out_dim)
    torch.testing.assert_close(out, tokens.mean(dim=1))
    torch.testing.assert_close(enc(x.float()), out)  # uint8 or float of the same values


def test_width_is_capped_and_samples_are_independent_in_eval():
    enc = build_encoder("volume", EncoderConfig(width=4, depth=5), SHAPE).eval()
    assert enc.out_dim == 32
    x = torch.randint(0, 256, (3, *SHAPE), dtype=torch.uint8)
    torch.testing.assert_close(enc(x)[:1], enc(x[:1]))


def test_input_scaling_and_gradients():
    torch.manual_seed(0)
    enc = build_encoder("volume", EncoderConfig(width=4, depth=2, dropout=0.0), SHAPE)
    black, white = torch.zeros(1, *SHAPE), torch.full((1, *SHAPE), 255.0)
    enc.eval()
    assert not torch.allclose(enc(black), enc(white))
    enc.train()
    enc(torch.randint(0, 256, (2, *SHAPE)).float()).sum().backward()
    assert all(p.grad is not None for p in enc.parameters() if p.requires_grad)


def test_bad_shapes():
    enc = build_encoder("volume", EncoderConfig(width=4, depth=2), SHAPE)
    with pytest.raises(ValueError, match="B, C, D, S, S"):
        enc(torch.zeros(2, 16, 32, 32))
    with pytest.raises(ValueError, match="channels, D, S, S"):
        build_encoder("volume", EncoderConfig(), (16, 32, 32))
