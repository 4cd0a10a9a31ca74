"""EHR encoder: a small transformer over feature-group tokens of the standardized feature vector.

Each group of :data:`climbflow.modalities.ehr.FEATURE_GROUPS` (the static features, then one group per lab or
vital: last/mean/min/max/missing) is embedded by its own linear map into one token, plus a learned group
embedding; ``depth`` transformer layers mix the tokens; the pooled feature is the mean token.
"""

from __future__ import annotations

import torch
from torch import nn

from climbflow.modalities.ehr import FEATURE_GROUPS, FEATURES


def feature_groups(n_features: int) -> tuple[tuple[int, ...], ...]:
    """The modality's groups when the vector is the standard one, else contiguous groups of 5."""
    if n_features == len(FEATURES):
        return FEATURE_GROUPS
    return tuple(tuple(range(i, min(i + 5, n_features))) for i in range(0, n_features, 5))


class EhrEncoder(nn.Module):
    """(B, F) float -> pooled (B, width); ``forward_tokens`` -> (B, groups, width)."""

    def __init__(self, n_features: int, width: int = 32, depth: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        groups = feature_groups(n_features)
        size = max(len(g) for g in groups)
        index = torch.zeros(len(groups), size, dtype=torch.long)
        mask = torch.zeros(len(groups), size)
        for k, g in enumerate(groups):
            index[k, : len(g)] = torch.tensor(g)
            mask[k, : len(g)] = 1.0
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("mask", mask, persistent=False)
        self.weight = nn.Parameter(torch.randn(len(groups), size, width) / size**0.5)
        self.bias = nn.Parameter(torch.zeros(len(groups), width))
        self.group_embedding = nn.Parameter(torch.randn(len(groups), width) * 0.02)
        heads = next(h for h in (4, 2, 1) if width % h == 0)
        layer = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=2 * width, dropout=dropout, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.n_features = n_features
        self.out_dim = width

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nan_to_num(x.float().reshape(x.shape[0], -1), nan=0.0)  # missing values: 0 (+ indicators)
        if x.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got {x.shape[1]}")
        grouped = x[:, self.index] * self.mask  # (B, G, L)
        tokens = torch.einsum("bgl,glw->bgw", grouped, self.weight) + self.bias + self.group_embedding
        return self.norm(self.blocks(tokens))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tokens(x).mean(dim=1)


def build(cfg, sample_shape: tuple[int, ...]) -> EhrEncoder:
    """Encoder for ``(features,)`` vectors."""
    return EhrEncoder(int(sample_shape[0]), width=cfg.width, depth=cfg.depth, dropout=cfg.dropout)
