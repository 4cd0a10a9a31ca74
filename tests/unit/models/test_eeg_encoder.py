"""EEG encoder: shapes, tokens, channel awareness, width cap, float16 input, learns a rhythm difference."""

from __future__ import annotations

import pytest
import torch

from climbflow.config import EncoderConfig
from climbflow.models import build_encoder
from climbflow.models.eeg import EEGEncoder


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions run fastest on one thread (and do not fight other processes for cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(("depth", "samples"), [(1, 400), (4, 2000)])
def test_shapes_and_tokens(depth: int, samples: int) -> None:
    enc = build_encoder(
        "eeg", EncoderConfig(width=8, depth=depth, dropout=0.0), sample_shape=(19, samples)
    ).eval()
    assert isinstance(enc, EEGEncoder)
    x = torch.randn(3, 19, samples) * 20
    tokens = enc.forward_tokens(x)
    expected_tokens = samples // 4
    for _ in range(depth):
        expected_tokens = (expected_tokens + 1) // 2
    assert tokens.shape == (3, expected_tokens, enc.out_dim)
    assert enc.out_dim == min(8 * 2 ** (depth - 1), 64)
    out = enc(x)
    assert out.shape == (3, enc.out_dim)
    torch.testing.assert_close(out, tokens.mean(dim=1))
    torch.testing.assert_close(enc(x.half()), enc(x.half().float()))  # stored float16 samples


def test_width_cap_and_channel_check() -> None:
    enc = build_encoder("eeg", EncoderConfig(width=4, depth=6), sample_shape=(19, 2000))
    assert enc.out_dim == 32
    with pytest.raises(ValueError, match="19"):
        enc(torch.randn(2, 12, 2000))


def test_channel_aware() -> None:
    """The same signal on a different electrode gives different features (spatial filters are per electrode)."""
    torch.manual_seed(0)
    enc = build_encoder("eeg", EncoderConfig(width=8, depth=2, dropout=0.0), sample_shape=(4, 400)).eval()
    x = torch.zeros(1, 4, 400)
    x[0, 0] = torch.randn(400) * 30
    y = x.roll(1, dims=1)  # moved to electrode 1
    assert not torch.allclose(enc(x), enc(y), atol=1e-4)


def test_learns_slow_vs_fast_rhythm() -> None:
    torch.manual_seed(0)
    t = torch.arange(200) / 200.0
    n = 16
    labels = torch.arange(n) % 2
    freq = torch.where(labels == 1, 2.5, 10.0)
    phase = torch.rand(n, 6, 1) * 6.28
    x = 20 * torch.sin(2 * torch.pi * freq[:, None, None] * t + phase) + 10 * torch.randn(n, 6, 200)
    enc = build_encoder("eeg", EncoderConfig(width=8, depth=2, dropout=0.0), sample_shape=(6, 200))
    head = torch.nn.Linear(enc.out_dim, 2)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=3e-3)
    for _ in range(25):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(enc(x)), labels)
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = (head(enc(x)).argmax(1) == labels).float().mean().item()
    assert accuracy > 0.9 and loss.item() < 0.3, (accuracy, loss.item())


def test_construction_is_seeded() -> None:
    states = []
    for _ in range(2):
        torch.manual_seed(5)
        states.append(build_encoder("eeg", EncoderConfig(width=4, depth=2), (19, 2000)).state_dict())
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k])
