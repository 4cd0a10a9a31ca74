"""Patient-level bootstrap: cluster resampling, coverage, paired deltas, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from climbflow.evaluate.bootstrap import _replicates, bootstrap_ci, paired_delta
from climbflow.evaluate.scoring import score


def test_replicates_take_whole_patients() -> None:
    groups = ["a", "a", "a", "b", "c", "c"]
    for rows in _replicates(groups, 50, seed=1):
        picked = [groups[i] for i in rows]
        for patient in set(picked):  # a patient drawn once contributes all of its rows
            assert picked.count(patient) % groups.count(patient) == 0


def test_interval_covers_estimate_and_shrinks_with_more_patients() -> None:
    rng = np.random.default_rng(0)

    def width(n: int) -> float:
        values = rng.normal(1.0, 1.0, n)
        ci = bootstrap_ci(
            lambda rows: {"mean": float(values[rows].mean())}, n, [str(i) for i in range(n)], 400
        )
        assert ci["mean"].low <= ci["mean"].estimate <= ci["mean"].high
        return ci["mean"].high - ci["mean"].low

    assert width(1000) < width(50) / 2


def test_clustered_data_gives_wider_intervals_than_iid() -> None:
    rng = np.random.default_rng(3)
    patient_effect = rng.normal(0, 1, 40)
    values = np.repeat(patient_effect, 10) + rng.normal(0, 0.1, 400)
    per_patient = [str(i) for i in np.repeat(np.arange(40), 10)]
    per_row = [str(i) for i in range(400)]

    def fn(rows):
        return {"mean": float(values[rows].mean())}

    clustered, iid = (
        bootstrap_ci(fn, 400, per_patient, 300)["mean"],
        bootstrap_ci(fn, 400, per_row, 300)["mean"],
    )
    assert clustered.high - clustered.low > 2 * (iid.high - iid.low)


def test_paired_delta_detects_a_better_model_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300).astype(float)
    good = np.clip(y * 0.6 + rng.normal(0.2, 0.2, 300), 0, 1)
    bad = rng.uniform(0, 1, 300)
    groups = [str(i // 2) for i in range(300)]

    def auc_of(scores):
        return lambda rows: {
            "macro_auc": score(y[rows, None], scores[rows, None], [], "binary", ["x"], n_boot=0)["macro_auc"]
        }

    delta = paired_delta(auc_of(good), auc_of(bad), 300, groups, 200, seed=5)["macro_auc"]
    assert delta.low > 0.1 and delta.estimate > 0.2
    again = paired_delta(auc_of(good), auc_of(bad), 300, groups, 200, seed=5)["macro_auc"]
    assert again == delta


def test_score_reports_ci_for_headline_metrics() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, (120, 3)).astype(float)
    p = np.clip(y * 0.5 + rng.uniform(0, 0.5, (120, 3)), 0, 1)
    out = score(y, p, [str(i // 3) for i in range(120)], "multilabel", ["a", "b", "c"], n_boot=100)
    assert set(out["ci"]) == {"macro_auc", "sensitivity", "specificity", "f1", "accuracy"}
    assert out["n_patients"] == 40
    for ci in out["ci"].values():
        assert ci["low"] <= ci["estimate"] <= ci["high"]
    reg = score(y[:, 0] * 50, y[:, 0] * 50 + 1, [str(i) for i in range(120)], "regression", ["EF"], n_boot=50)
    assert reg["mae"] == pytest.approx(1.0) and "mae" in reg["ci"]
    with pytest.raises(ValueError, match="group ids"):
        bootstrap_ci(lambda rows: {"m": 0.0}, 3, ["a"], 10)


# --- issue 13.1: every replicate averages the classes of the point estimate ---------------------------------


def _rare_and_common(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A common class scored almost perfectly and a rare class (2 positives) scored near chance."""
    rng = np.random.default_rng(seed)
    common = (np.arange(n) % 2).astype(float)
    rare = np.zeros(n)
    rare[[5, 40]] = 1.0
    p_common = np.clip(common * 0.6 + rng.uniform(0.0, 0.45, n), 0, 1)
    p_rare = rng.uniform(0.0, 1.0, n)
    p_rare[[5, 40]] = [0.75, 0.35]
    return np.stack([common, rare], 1), np.stack([p_common, p_rare], 1), [f"p{i}" for i in range(n)]


def _oracle_ci(y, p, groups, n_boot, seed):
    """Independent cluster bootstrap with scikit-learn: macro AUC over BOTH classes, replicates missing a
    positive or negative of either class are invalid."""
    from sklearn.metrics import roc_auc_score

    ids, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    clusters = [np.flatnonzero(inverse == i) for i in range(len(ids))]
    picks = np.random.default_rng(seed).integers(0, len(clusters), size=(n_boot, len(clusters)))
    values = []
    for row in picks:
        rows = np.concatenate([clusters[i] for i in row])
        if any(len(np.unique(y[rows, k])) < 2 for k in range(y.shape[1])):
            continue
        values.append(roc_auc_score(y[rows], p[rows], average="macro"))
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high), len(values)


def test_replicates_average_the_frozen_class_set_like_an_sklearn_oracle() -> None:
    from sklearn.metrics import roc_auc_score

    y, p, groups = _rare_and_common()
    auc_common = roc_auc_score(y[:, 0], p[:, 0])
    assert auc_common > 0.95 and roc_auc_score(y[:, 1], p[:, 1]) < 0.7
    out = score(y, p, groups, "multilabel", ["common", "rare"], n_boot=300, seed=3)
    ci = out["ci"]["macro_auc"]
    low, high, n_valid = _oracle_ci(y, p, groups, 300, seed=3)
    assert out["macro_auc"] == pytest.approx(roc_auc_score(y, p, average="macro"))
    assert (ci["low"], ci["high"]) == (pytest.approx(low), pytest.approx(high))
    assert ci["n_valid"] == n_valid < 300 and ci["n_boot"] == 300
    # the upper bound is no longer the common class alone (today's bug: [0.566, 0.994])
    assert ci["high"] < auc_common - 0.05
    assert out["ci_valid_fraction"] == pytest.approx(n_valid / 300)


def test_too_many_invalid_replicates_are_flagged() -> None:
    y, p, groups = _rare_and_common(n=60)
    y[:, 1] = 0.0
    y[7, 1] = 1.0  # a single positive: most replicates lose it
    out = score(y, p, groups, "multilabel", ["common", "rare"], n_boot=200, seed=0)
    share = out["ci_valid_fraction"]
    assert share < 0.8 and out["ci"]["macro_auc"]["n_valid"] == round(share * 200)
    assert "ci_warning" in out and "valid" in out["ci_warning"]
    assert out["quality"]["verdict"] == "uncertain"
    # the common class alone: every replicate is valid, no warning
    healthy = score(y[:, :1], p[:, :1], groups, "multilabel", ["common"], n_boot=50)
    assert healthy["ci_valid_fraction"] == 1.0 and "ci_warning" not in healthy


def test_paired_comparison_matches_an_sklearn_oracle_and_freezes_classes() -> None:
    from sklearn.metrics import roc_auc_score

    from climbflow.evaluate.scoring import paired_comparison

    y, p, groups = _rare_and_common()
    worse = np.clip(p + np.random.default_rng(9).normal(0, 0.3, p.shape), 0, 1)
    out = paired_comparison(y, p, worse, groups, "multilabel", ["common", "rare"], n_boot=200, seed=1)
    delta = out["delta"]["macro_auc"]
    expected = roc_auc_score(y, p, average="macro") - roc_auc_score(y, worse, average="macro")
    assert delta["estimate"] == pytest.approx(expected)
    assert out["per_class_auc_delta"]["rare"] == pytest.approx(
        roc_auc_score(y[:, 1], p[:, 1]) - roc_auc_score(y[:, 1], worse[:, 1])
    )
    assert delta["n_valid"] < 200 and delta["low"] <= delta["estimate"] <= delta["high"]
    same = paired_comparison(y, p, p, groups, "multilabel", ["common", "rare"], n_boot=100)
    assert same["delta"]["macro_auc"]["low"] == same["delta"]["macro_auc"]["high"] == 0.0
