"""Graph encoder: edges from the dense matrix (top |r| per node), GAT/GCN, pooled and node tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from climbflow.config import EncoderConfig
from climbflow.models import build_encoder
from climbflow.models.graph import GraphEncoder, dense_to_edges


@pytest.fixture(autouse=True)
def _one_thread():
    """Small models on shared CPUs run far faster on one intra-op thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batch(b: int, n: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    mats = []
    for _ in range(b):
        x = rng.normal(size=(40, n)) + rng.normal(size=(40, 1))
        z = np.arctanh(np.clip(np.corrcoef(x, rowvar=False), -0.99, 0.99))
        np.fill_diagonal(z, 0)
        mats.append(z)
    return torch.tensor(np.stack(mats), dtype=torch.float16)


def test_dense_to_edges_keeps_top_abs_r_per_node():
    z = torch.zeros(1, 4, 4)
    r = torch.tensor([[0, 0.9, -0.95, 0.1], [0.9, 0, 0.2, 0.3], [-0.95, 0.2, 0, 0.5], [0.1, 0.3, 0.5, 0]])
    z[0] = torch.atanh(r.clamp(-0.99, 0.99))
    z[0].fill_diagonal_(0)
    edges, weight = dense_to_edges(z, edge_fraction=0.34)  # k = 1 per node
    pairs = {(int(s), int(t)): float(w) for s, t, w in zip(edges[0], edges[1], weight, strict=True)}
    assert set(pairs) == {(2, 0), (0, 1), (0, 2), (2, 3)}
    assert pairs[(2, 0)] == pytest.approx(-0.95, abs=1e-4)
    edges, _ = dense_to_edges(torch.zeros(3, 5, 5), edge_fraction=0.5)  # k = 2, offsets per graph
    assert edges.shape == (2, 3 * 5 * 2) and int(edges.max()) == 14 and (edges[0] != edges[1]).all()


@pytest.mark.parametrize("kind", ["gat", "gcn"])
def test_forward_shapes_and_gradients(kind):
    enc = GraphEncoder(12, width=16, depth=2, dropout=0.0, kind=kind)
    x = _batch(3, 12)
    out = enc(x)
    assert out.shape == (3, 16) and torch.isfinite(out).all()
    assert enc.forward_tokens(x).shape == (3, 12, 16)
    out.sum().backward()
    assert all(p.grad is not None for p in enc.parameters() if p.requires_grad)
    with pytest.raises(ValueError):
        enc(torch.zeros(2, 11, 11))


def test_build_and_sample_independence():
    enc = build_encoder("graph", EncoderConfig(width=8, depth=1, dropout=0.0), (10, 10)).eval()
    x = _batch(2, 10, seed=1)
    both = enc(x)
    np.testing.assert_allclose(enc(x[:1]).detach(), both[:1].detach(), atol=1e-5)
    assert not torch.allclose(both[0], both[1])
