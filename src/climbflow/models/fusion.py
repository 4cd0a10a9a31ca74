"""Multimodal fusion of per-modality encoders for one patient-level target (MIMIC-IV IHM / LOS).

Four strategies, chosen by name (CLIMB §3.4 has the first three; gated fusion is ours):

- ``late``: one MLP head per modality on its pooled features; the logits are averaged over the
  modalities PRESENT for each patient.
- ``concat``: per-modality projections, a learned "missing" embedding in place of an absent modality,
  plus the presence flags, concatenated into an MLP.
- ``cross_attention``: a learned [CLS] token and the text / EHR tokens query the image / ECG tokens of
  the SAME patient (attention is a batched per-patient matmul; CLIMB's version attended across the batch).
  A learned null key is always present, so a patient with neither image nor ECG still has a key;
  absent modalities and padding are masked out of the keys and of the query pooling.
- ``gated``: per-modality projections weighted by learned gates, softmax over the present modalities only.

Inputs are ``x: {modality: batch}`` and ``present: {modality: (B,) bool}``. An encoder only sees its
present rows (so BatchNorm statistics never see placeholders and an absent input cannot change anything);
its features are scattered back into the batch. The text "encoder" is :class:`TextFeatures`, an identity over
precomputed frozen embeddings ``{"pooled": (B, D), "tokens": (B, N, D), "mask": (B, N) bool (True = token)}``.
In eval mode every prediction depends on its own patient only.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from climbflow.config import EncoderConfig
from climbflow.models import build_encoder

STRATEGIES = ("late", "concat", "cross_attention", "gated")
QUERY_MODALITIES = ("text", "ehr")  # cross-attention queries; every other modality is a key/value source
FALLBACK_EHR = "fallback"  # ``impl`` of the internal EHR MLP used while climbflow.models.ehr does not exist


class TextFeatures(nn.Module):
    """Identity encoder over precomputed (frozen) text embeddings of width ``dim``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = int(dim)

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return x["pooled"].float()

    def forward_tokens(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return x["tokens"].float()

    def token_mask(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return x["mask"].bool()


class EhrMLP(nn.Module):
    """Stand-in EHR encoder: ``(B, F)`` features (NaN = not measured) -> value + missing-indicator MLP."""

    def __init__(self, n_features: int, width: int = 32, depth: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        dim = 4 * width
        layers: list[nn.Module] = [nn.Linear(2 * n_features, dim), nn.LayerNorm(dim), nn.GELU()]
        for _ in range(max(depth - 1, 0)):
            layers += [nn.Dropout(dropout), nn.Linear(dim, dim), nn.LayerNorm(dim), nn.GELU()]
        self.net = nn.Sequential(*layers)
        self.out_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        nan = torch.isnan(x)
        return self.net(torch.cat([torch.nan_to_num(x, nan=0.0), nan.float()], dim=1))


def ehr_impl() -> str:
    """``"registry"`` when climbflow.models.ehr exists, else the internal :class:`EhrMLP`."""
    return "registry" if importlib.util.find_spec("climbflow.models.ehr") is not None else FALLBACK_EHR


def build_modality_encoder(
    modality: str, cfg: EncoderConfig | dict, sample_shape: Sequence[int], impl: str | None = None
) -> nn.Module:
    """An encoder for one fusion input: ``text`` -> :class:`TextFeatures` (width = ``sample_shape[-1]``),
    ``ehr`` with ``impl="fallback"`` -> :class:`EhrMLP`, everything else -> :func:`build_encoder`."""
    cfg = EncoderConfig.model_validate(cfg) if isinstance(cfg, dict) else cfg
    shape = tuple(int(d) for d in sample_shape)
    if modality == "text":
        return TextFeatures(shape[-1])
    if modality == "ehr" and (impl or ehr_impl()) == FALLBACK_EHR:
        return EhrMLP(shape[0], cfg.width, cfg.depth, cfg.dropout)
    return build_encoder(modality, cfg, shape)


def _take(x: Any, rows: torch.Tensor) -> Any:
    if isinstance(x, Mapping):
        return {k: v[rows] for k, v in x.items()}
    return x[rows]


def _scatter(values: torch.Tensor, rows: torch.Tensor, batch: int) -> torch.Tensor:
    out = values.new_zeros((batch, *values.shape[1:]))
    out[rows] = values
    return out


def _mlp(d_in: int, hidden: int, d_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, d_out))


class CrossAttentionBlock(nn.Module):
    """Pre-norm multi-head cross-attention + feed-forward; attention runs within each batch element."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.norm_q, self.norm_kv, self.norm_ff = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.drop = nn.Dropout(dropout)
        self.ff = _mlp(dim, 2 * dim, dim, dropout)

    def forward(self, q: torch.Tensor, kv: torch.Tensor, kv_mask: torch.Tensor) -> torch.Tensor:
        """``q (B, Nq, D)``, ``kv (B, Nk, D)``, ``kv_mask (B, Nk)`` True = attend (>= 1 per row)."""
        B, Nq, D = q.shape
        Nk, h = kv.shape[1], self.heads
        d = D // h
        kvn = self.norm_kv(kv)
        Q = self.q(self.norm_q(q)).view(B, Nq, h, d).transpose(1, 2)  # (B, h, Nq, d)
        K = self.k(kvn).view(B, Nk, h, d).transpose(1, 2)
        V = self.v(kvn).view(B, Nk, h, d).transpose(1, 2)
        scores = (Q @ K.transpose(-1, -2)) / math.sqrt(d)  # (B, h, Nq, Nk): one patient per b
        scores = scores.masked_fill(~kv_mask[:, None, None, :], float("-inf"))
        attn = self.drop(scores.softmax(-1))
        out = (attn @ V).transpose(1, 2).reshape(B, Nq, D)
        q = q + self.drop(self.o(out))
        return q + self.drop(self.ff(self.norm_ff(q)))


class FusionModel(nn.Module):
    """Encoders of several modalities fused by ``strategy``; ``forward(x, present) -> (B, out_dim)`` logits.

    ``encoders``: modality -> module with ``out_dim`` and ``forward``; ``forward_tokens`` is used by
    cross-attention where the encoder has it (else its pooled features are one token).
    ``frozen``: modalities (True = all) whose encoders get no gradient and stay in eval mode.
    """

    def __init__(
        self,
        encoders: Mapping[str, nn.Module],
        strategy: str,
        hidden: int = 128,
        heads: int = 4,
        dropout: float = 0.1,
        out_dim: int = 1,
        frozen: bool | Sequence[str] = (),
    ) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown fusion strategy {strategy!r}; allowed: {list(STRATEGIES)}")
        if not encoders:
            raise ValueError("fusion needs at least one modality")
        self.strategy, self.hidden, self.out_dim = strategy, int(hidden), int(out_dim)
        self.modalities = list(encoders)
        self.encoders = nn.ModuleDict(dict(encoders))
        self.frozen = (
            list(self.modalities) if frozen is True else [m for m in self.modalities if m in (frozen or ())]
        )
        unknown = sorted(set(frozen if isinstance(frozen, Sequence) else ()) - set(self.modalities))
        if unknown:
            raise ValueError(f"cannot freeze {unknown}: not fusion modalities {self.modalities}")
        for m in self.frozen:
            self.encoders[m].requires_grad_(False)
        dims = {m: int(e.out_dim) for m, e in self.encoders.items()}
        M = len(self.modalities)
        if strategy == "late":
            self.late_heads = nn.ModuleDict(
                {m: _mlp(dims[m], hidden, out_dim, dropout) for m in self.modalities}
            )
        elif strategy in ("concat", "gated"):
            self.proj = nn.ModuleDict(
                {m: nn.Sequential(nn.Linear(dims[m], hidden), nn.LayerNorm(hidden), nn.GELU()) for m in dims}
            )
            if strategy == "concat":
                self.missing = nn.ParameterDict({m: nn.Parameter(torch.zeros(hidden)) for m in dims})
                self.head = _mlp(M * hidden + M, hidden, out_dim, dropout)
            else:
                self.gate = nn.ModuleDict({m: nn.Linear(hidden, 1) for m in dims})
                self.head = _mlp(hidden, hidden, out_dim, dropout)
        else:
            self.query_modalities = [m for m in self.modalities if m in QUERY_MODALITIES]
            self.context_modalities = [m for m in self.modalities if m not in QUERY_MODALITIES]
            self.token_proj = nn.ModuleDict({m: nn.Linear(dims[m], hidden) for m in dims})
            self.type_emb = nn.ParameterDict({m: nn.Parameter(torch.zeros(hidden)) for m in dims})
            self.cls = nn.Parameter(torch.randn(hidden) * 0.02)
            self.null_kv = nn.Parameter(torch.randn(hidden) * 0.02)
            self.attn = CrossAttentionBlock(hidden, heads, dropout)
            self.norm = nn.LayerNorm(hidden)
            self.head = _mlp(hidden, hidden, out_dim, dropout)

    def train(self, mode: bool = True) -> FusionModel:
        super().train(mode)
        for m in self.frozen:
            self.encoders[m].eval()
        return self

    # ---------------------------------------------------------------- encoding

    def _run(self, m: str, x: Any, rows: torch.Tensor, tokens: bool) -> torch.Tensor:
        enc = self.encoders[m]
        xs = _take(x, rows)
        # a training BatchNorm needs > 1 value per channel: a lone present row is encoded twice
        dup = self.training and rows.numel() == 1 and not isinstance(enc, TextFeatures)
        if dup:
            xs = _take(xs, torch.zeros(2, dtype=torch.long, device=rows.device))
        if tokens:
            out = enc.forward_tokens(xs) if hasattr(enc, "forward_tokens") else enc(xs)[:, None, :]
        else:
            out = enc(xs)
        return out[:1] if dup else out

    def _rows(self, m: str, present: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return present[m].bool().nonzero(as_tuple=True)[0]

    def pooled(self, x: Mapping[str, Any], present: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{modality: (B, out_dim_m)}`` pooled features; rows of absent modalities are 0."""
        B = self._batch_size(present)
        out = {}
        for m in self.modalities:
            rows = self._rows(m, present)
            if rows.numel():
                out[m] = _scatter(self._run(m, x[m], rows, tokens=False).float(), rows, B)
            else:
                out[m] = self._zeros(B, self.encoders[m].out_dim, present)
        return out

    def tokens(
        self, x: Mapping[str, Any], present: Mapping[str, torch.Tensor]
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """``{modality: (tokens (B, N, out_dim_m), mask (B, N) True = real token of a present modality)}``."""
        B = self._batch_size(present)
        out = {}
        for m in self.modalities:
            rows, enc = self._rows(m, present), self.encoders[m]
            if not rows.numel():
                out[m] = (self._zeros(B, enc.out_dim, present)[:, None], present[m].bool()[:, None])
                continue
            tok = _scatter(self._run(m, x[m], rows, tokens=True).float(), rows, B)
            if hasattr(enc, "token_mask"):
                mask = _scatter(enc.token_mask(_take(x[m], rows)), rows, B)
            else:
                mask = torch.ones(tok.shape[:2], dtype=torch.bool, device=tok.device)
            out[m] = (tok, mask & present[m].bool()[:, None])
        return out

    @staticmethod
    def _batch_size(present: Mapping[str, torch.Tensor]) -> int:
        return int(next(iter(present.values())).shape[0])

    def _zeros(self, B: int, dim: int, present: Mapping[str, torch.Tensor]) -> torch.Tensor:
        device = next(iter(present.values())).device
        return torch.zeros(B, dim, device=device)

    def _presence(self, present: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.stack([present[m].bool() for m in self.modalities], dim=1)  # (B, M)

    # ---------------------------------------------------------------- strategies

    def unimodal_logits(self, x: Mapping[str, Any], present: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Late fusion only: ``(B, M, out_dim)`` logits of each modality's own head (garbage where absent)."""
        feats = self.pooled(x, present)
        return torch.stack([self.late_heads[m](feats[m]) for m in self.modalities], dim=1)

    def gate_weights(self, x: Mapping[str, Any], present: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Gated fusion only: ``(B, M)`` weights, softmax over present modalities (0 where absent)."""
        return self._gated(x, present)[1]

    def _gated(
        self, x: Mapping[str, Any], present: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.pooled(x, present)
        z = torch.stack([self.proj[m](feats[m]) for m in self.modalities], dim=1)  # (B, M, H)
        scores = torch.cat([self.gate[m](z[:, i]) for i, m in enumerate(self.modalities)], dim=1)
        pres = self._presence(present)
        # finite fill: no NaN (or NaN gradient) for a patient with nothing present; its weights become 0
        w = scores.masked_fill(~pres, -1.0e4).softmax(dim=1) * pres
        return (w[:, :, None] * z).sum(1), w

    def forward(self, x: Mapping[str, Any], present: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if self.strategy == "late":
            logits = self.unimodal_logits(x, present)
            pres = self._presence(present).to(logits.dtype)[:, :, None]
            return (logits * pres).sum(1) / pres.sum(1).clamp(min=1.0)
        if self.strategy == "concat":
            feats = self.pooled(x, present)
            parts = []
            for m in self.modalities:
                z = self.proj[m](feats[m])
                parts.append(torch.where(present[m].bool()[:, None], z, self.missing[m].expand_as(z)))
            return self.head(torch.cat([*parts, self._presence(present).float()], dim=1))
        if self.strategy == "gated":
            return self.head(self._gated(x, present)[0])
        return self._cross_attention(x, present)

    def _cross_attention(self, x: Mapping[str, Any], present: Mapping[str, torch.Tensor]) -> torch.Tensor:
        toks = self.tokens(x, present)
        B = self._batch_size(present)
        device = self.cls.device

        def stack(mods: list[str], first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            seq = [first.expand(B, 1, self.hidden)]
            mask = [torch.ones(B, 1, dtype=torch.bool, device=device)]
            for m in mods:
                t, k = toks[m]
                seq.append(self.token_proj[m](t) + self.type_emb[m])
                mask.append(k)
            return torch.cat(seq, dim=1), torch.cat(mask, dim=1)

        q, q_mask = stack(self.query_modalities, self.cls)
        kv, kv_mask = stack(self.context_modalities, self.null_kv)
        out = self.attn(q, kv, kv_mask)
        qm = q_mask.to(out.dtype)[:, :, None]
        pooled = (out * qm).sum(1) / qm.sum(1)  # mean over the present query tokens ([CLS] always)
        return self.head(self.norm(pooled))


def build_fusion_model(spec: Mapping[str, Any]) -> FusionModel:
    """A :class:`FusionModel` from plain data (as saved in ``model.pt``): ``strategy``, ``hidden``, ``heads``,
    ``dropout``, ``out_dim``, ``frozen`` (modalities) and ``modalities``: ``{m: {encoder, sample_shape, impl?}}``."""
    encoders = {
        m: build_modality_encoder(m, s["encoder"], s["sample_shape"], s.get("impl"))
        for m, s in spec["modalities"].items()
    }
    return FusionModel(
        encoders,
        spec["strategy"],
        hidden=spec.get("hidden", 128),
        heads=spec.get("heads", 4),
        dropout=spec.get("dropout", 0.1),
        out_dim=spec.get("out_dim", 1),
        frozen=spec.get("frozen", ()),
    )


__all__ = [
    "STRATEGIES",
    "EhrMLP",
    "FusionModel",
    "TextFeatures",
    "build_fusion_model",
    "build_modality_encoder",
    "ehr_impl",
]
