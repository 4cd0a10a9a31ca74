"""Score one model's predictions on a test split: the task's metrics plus patient-level bootstrap CIs."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from climbflow.evaluate.bootstrap import MIN_VALID_FRACTION, bootstrap_ci, paired_delta, valid_fraction
from climbflow.evaluate.metrics import classification_metrics
from climbflow.evaluate.regression import regression_metrics

CLASSIFICATION_HEADLINE = ("macro_auc", "sensitivity", "specificity", "f1", "accuracy")
REGRESSION_HEADLINE = ("mae", "rmse", "r2", "pearson_r")
LOWER_IS_BETTER = frozenset({"mae", "rmse"})


def headline(task: str) -> tuple[str, ...]:
    return REGRESSION_HEADLINE if task == "regression" else CLASSIFICATION_HEADLINE


def primary_metric(task: str) -> str:
    """The metric a comparison or promotion gate looks at first (higher is better except MAE)."""
    return "mae" if task == "regression" else "macro_auc"


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def metrics_for(
    y_true: np.ndarray,
    y_score: np.ndarray,
    task: str,
    classes: Sequence[str],
    threshold: float,
    classes_used: Sequence[str] | None = None,
) -> dict[str, Any]:
    if task == "regression":
        return regression_metrics(y_true, y_score)
    return classification_metrics(y_true, y_score, task, classes, threshold, classes_used)  # type: ignore[arg-type]


def kept_classes(result: dict[str, Any]) -> list[str] | None:
    """The classes the point estimate averaged (frozen for every bootstrap replicate); None for regression."""
    if result.get("task") == "regression":
        return None
    dropped = set(result.get("dropped_classes") or [])
    return [c for c in result.get("per_class") or {} if c not in dropped]


def _replicate_fn(
    y_true: np.ndarray,
    y_score: np.ndarray,
    task: str,
    classes: Sequence[str],
    threshold: float,
    kept: list[str] | None,
    keys: Sequence[str],
) -> Callable[[np.ndarray], dict[str, float]]:
    """Headline metrics of a replicate over the frozen class set; all NaN (invalid replicate) when a frozen
    class is degenerate in it, so every metric of a replicate averages the same classes as the estimate."""

    def fn(rows: np.ndarray) -> dict[str, float]:
        m = metrics_for(y_true[rows], y_score[rows], task, classes, threshold, kept)
        if m.get("invalid_classes"):
            return dict.fromkeys(keys, math.nan)
        return {k: float(m[k]) for k in keys}

    return fn


def _ci_summary(result: dict[str, Any], n_boot: int, n_patients: int) -> None:
    share = valid_fraction(result["ci"])
    result["ci_level"] = 0.95
    result["n_patients"] = n_patients
    result["ci_n_boot"] = n_boot
    result["ci_valid_fraction"] = share
    if share is not None and share < MIN_VALID_FRACTION:
        result["ci_warning"] = (
            f"only {share:.0%} of {n_boot} bootstrap replicates are valid (< {MIN_VALID_FRACTION:.0%}): "
            "in the others a class of the point estimate had no positive or no negative left; "
            "the CIs are unreliable (too few positives / patients)"
        )


def score(
    y_true: np.ndarray,
    y_score: np.ndarray,
    patients: Sequence[str],
    task: str,
    classes: Sequence[str],
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of the task with ``ci``: ``{metric: {estimate, low, high, n_valid, n_boot, n_patients}}`` for the
    headline metrics, ``ci_valid_fraction`` (+ ``ci_warning`` when below ``MIN_VALID_FRACTION``) and ``quality``
    (:func:`climbflow.evaluate.quality.assess`).

    Every replicate averages the classes the point estimate kept; a replicate in which one of them has no positive
    (or no negative) left is invalid and not used (counted in ``n_valid``).
    """
    from climbflow.evaluate.quality import assess

    y_true, y_score = np.asarray(y_true, float), np.asarray(y_score, float)
    result = metrics_for(y_true, y_score, task, classes, threshold)
    keys = headline(task)
    n_patients = len(set(patients))
    if n_boot > 0 and len(y_true):
        fn = _replicate_fn(y_true, y_score, task, classes, threshold, kept_classes(result), keys)
        result["ci"] = {
            k: v.to_dict() | {"n_patients": n_patients}
            for k, v in bootstrap_ci(fn, len(y_true), patients, n_boot, seed=seed).items()
        }
        _ci_summary(result, n_boot, n_patients)
    result["quality"] = assess(task, result, result.get("ci"), n_patients if len(patients) else None)
    return result


def paired_comparison(
    y_true: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    patients: Sequence[str],
    task: str,
    classes: Sequence[str],
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Model A against model B on the same rows: ``{"a", "b"}`` (each model's metrics), ``delta`` (``{metric:
    {estimate, low, high, n_valid, n_boot}}``, A - B, paired patient-level bootstrap over the frozen class set),
    ``per_class_auc_delta`` (``{class: A - B}`` over the classes kept in this split), ``n_patients``, ``n_rows``.
    """
    y_true = np.asarray(y_true, float)
    score_a, score_b = np.asarray(score_a, float), np.asarray(score_b, float)
    a = metrics_for(y_true, score_a, task, classes, threshold)
    b = metrics_for(y_true, score_b, task, classes, threshold)
    keys = headline(task)
    kept = kept_classes(a)
    fn_a = _replicate_fn(y_true, score_a, task, classes, threshold, kept, keys)
    fn_b = _replicate_fn(y_true, score_b, task, classes, threshold, kept, keys)
    delta = paired_delta(fn_a, fn_b, len(y_true), patients, n_boot, seed=seed) if n_boot > 0 else {}
    per_class = {c: float(a["per_class"][c]["auc"] - b["per_class"][c]["auc"]) for c in (kept or [])}
    return {
        "task": task,
        "a": {k: a[k] for k in keys} | {"n": a["n"]},
        "b": {k: b[k] for k in keys} | {"n": b["n"]},
        "delta": {k: v.to_dict() for k, v in delta.items()},
        "per_class_auc_delta": per_class,
        "dropped_classes": list(a.get("dropped_classes") or []),
        "n_patients": len(set(patients)),
        "n_rows": len(y_true),
        "n_boot": n_boot,
        "ci_level": 0.95,
    }
