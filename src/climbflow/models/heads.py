"""Classification heads over a label vocabulary."""

from __future__ import annotations

import torch
from torch import nn


class MultiTaskHead(nn.Module):
    """A linear layer from pooled features to one logit per vocabulary class."""

    def __init__(self, in_dim: int, n_classes: int) -> None:
        super().__init__()
        self.in_dim, self.n_classes = int(in_dim), int(n_classes)
        self.linear = nn.Linear(self.in_dim, self.n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features)
