"""Score one model's predictions on a test split: the task's metrics plus patient-level bootstrap CIs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from climbflow.evaluate.bootstrap import bootstrap_ci
from climbflow.evaluate.metrics import classification_metrics
from climbflow.evaluate.regression import regression_metrics

CLASSIFICATION_HEADLINE = ("macro_auc", "sensitivity", "specificity", "f1", "accuracy")
REGRESSION_HEADLINE = ("mae", "rmse", "r2", "pearson_r")


def headline(task: str) -> tuple[str, ...]:
    return REGRESSION_HEADLINE if task == "regression" else CLASSIFICATION_HEADLINE


def primary_metric(task: str) -> str:
    """The metric a comparison or promotion gate looks at first (higher is better except MAE)."""
    return "mae" if task == "regression" else "macro_auc"


def higher_is_better(metric: str) -> bool:
    return metric not in ("mae", "rmse")


def metrics_for(
    y_true: np.ndarray, y_score: np.ndarray, task: str, classes: Sequence[str], threshold: float
) -> dict[str, Any]:
    if task == "regression":
        return regression_metrics(y_true, y_score)
    return classification_metrics(y_true, y_score, task, classes, threshold)  # type: ignore[arg-type]


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
    """Metrics of the task with ``ci``: ``{metric: {estimate, low, high, n_valid}}`` for the headline metrics."""
    y_true, y_score = np.asarray(y_true, float), np.asarray(y_score, float)
    result = metrics_for(y_true, y_score, task, classes, threshold)
    keys = headline(task)

    def fn(rows: np.ndarray) -> dict[str, float]:
        m = metrics_for(y_true[rows], y_score[rows], task, classes, threshold)
        return {k: float(m[k]) for k in keys}

    if n_boot > 0 and len(y_true):
        result["ci"] = {
            k: v.to_dict() for k, v in bootstrap_ci(fn, len(y_true), patients, n_boot, seed=seed).items()
        }
        result["ci_level"] = 0.95
        result["n_patients"] = len(set(patients))
    return result
