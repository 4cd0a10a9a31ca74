"""Graph encoder for connectivity matrices: GAT (or GCN) layers of torch_geometric over a graph built per sample.

The input is the stored ``(N, N)`` Fisher-z matrix (:mod:`climbflow.modalities.graph`): row ``i`` is node
``i``'s feature vector. At forward time each node keeps its ``edge_fraction`` strongest ``|r|`` neighbours
(``r = tanh(z)``, self excluded) as incoming edges with the edge weight ``r`` (GAT: a 1-d edge attribute as in
CLIMB's brain GATs; GCN: ``|r|``, which its normalization needs non-negative). ``depth`` residual message
passing layers, mean pooling over nodes; ``forward_tokens`` returns the node embeddings.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

EDGE_FRACTION = 0.1


def dense_to_edges(x: torch.Tensor, edge_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N, N) Fisher-z batch -> (edge_index (2, E) over B*N nodes, edge weight r (E,)).

    Node ``i`` receives edges from its ``max(1, round(edge_fraction * (N - 1)))`` highest-|r| other nodes.
    """
    b, n, _ = x.shape
    k = max(1, min(n - 1, round(edge_fraction * (n - 1))))
    r = torch.tanh(x.float())
    strength = r.abs().masked_fill(torch.eye(n, dtype=torch.bool, device=x.device), -1.0)
    neighbours = strength.topk(k, dim=2).indices  # (B, N, k): sources for each target node
    weight = torch.gather(r, 2, neighbours)
    offset = (torch.arange(b, device=x.device) * n).view(b, 1, 1)
    targets = torch.arange(n, device=x.device).view(1, n, 1).expand(b, n, k)
    edge_index = torch.stack([(neighbours + offset).reshape(-1), (targets + offset).reshape(-1)])
    return edge_index, weight.reshape(-1)


class GraphEncoder(nn.Module):
    """(B, N, N) -> pooled (B, width); ``forward_tokens`` -> node embeddings (B, N, width)."""

    def __init__(
        self,
        nodes: int,
        width: int = 32,
        depth: int = 2,
        dropout: float = 0.1,
        kind: Literal["gat", "gcn"] = "gat",
        edge_fraction: float = EDGE_FRACTION,
    ) -> None:
        super().__init__()
        from torch_geometric.nn import GATConv, GCNConv

        if kind not in ("gat", "gcn"):
            raise ValueError(f"kind must be 'gat' or 'gcn', got {kind!r}")
        self.nodes, self.kind, self.edge_fraction = nodes, kind, edge_fraction
        self.embed = nn.Sequential(nn.Linear(nodes, width), nn.LayerNorm(width), nn.GELU())
        heads = next(h for h in (4, 2, 1) if width % h == 0)
        self.convs = nn.ModuleList(
            GATConv(width, width // heads, heads=heads, edge_dim=1, dropout=dropout)
            if kind == "gat"
            else GCNConv(width, width)
            for _ in range(depth)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth))
        self.dropout = nn.Dropout(dropout)
        self.act = nn.GELU()
        self.out_dim = width

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != self.nodes or x.shape[2] != self.nodes:
            raise ValueError(f"expected (B, {self.nodes}, {self.nodes}), got {tuple(x.shape)}")
        x = torch.nan_to_num(x.float())
        b, n, _ = x.shape
        edge_index, weight = dense_to_edges(x, self.edge_fraction)
        h = self.embed(x).reshape(b * n, -1)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            if self.kind == "gat":
                update = conv(h, edge_index, edge_attr=weight.unsqueeze(1))
            else:
                update = conv(h, edge_index, edge_weight=weight.abs())
            h = norm(h + self.dropout(self.act(update)))
        return h.reshape(b, n, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch_geometric.nn import global_mean_pool

        tokens = self.forward_tokens(x)
        b, n, w = tokens.shape
        batch = torch.arange(b, device=tokens.device).repeat_interleave(n)
        return global_mean_pool(tokens.reshape(b * n, w), batch, size=b)


def build(cfg, sample_shape: tuple[int, ...]) -> GraphEncoder:
    """Encoder for ``(nodes, nodes)`` connectivity matrices (GAT)."""
    return GraphEncoder(int(sample_shape[0]), width=cfg.width, depth=cfg.depth, dropout=cfg.dropout)
