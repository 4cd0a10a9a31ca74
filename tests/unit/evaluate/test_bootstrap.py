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
