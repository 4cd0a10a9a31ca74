"""Fusion strategies: missing modalities, per-patient (batch-independent) predictions, gates, late fusion."""

from __future__ import annotations

import itertools

import pytest
import torch

from climbflow.config import EncoderConfig
from climbflow.models.fusion import (
    FALLBACK_EHR,
    STRATEGIES,
    EhrMLP,
    FusionModel,
    TextFeatures,
    build_fusion_model,
    build_modality_encoder,
)

ENC = EncoderConfig(width=4, depth=2, dropout=0.0)
SHAPES = {"ehr": (6,), "text": (10, 16), "image2d": (1, 16, 16), "ecg": (2, 64)}
MODALITIES = list(SHAPES)
B = 5


def _model(strategy: str, seed: int = 0, freeze: bool = False) -> FusionModel:
    torch.manual_seed(seed)
    spec = {
        "strategy": strategy,
        "hidden": 16,
        "heads": 4,
        "dropout": 0.1,
        "frozen": ["ecg", "image2d", "ehr"] if freeze else [],
        "modalities": {
            m: {"encoder": ENC.model_dump(), "sample_shape": list(s), "impl": FALLBACK_EHR}
            for m, s in SHAPES.items()
        },
    }
    return build_fusion_model(spec)


def _inputs(seed: int, n: int = B) -> dict:
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(n, 10, dtype=torch.bool)
    for i in range(n):
        mask[i, : 3 + (i * 3 + seed) % 8] = True  # varying text lengths (padding)
    return {
        "ehr": torch.randn(n, 6, generator=g),
        "text": {
            "pooled": torch.randn(n, 16, generator=g),
            "tokens": torch.randn(n, 10, 16, generator=g) * mask[:, :, None],
            "mask": mask,
        },
        "image2d": torch.rand(n, 1, 16, 16, generator=g) * 255,
        "ecg": torch.randn(n, 2, 64, generator=g),
    }


def _present(n: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {m: torch.rand(n, generator=g) < 0.6 for m in MODALITIES}


def _row(x: dict, i: int) -> dict:
    return {
        m: ({k: t[i : i + 1] for k, t in v.items()} if isinstance(v, dict) else v[i : i + 1])
        for m, v in x.items()
    }


def _cat(a: dict, b: dict) -> dict:
    return {
        m: (
            {k: torch.cat([a[m][k], b[m][k]]) for k in a[m]}
            if isinstance(a[m], dict)
            else torch.cat([a[m], b[m]])
        )
        for m in a
    }


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_subset_of_modalities_missing(strategy: str) -> None:
    model = _model(strategy)
    x = _inputs(0, n=16)
    subsets = list(itertools.chain.from_iterable(itertools.combinations(MODALITIES, k) for k in range(5)))
    assert len(subsets) == 16
    present = {m: torch.tensor([m in s for s in subsets]) for m in MODALITIES}  # row i: subset i present
    for mode in (True, False):
        model.train(mode)
        out = model(x, present)
        assert out.shape == (16, 1) and torch.isfinite(out).all()
    model.train()
    model(x, present).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    # a single present row of a BatchNorm encoder still trains (it is encoded twice)
    one = {m: torch.tensor([True] + [False] * 15) for m in MODALITIES}
    assert torch.isfinite(model(x, one)).all()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_prediction_is_independent_of_the_batch(strategy: str) -> None:
    """A patient's output is the same alone or among other, different patients (eval mode)."""
    model = _model(strategy).eval()
    x, present = _inputs(1), _present(B, 1)
    others, others_present = _inputs(2, n=7), _present(7, 2)
    with torch.no_grad():
        together = model(_cat(x, others), {m: torch.cat([present[m], others_present[m]]) for m in MODALITIES})
        # and the reverse order: the patients first in the batch are now last
        reverse = model(_cat(others, x), {m: torch.cat([others_present[m], present[m]]) for m in MODALITIES})
        for i in range(B):
            alone = model(_row(x, i), {m: present[m][i : i + 1] for m in MODALITIES})
            torch.testing.assert_close(alone[0], together[i], atol=1e-6, rtol=0)
            torch.testing.assert_close(alone[0], reverse[7 + i], atol=1e-6, rtol=0)
    # the other patients really are different: their outputs are not all equal to patient 0's
    assert not torch.allclose(together[B:], together[:1].expand(7, 1))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_missing_inputs_change_nothing(strategy: str) -> None:
    model = _model(strategy).eval()
    x, present = _inputs(3), _present(B, 3)
    present["ecg"] = torch.tensor([True, False, True, False, False])
    present["text"] = torch.tensor([False, True, True, False, True])
    y = _inputs(4)  # replace every absent input with something else
    for m in ("ecg", "text"):
        absent = ~present[m]
        if isinstance(x[m], dict):
            for k in x[m]:
                x2 = y[m][k].clone()
                x2[~absent] = x[m][k][~absent]
                y[m][k] = x2
        else:
            y[m][~absent] = x[m][~absent]
    for m in ("ehr", "image2d"):
        y[m] = x[m]
    with torch.no_grad():
        torch.testing.assert_close(model(x, present), model(y, present), atol=0, rtol=0)
        # while changing a PRESENT input does change the prediction of that patient
        z = {**x, "ecg": x["ecg"].clone()}
        z["ecg"][0] += 3.0
        assert not torch.allclose(model(z, present)[0], model(x, present)[0])


def test_gates_softmax_over_present_only() -> None:
    model = _model("gated").eval()
    x, present = _inputs(5), _present(B, 5)
    present["image2d"][0] = False
    for m in MODALITIES:
        present[m][1] = False  # patient 1: nothing present
    with torch.no_grad():
        w = model.gate_weights(x, present)
        out = model(x, present)
    pres = torch.stack([present[m] for m in MODALITIES], 1)
    assert w.shape == (B, 4)
    assert (w[~pres] == 0).all() and (w[pres] > 0).all()
    has = pres.any(1)
    torch.testing.assert_close(w[has].sum(1), torch.ones(int(has.sum())))
    assert torch.isfinite(out).all()
    # a gated model with its gates moved changes the weights (gates are learned parameters)
    with torch.no_grad():
        model.gate["ecg"].bias += 5.0
        w2 = model.gate_weights(x, present)
    rows = present["ecg"] & (pres.sum(1) > 1)
    assert rows.any() and (w2[rows, MODALITIES.index("ecg")] > w[rows, MODALITIES.index("ecg")]).all()


def test_late_fusion_is_the_mean_of_present_unimodal_logits() -> None:
    model = _model("late").eval()
    x, present = _inputs(6), _present(B, 6)
    present["ehr"][2] = True
    with torch.no_grad():
        out = model(x, present)
        for i in range(B):
            logits = []
            for m in MODALITIES:
                if present[m][i]:
                    xi = _row(x, i)[m]
                    logits.append(model.late_heads[m](model.encoders[m](xi))[0])
            expected = torch.stack(logits).mean(0) if logits else torch.zeros(1)
            torch.testing.assert_close(out[i], expected, atol=1e-6, rtol=0)


def test_cross_attention_masks_padding_tokens() -> None:
    """Text padding tokens (mask False) are ignored as queries: changing them changes nothing."""
    model = _model("cross_attention").eval()
    x, present = _inputs(7), _present(B, 7)
    y = _inputs(7)
    y["text"]["tokens"] = torch.where(
        y["text"]["mask"][:, :, None], y["text"]["tokens"], torch.randn(B, 10, 16)
    )
    with torch.no_grad():
        torch.testing.assert_close(model(x, present), model(y, present), atol=1e-6, rtol=0)


def test_frozen_encoders_get_no_gradient_and_stay_in_eval() -> None:
    model = _model("concat", freeze=True)
    model.train()
    assert not any(e.training for m in ("ecg", "image2d", "ehr") for e in model.encoders[m].modules())
    x, present = _inputs(8), _present(B, 8)
    model(x, present).sum().backward()
    assert all(p.grad is None for p in model.encoders.parameters())
    with pytest.raises(ValueError, match="cannot freeze"):
        FusionModel({"ecg": model.encoders["ecg"]}, "late", frozen=["eeg"])
    assert any(p.grad is not None for p in model.head.parameters())


def test_builders_and_bad_strategy() -> None:
    assert isinstance(build_modality_encoder("text", ENC, (7, 32)), TextFeatures)
    assert build_modality_encoder("text", ENC, (7, 32)).out_dim == 32
    assert isinstance(build_modality_encoder("ehr", ENC, (6,), impl=FALLBACK_EHR), EhrMLP)
    ecg = build_modality_encoder("ecg", ENC, (2, 64))
    assert ecg(torch.randn(3, 2, 64)).shape == (3, ecg.out_dim)
    with pytest.raises(ValueError, match="unknown fusion strategy"):
        FusionModel({"ecg": ecg}, "attention")
    with pytest.raises(ValueError, match="divisible"):
        FusionModel({"ecg": ecg}, "cross_attention", hidden=10, heads=4)
