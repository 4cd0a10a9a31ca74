"""EHR encoder: group tokens, pooled features, learns a feature-defined label."""

from __future__ import annotations

import pytest
import torch

from climbflow.config import EncoderConfig
from climbflow.modalities.ehr import FEATURE_GROUPS, FEATURES
from climbflow.models import build_encoder


@pytest.fixture(autouse=True)
def _one_thread():
    """Small models on shared CPUs run far faster on one intra-op thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_shapes_and_tokens():
    enc = build_encoder("ehr", EncoderConfig(width=16, depth=2, dropout=0.0), (len(FEATURES),))
    x = torch.randn(5, len(FEATURES))
    assert enc(x).shape == (5, 16) and enc.out_dim == 16
    assert enc.forward_tokens(x).shape == (5, len(FEATURE_GROUPS), 16)
    other = build_encoder("ehr", EncoderConfig(width=8, depth=1), (13,))
    assert other.forward_tokens(torch.randn(2, 13)).shape == (2, 3, 8)


def test_each_group_feeds_its_own_token():
    enc = build_encoder("ehr", EncoderConfig(width=8, depth=1, dropout=0.0), (len(FEATURES),)).eval()
    x = torch.zeros(1, len(FEATURES))
    base = torch.einsum("bgl,glw->bgw", (x[:, enc.index] * enc.mask), enc.weight)
    x2 = x.clone()
    x2[0, FEATURE_GROUPS[3][0]] = 1.0
    moved = torch.einsum("bgl,glw->bgw", (x2[:, enc.index] * enc.mask), enc.weight) - base
    assert moved[0, 3].abs().sum() > 0 and moved[0, [0, 1, 2, 4]].abs().sum() == 0


def test_learns_a_simple_rule():
    torch.manual_seed(0)
    enc = build_encoder("ehr", EncoderConfig(width=16, depth=1, dropout=0.0), (len(FEATURES),))
    head = torch.nn.Linear(enc.out_dim, 1)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=3e-3)
    x = torch.randn(128, len(FEATURES))
    y = (x[:, FEATURES.index("lactate_last")] > 0).float()
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(enc(x)).squeeze(1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
