"""climbflow.evaluate.metrics checked against scikit-learn on identical predictions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    hamming_loss,
    recall_score,
    roc_auc_score,
)
from sklearn.metrics import roc_curve as sk_roc_curve

from climbflow.evaluate.metrics import (
    binary_auc,
    classification_metrics,
    column_aucs,
    confusion_matrices,
    predict_labels,
    roc_curve,
)

NAN = float("nan")
CASES = ["multilabel", "multiclass", "binary1", "binary2"]
SEEDS = range(6)


# ----------------------------------------------------------------------------------------- data maker


def make_case(seed: int, case: str, n: int = 240, c: int = 5, nan_frac: float = 0.15):
    """Random, mildly informative labels/scores. Odd seeds round scores to create ties."""
    rng = np.random.default_rng(seed)
    if case == "multilabel":
        prev = rng.uniform(0.1, 0.6, size=c)
        y = (rng.random((n, c)) < prev).astype(float)
        score = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + rng.normal(0, 1.5, (n, c)) - 1.0)))
        y[rng.random((n, c)) < nan_frac] = NAN
    elif case == "multiclass":
        lab = rng.integers(0, c, size=n)
        y = np.eye(c)[lab]
        logits = 1.2 * y + rng.normal(0, 1.0, (n, c))
        score = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y[rng.random(n) < nan_frac] = NAN
    else:
        pos = (rng.random(n) < rng.uniform(0.2, 0.6)).astype(float)
        p = 1 / (1 + np.exp(-(1.5 * (2 * pos - 1) + rng.normal(0, 1.5, n))))
        if case == "binary1":
            y, score = pos[:, None], p[:, None]
        else:
            y, score = np.stack([1 - pos, pos], axis=1), np.stack([1 - p, p], axis=1)
        y[rng.random(n) < nan_frac] = NAN
        c = y.shape[1]
    if seed % 2:
        score = np.round(score, 1)
    task = "binary" if case.startswith("binary") else case
    return y, score, task, [f"class_{k}" for k in range(c)]


# ----------------------------------------------------------------------------- shared sklearn reference


def reference_predictions(score: np.ndarray, task: str, threshold: float) -> np.ndarray:
    """CLIMB prediction rule, re-implemented independently of the library."""
    if task == "multiclass":
        return np.eye(score.shape[1], dtype=int)[score.argmax(axis=1)]
    if task == "binary":
        p = (score[:, -1] >= threshold).astype(int)
        return p[:, None] if score.shape[1] == 1 else np.stack([1 - p, p], axis=1)
    pred = (score >= threshold).astype(int)
    for i in range(len(pred)):
        if pred[i].sum() == 0:
            pred[i, score[i].argmax()] = 1
    return pred


def sklearn_reference(y, score, task, names, threshold=0.5) -> dict:
    """Expected metrics computed with scikit-learn over the same predictions."""
    pred = reference_predictions(score, task, threshold)
    per_class, kept, dropped = {}, [], []
    if task == "multilabel":
        known = ~np.isnan(y)
        cols = list(range(y.shape[1]))
        n = int(known.any(axis=1).sum())
        accuracy = 1 - hamming_loss(y[known].astype(int), pred[known]) if known.any() else NAN
        cms = {}
        for k in cols:
            m = known[:, k]
            cms[names[k]] = np.zeros((2, 2))
            if m.any():
                cms[names[k]] = confusion_matrix(y[m, k].astype(int), pred[m, k], labels=[0, 1])
        columns = [
            (names[k], y[m, k].astype(int), pred[m, k], score[m, k]) for k in cols for m in [known[:, k]]
        ]
    else:
        rows = ~np.isnan(y).any(axis=1)
        n = int(rows.sum())
        if task == "multiclass":
            t, p = y[rows].argmax(axis=1), score[rows].argmax(axis=1)
            accuracy = accuracy_score(t, p) if n else NAN
            cms = confusion_matrix(t, p, labels=list(range(y.shape[1])))
            columns = [
                (names[k], (t == k).astype(int), (p == k).astype(int), score[rows, k])
                for k in range(y.shape[1])
            ]
        else:
            t, p = y[rows, -1].astype(int), pred[rows, -1]
            accuracy = accuracy_score(t, p) if n else NAN
            cms = {names[-1]: confusion_matrix(t, p, labels=[0, 1])}
            columns = [(names[-1], t, p, score[rows, -1])]
    for name, ct, cp, cs in columns:
        usable = len(np.unique(ct)) == 2
        if len(ct) == 0:  # never known: sklearn refuses empty input
            keys = ("auc", "sensitivity", "specificity", "f1", "prevalence")
            per_class[name] = {**dict.fromkeys(keys, NAN), "support": 0}
            dropped.append(name)
            continue
        per_class[name] = {
            "auc": roc_auc_score(ct, cs) if usable else NAN,
            "sensitivity": recall_score(ct, cp, pos_label=1, zero_division=np.nan),
            "specificity": recall_score(ct, cp, pos_label=0, zero_division=np.nan),
            "f1": f1_score(ct, cp, zero_division=np.nan),
            "support": int(ct.sum()),
            "prevalence": ct.mean() if len(ct) else NAN,
        }
        (kept if usable else dropped).append(name)

    def macro(key):
        return float(np.mean([per_class[c][key] for c in kept])) if kept else NAN

    ref = {
        "n": n,
        "accuracy": accuracy,
        "macro_auc": macro("auc"),
        "sensitivity": macro("sensitivity"),
        "specificity": macro("specificity"),
        "f1": macro("f1"),
        "per_class": per_class,
        "dropped_classes": dropped,
        "confusion": cms,
        "pred": pred,
    }
    if task == "multiclass" and kept:
        # Cross-check the macro values with sklearn's own averaging over the kept labels.
        idx = [names.index(c) for c in kept]
        ref["sk_macro_sensitivity"] = recall_score(t, p, labels=idx, average="macro", zero_division=np.nan)
        ref["sk_macro_f1"] = f1_score(t, p, labels=idx, average="macro", zero_division=np.nan)
        onehot = np.eye(y.shape[1])[t]
        ref["sk_macro_auc"] = roc_auc_score(onehot[:, idx], score[rows][:, idx], average="macro")
    return ref


def same(a, b, tol=1e-9) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def assert_matches_sklearn(y, score, task, names, threshold=0.5) -> dict:
    """Shared helper: every metric (top-level, per class, confusion) equals the sklearn reference."""
    got = classification_metrics(y, score, task, names, threshold)
    ref = sklearn_reference(y, score, task, names, threshold)
    assert got["n"] == ref["n"]
    for key in ("macro_auc", "sensitivity", "specificity", "f1", "accuracy"):
        assert same(got[key], float(ref[key])), (key, got[key], ref[key])
    assert got["dropped_classes"] == ref["dropped_classes"]
    assert list(got["per_class"]) == list(ref["per_class"])
    for name, exp in ref["per_class"].items():
        for key, val in exp.items():
            mine = got["per_class"][name][key]
            assert same(mine, float(val)), (name, key, mine, val)
    for key in ("sensitivity", "f1", "auc"):
        if f"sk_macro_{key}" in ref:
            top = "macro_auc" if key == "auc" else key
            assert same(got[top], float(ref[f"sk_macro_{key}"]))
    np.testing.assert_array_equal(predict_labels(score, task, threshold).astype(int), ref["pred"])
    cms = confusion_matrices(y, predict_labels(score, task, threshold), names, task)
    if isinstance(ref["confusion"], dict):
        assert list(cms) == list(ref["confusion"])
        for name, cm in ref["confusion"].items():
            np.testing.assert_array_equal(cms[name], cm)
    else:
        np.testing.assert_array_equal(cms, ref["confusion"])
    return got


# ------------------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("seed", SEEDS)
def test_matches_sklearn(seed: int, case: str) -> None:
    y, score, task, names = make_case(seed, case)
    got = assert_matches_sklearn(y, score, task, names)
    assert 0.5 < got["macro_auc"] <= 1.0  # scores are informative


@pytest.mark.parametrize("threshold", [0.3, 0.7])
@pytest.mark.parametrize("case", ["multilabel", "binary1", "binary2"])
def test_matches_sklearn_other_thresholds(case: str, threshold: float) -> None:
    y, score, task, names = make_case(11, case)
    got = assert_matches_sklearn(y, score, task, names, threshold)
    assert got["threshold"] == threshold


@pytest.mark.parametrize("case", CASES)
def test_unknown_labels_are_excluded(case: str) -> None:
    y, score, task, names = make_case(3, case, nan_frac=0.0)
    base = classification_metrics(y, score, task, names)
    # Extra rows whose labels are all unknown, with arbitrary scores, change nothing.
    rng = np.random.default_rng(0)
    y2 = np.vstack([y, np.full((50, y.shape[1]), NAN)])
    s2 = np.vstack([score, rng.random((50, y.shape[1]))])
    assert classification_metrics(y2, s2, task, names) == base
    assert base["n"] == len(y)


def test_multilabel_per_class_unknowns_use_only_known_rows() -> None:
    y, score, task, names = make_case(4, "multilabel", nan_frac=0.4)
    got = assert_matches_sklearn(y, score, task, names)
    for k, name in enumerate(names):
        assert got["per_class"][name]["n_known"] == int((~np.isnan(y[:, k])).sum())
    # Flipping the hidden truth behind a NaN cannot matter: NaN entries are never read.
    hits = reference_predictions(score, task, 0.5) == y
    assert got["accuracy"] == pytest.approx(np.mean(hits[~np.isnan(y)]))


@pytest.mark.parametrize("case", ["multilabel", "multiclass"])
def test_degenerate_classes_dropped_and_reported(case: str) -> None:
    y, score, task, names = make_case(5, case, c=6)
    if case == "multilabel":
        y[:, 1] = np.where(np.isnan(y[:, 1]), NAN, 0.0)  # no positives
        y[:, 3] = np.where(np.isnan(y[:, 3]), NAN, 1.0)  # only positives
        y[:, 5] = NAN  # never known
        expected = ["class_1", "class_3", "class_5"]
    else:
        y[y[:, 2] == 1.0] = np.eye(6)[0]  # class_2 never occurs
        expected = ["class_2"]
    got = assert_matches_sklearn(y, score, task, names)
    assert got["dropped_classes"] == expected
    assert got["n_classes_used"] == 6 - len(expected)
    kept = [c for c in names if c not in expected]
    assert got["macro_auc"] == pytest.approx(np.mean([got["per_class"][c]["auc"] for c in kept]))
    for c in expected:
        assert math.isnan(got["per_class"][c]["auc"])
    assert got["reason"] is None


def test_no_usable_class_gives_nan_not_exception() -> None:
    y = np.array([[0.0, 1.0], [0.0, 1.0], [NAN, 1.0]])
    score = np.array([[0.2, 0.9], [0.4, 0.8], [0.1, 0.3]])
    got = classification_metrics(y, score, "multilabel", ["a", "b"])
    assert math.isnan(got["macro_auc"]) and math.isnan(got["sensitivity"])
    assert got["dropped_classes"] == ["a", "b"]
    assert got["reason"] and "no usable class" in got["reason"]
    assert got["accuracy"] == pytest.approx(1 - hamming_loss([0, 0, 1, 1, 1], [0, 0, 1, 1, 1]))
    json.dumps(got)  # NaN allowed

    empty = classification_metrics(np.full((3, 2), NAN), score, "multilabel", ["a", "b"])
    assert empty["n"] == 0 and math.isnan(empty["accuracy"]) and "no labelled rows" in empty["reason"]

    binary = classification_metrics(np.zeros((4, 1)), np.full((4, 1), 0.2), "binary", ["pos"])
    assert math.isnan(binary["macro_auc"]) and binary["dropped_classes"] == ["pos"]
    # Macro values average over usable classes only; the per-class value is still reported.
    assert math.isnan(binary["specificity"]) and binary["per_class"]["pos"]["specificity"] == 1.0
    assert binary["accuracy"] == 1.0


def test_forced_argmax_rule() -> None:
    score = np.array([[0.40, 0.30, 0.10], [0.90, 0.20, 0.60], [0.05, 0.45, 0.20]])
    pred = predict_labels(score, "multilabel", 0.5)
    np.testing.assert_array_equal(pred, [[1, 0, 0], [1, 0, 1], [0, 1, 0]])
    # Without the rule row 0 and row 2 would predict nothing: sensitivity would be 1/3, not 1.
    y = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    got = classification_metrics(y, score, "multilabel", ["a", "b", "c"])
    assert got["accuracy"] == 1.0 and got["sensitivity"] == 1.0 and got["f1"] == 1.0
    # The forced label counts as a false positive when wrong.
    y_wrong = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    got = assert_matches_sklearn(y_wrong, score, "multilabel", ["a", "b", "c"])
    assert got["per_class"]["a"]["specificity"] == 0.5  # row 0: forced "a" is a false positive


def test_threshold_is_inclusive() -> None:
    pred = predict_labels(np.array([[0.5], [0.49]]), "binary", 0.5)
    np.testing.assert_array_equal(pred[:, 0], [True, False])


@pytest.mark.parametrize("case", CASES)
def test_random_scorer_near_half_and_perfect_scorer_one(case: str) -> None:
    y, _, task, names = make_case(7, case, n=6000, nan_frac=0.1)
    rng = np.random.default_rng(1)
    noise = rng.random(y.shape)
    if task == "multiclass":
        noise = noise / noise.sum(axis=1, keepdims=True)
    elif task == "binary" and y.shape[1] == 2:
        noise = np.stack([1 - noise[:, 1], noise[:, 1]], axis=1)
    assert classification_metrics(y, noise, task, names)["macro_auc"] == pytest.approx(0.5, abs=0.03)

    if task == "multilabel":
        # The forced arg-max rule turns a row without any positive into a false positive, so give
        # every row a known positive for the threshold-based metrics to be perfect.
        none = ~(y == 1.0).any(axis=1)
        y[none, 0] = 1.0
    perfect = np.nan_to_num(y, nan=0.5) * 0.8 + 0.1  # positives 0.9, negatives 0.1
    got = classification_metrics(y, perfect, task, names)
    for key in ("macro_auc", "sensitivity", "specificity", "f1", "accuracy"):
        assert got[key] == 1.0, key


def test_multiclass_matches_sklearn_ovr_auc() -> None:
    y, score, _, names = make_case(2, "multiclass", nan_frac=0.0)
    got = classification_metrics(y, score, "multiclass", names)
    expected = roc_auc_score(y.argmax(1), score, multi_class="ovr", average="macro")
    assert got["macro_auc"] == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(4))
def test_roc_curve_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = (rng.random(300) < 0.3).astype(float)
    s = np.round(rng.random(300), 2)
    fpr, tpr, thr = roc_curve(t, s)
    sk_fpr, sk_tpr, sk_thr = sk_roc_curve(t, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])
    t[:10] = NAN  # unknown labels are ignored
    fpr, tpr, _ = roc_curve(t, s)
    sk_fpr, sk_tpr, _ = sk_roc_curve(t[10:], s[10:], drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    with pytest.raises(ValueError):
        roc_curve(np.zeros(5), np.arange(5.0))


@pytest.mark.parametrize("seed", range(4))
def test_roc_curve_drop_intermediate_matches_sklearn_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = (rng.random(400) < 0.3).astype(float)
    s = np.round(rng.random(400), 2 + seed % 2)  # ties, and runs of one outcome (points to drop)
    for drop in (True, False):
        got, ref = roc_curve(t, s, drop_intermediate=drop), sk_roc_curve(t, s, drop_intermediate=drop)
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_array_equal(a, b)
    assert len(roc_curve(t, s, drop_intermediate=True)[0]) < len(roc_curve(t, s)[0])


def _former_train_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """The AUC train/module.py computed on its own before it used :func:`binary_auc` (kept as the oracle)."""
    y_true = np.asarray(y_true, dtype=bool)
    n_pos = int(y_true.sum())
    n_neg = y_true.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(
        np.asarray(y_score, dtype=np.float64), return_inverse=True, return_counts=True
    )
    upper = np.cumsum(counts)
    r = (upper - (counts - 1) / 2.0)[inverse]
    return float((r[y_true].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


@pytest.mark.parametrize("seed", range(8))
def test_column_aucs_equal_the_former_train_auc_and_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, c = 300, 4
    y = (rng.random((n, c)) < rng.uniform(0.05, 0.6, c)).astype(np.float32)
    y[rng.random((n, c)) < 0.2] = np.nan  # unknown labels
    y[:, 3] = np.where(np.isnan(y[:, 3]), np.nan, 1.0)  # a degenerate column (positives only)
    p = np.round(rng.random((n, c)), 2).astype(np.float32)  # float32 scores with ties, as in validation
    got = column_aucs(y, p)
    for k in range(c):
        known = ~np.isnan(y[:, k])
        former = _former_train_auc(y[known, k] >= 0.5, p[known, k])
        assert got[k] == former or (math.isnan(got[k]) and math.isnan(former)), k
        if k < 3:
            assert got[k] == pytest.approx(roc_auc_score(y[known, k], p[known, k]), abs=1e-12)
    assert math.isnan(got[3])
    assert binary_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert binary_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert math.isnan(binary_auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_output_is_plain_python_and_json_serializable() -> None:
    y, score, task, names = make_case(0, "multilabel")
    got = classification_metrics(y, score, task, names)

    def walk(obj):
        if isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)
        else:
            assert type(obj) in (float, int, str, type(None), bool), type(obj)

    walk(got)
    assert json.loads(json.dumps(got))["n"] == got["n"]
    keys = {"auc", "sensitivity", "specificity", "f1", "support", "prevalence"}
    assert set(got["per_class"]["class_0"]) >= keys


@pytest.mark.parametrize(
    "y, score, task, names, match",
    [
        (np.zeros((3, 2)), np.zeros((3, 3)), "multilabel", ["a", "b"], "same shape"),
        (np.zeros((3, 2)), np.zeros((3, 2)), "multilabel", ["a"], "class_names"),
        (np.zeros((3, 2)), np.zeros((3, 2)), "multilabel", ["a", "a"], "unique"),
        (np.full((3, 2), 2.0), np.zeros((3, 2)), "multilabel", ["a", "b"], "0 or 1"),
        (np.zeros((3, 2)), np.full((3, 2), 1.5), "multilabel", ["a", "b"], "probabilities"),
        (np.zeros((3, 2)), np.full((3, 2), NAN), "multilabel", ["a", "b"], "finite"),
        (np.zeros((3, 2)), np.zeros((3, 2)), "regression", ["a", "b"], "task"),
        (np.ones((3, 2)), np.zeros((3, 2)), "multiclass", ["a", "b"], "one-hot"),
        (np.zeros((3, 3)), np.zeros((3, 3)), "binary", ["a", "b", "c"], "1 or 2"),
    ],
)
def test_validation_errors(y, score, task, names, match) -> None:
    with pytest.raises(ValueError, match=match):
        classification_metrics(y, score, task, names)
