"""CLIMB-faithful classification metrics as a pure functional layer (numpy in, plain Python out).

The layout follows torchmetrics' functional style: ``checked_inputs`` checks the raw inputs, ``one_vs_rest``
turns every task into the same one-vs-rest representation (truth indicator matrix with a "known"
mask, scores, binary predictions), and ``_compute`` reduces that to metrics. Rules, from the CLIMB
code (``evaluate_classifier`` / fusion ``calculate_metrics``):

* Labels are ``(n, C)`` floats; ``NaN`` means "unknown" and such entries are excluded.
* Macro ROC-AUC is the mean one-vs-rest AUC over classes that are not degenerate, i.e. that have at
  least one positive and at least one negative among the known labels. Degenerate classes are dropped
  and listed in ``dropped_classes``. Macro sensitivity, specificity and F1 average over the same
  kept classes (CLIMB removes degenerate label columns before computing any metric).
* ``multilabel``: a label is predicted when ``score >= threshold``; a row with no predicted label gets
  its arg-max label forced on. Accuracy is ``1 - Hamming loss`` over the known entries.
* ``multiclass``: one-hot labels (a row containing NaN is skipped); prediction is the arg-max;
  accuracy is arg-max accuracy; per-class values come from the one-vs-rest view of the confusion
  matrix.
* ``binary``: ``C == 1`` (the column is the positive class) or ``C == 2`` (one-hot, column 1 is the
  positive class, its score is thresholded). Top-level values refer to the positive class and
  ``per_class`` holds that class only.

All returned numbers are plain ``float``/``int`` (NaN allowed), so the dict is JSON-serializable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Task = Literal["multilabel", "multiclass", "binary"]
TASKS: tuple[str, ...] = ("multilabel", "multiclass", "binary")
_PROB_TOL = 1e-6


@dataclass(frozen=True)
class _Formatted:
    """One-vs-rest view shared by all tasks (K = number of evaluated classes)."""

    task: str
    class_names: list[str]
    truth: np.ndarray  # (n, K) bool, meaningful where ``known``
    known: np.ndarray  # (n, K) bool
    scores: np.ndarray  # (n, K) float
    pred: np.ndarray  # (n, K) bool
    row_known: np.ndarray  # (n,) bool, rows that count towards ``n``


# --------------------------------------------------------------------------------------------- validate


def _as_2d(name: str, arr: Any) -> np.ndarray:
    """Return ``arr`` as a 2-D float array (a 1-D input becomes one column)."""
    out = np.asarray(arr, dtype=float)
    if out.ndim == 1:
        out = out.reshape(-1, 1)
    if out.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {out.shape}")
    return out


def checked_inputs(
    y_true: Any, y_score: Any, task: str, class_names: Sequence[str], threshold: float
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Check shapes, label values, score ranges and names; return float arrays and the name list."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    yt = _as_2d("y_true", y_true)
    ys = _as_2d("y_score", y_score)
    if yt.shape != ys.shape:
        raise ValueError(f"y_true {yt.shape} and y_score {ys.shape} must have the same shape")
    n_classes = yt.shape[1]
    names = [str(c) for c in class_names]
    if len(names) != n_classes:
        raise ValueError(f"{len(names)} class_names for {n_classes} columns")
    if len(set(names)) != len(names):
        raise ValueError(f"class_names must be unique: {names}")
    try:
        thr = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number, got {threshold!r}") from None
    if not 0.0 <= thr <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    if not np.all(np.isfinite(ys)):
        raise ValueError("y_score must be finite (no NaN/inf)")
    finite = yt[~np.isnan(yt)]
    if not np.all((finite == 0.0) | (finite == 1.0)):
        raise ValueError("known entries of y_true must be 0 or 1 (NaN = unknown)")
    if task in ("multilabel", "binary") and ys.size and (ys.min() < -_PROB_TOL or ys.max() > 1 + _PROB_TOL):
        raise ValueError(f"{task} y_score must be probabilities in [0, 1]")
    if task == "binary" and n_classes not in (1, 2):
        raise ValueError(f"binary task needs 1 or 2 columns, got {n_classes}")
    if task == "multiclass" and n_classes < 2:
        raise ValueError("multiclass task needs at least 2 columns")
    if task == "multiclass" or (task == "binary" and n_classes == 2):
        rows = ~np.isnan(yt).any(axis=1)
        if not np.all(yt[rows].sum(axis=1) == 1.0):
            raise ValueError(f"{task} y_true rows must be one-hot (or contain NaN to be skipped)")
    return yt, ys, names


# ----------------------------------------------------------------------------------------------- format


def predict_labels(y_score: Any, task: Task, threshold: float = 0.5) -> np.ndarray:
    """Binary ``(n, C)`` predictions following the CLIMB rules for ``task``.

    multilabel: ``score >= threshold`` with the arg-max label forced on for rows with no positive;
    multiclass: one-hot arg-max; binary: ``C == 1`` thresholds the column, ``C == 2`` thresholds
    column 1 and returns the one-hot ``[negative, positive]`` pair.
    """
    ys = _as_2d("y_score", y_score)
    n, n_classes = ys.shape
    if task == "multiclass":
        pred = np.zeros((n, n_classes), dtype=bool)
        if n:
            pred[np.arange(n), ys.argmax(axis=1)] = True
        return pred
    if task == "binary":
        pos = ys[:, -1] >= threshold
        return pos[:, None] if n_classes == 1 else np.stack([~pos, pos], axis=1)
    if task == "multilabel":
        pred = ys >= threshold
        empty = ~pred.any(axis=1)
        if n_classes and empty.any():
            rows = np.flatnonzero(empty)
            pred[rows, ys[rows].argmax(axis=1)] = True
        return pred
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def one_vs_rest(yt: np.ndarray, ys: np.ndarray, task: str, names: list[str], threshold: float) -> _Formatted:
    """Map validated inputs to the shared one-vs-rest representation."""
    pred = predict_labels(ys, task, threshold)  # type: ignore[arg-type]
    if task == "multilabel":
        known = ~np.isnan(yt)
        return _Formatted(task, names, yt == 1.0, known, ys, pred, known.any(axis=1))
    row_known = ~np.isnan(yt).any(axis=1)
    if task == "binary":
        col = yt.shape[1] - 1
        known = np.repeat(row_known[:, None], 1, axis=1)
        return _Formatted(
            task, [names[col]], yt[:, [col]] == 1.0, known, ys[:, [col]], pred[:, [col]], row_known
        )
    known = np.repeat(row_known[:, None], yt.shape[1], axis=1)
    return _Formatted(task, names, yt == 1.0, known, ys, pred, row_known)


# ---------------------------------------------------------------------------------------------- compute


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    _, first, counts = np.unique(x[order], return_index=True, return_counts=True)
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def binary_auc(truth: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC of bool ``truth`` via the Mann-Whitney U statistic (ties count one half); NaN when degenerate."""
    truth = np.asarray(truth, dtype=bool)
    n_pos = int(truth.sum())
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    u = _average_ranks(np.asarray(score, dtype=float))[truth].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def column_aucs(y_true: Any, y_score: Any) -> list[float]:
    """One-vs-rest AUC of every column of ``(n, C)`` labels over its known (non-NaN) rows; NaN where degenerate."""
    yt, ys = _as_2d("y_true", y_true), _as_2d("y_score", y_score)
    known = ~np.isnan(yt)
    return [binary_auc(yt[known[:, c], c] == 1.0, ys[known[:, c], c]) for c in range(yt.shape[1])]


def roc_curve(
    y_true: Any, y_score: Any, drop_intermediate: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` of one class over its known (non-NaN) labels.

    Matches ``sklearn.metrics.roc_curve(..., drop_intermediate=...)``: ``True`` drops the thresholds that lie on a
    straight segment of the curve. Raises ``ValueError`` when the known labels lack positives or negatives.
    """
    yt = np.asarray(y_true, dtype=float).ravel()
    ys = np.asarray(y_score, dtype=float).ravel()
    if yt.shape != ys.shape:
        raise ValueError(f"y_true {yt.shape} and y_score {ys.shape} must have the same shape")
    keep = ~np.isnan(yt)
    truth, score = yt[keep] == 1.0, ys[keep]
    n_pos = int(truth.sum())
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_curve needs at least one positive and one negative known label")
    order = np.argsort(-score, kind="mergesort")
    score, truth = score[order], truth[order]
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tps = np.cumsum(truth)[last]
    fps = last + 1 - tps
    if drop_intermediate and len(fps) > 2:
        corner = np.r_[True, (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0), True]
        last, tps, fps = last[corner], tps[corner], fps[corner]
    return (
        np.r_[0.0, fps / n_neg],
        np.r_[0.0, tps / n_pos],
        np.r_[np.inf, score[last]],
    )


def _ratio(num: int, den: int) -> float:
    return float(num / den) if den else math.nan


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _per_class(f: _Formatted, k: int) -> tuple[dict[str, Any], bool]:
    """Metrics of class ``k`` over its known rows, and whether it is usable (non-degenerate)."""
    m = f.known[:, k]
    truth, pred, score = f.truth[m, k], f.pred[m, k], f.scores[m, k]
    tp = int(np.sum(truth & pred))
    fp = int(np.sum(~truth & pred))
    fn = int(np.sum(truth & ~pred))
    tn = int(np.sum(~truth & ~pred))
    n_known = tp + fp + fn + tn
    support = tp + fn
    usable = 0 < support < n_known
    return {
        "auc": binary_auc(truth, score) if usable else math.nan,
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "support": support,
        "n_known": n_known,
        "prevalence": _ratio(support, n_known),
    }, usable


def _accuracy(f: _Formatted) -> float:
    """1 - Hamming loss over known entries (multilabel) or exact-match rate over known rows."""
    if f.task == "multilabel":
        hits = (f.truth == f.pred)[f.known]
    else:
        hits = np.all(f.truth == f.pred, axis=1)[f.row_known]
    return float(hits.mean()) if hits.size else math.nan


def _compute(f: _Formatted, threshold: float, classes_used: Sequence[str] | None = None) -> dict[str, Any]:
    """Reduce the formatted view to the metrics dictionary.

    ``classes_used`` freezes the averaged class set (a bootstrap replicate averages the classes kept by the point
    estimate): if any of them is degenerate here, the macro values are NaN and ``invalid_classes`` names them,
    instead of silently averaging a different class set.
    """
    per_class: dict[str, dict[str, Any]] = {}
    kept: list[str] = []
    dropped: list[str] = []
    for k, name in enumerate(f.class_names):
        per_class[name], usable = _per_class(f, k)
        (kept if usable else dropped).append(name)
    invalid: list[str] = []
    if classes_used is not None:
        unknown = [c for c in classes_used if c not in per_class]
        if unknown:
            raise ValueError(f"classes_used not among the evaluated classes: {unknown}")
        invalid = [c for c in classes_used if c not in kept]
        kept = list(classes_used)
        dropped = [c for c in f.class_names if c not in kept]
    n = int(f.row_known.sum())
    if n == 0:
        reason: str | None = "no labelled rows (all labels unknown)"
    elif invalid:
        reason = f"frozen class(es) degenerate in this sample: {', '.join(invalid)}"
    elif not kept:
        reason = "no usable class: every class has no positives or only positives among known labels"
    else:
        reason = None

    def macro(key: str) -> float:
        return math.nan if invalid else _mean([per_class[c][key] for c in kept])

    return {
        "task": f.task,
        "threshold": float(threshold),
        "n": n,
        "macro_auc": macro("auc"),
        "sensitivity": macro("sensitivity"),
        "specificity": macro("specificity"),
        "f1": macro("f1"),
        "accuracy": _accuracy(f),
        "n_classes_used": len(kept),
        "per_class": per_class,
        "dropped_classes": dropped,
        "invalid_classes": invalid,
        "reason": reason,
    }


# ----------------------------------------------------------------------------------------------- public


def classification_metrics(
    y_true: np.ndarray,
    y_score: np.ndarray,
    task: Task,
    class_names: Sequence[str],
    threshold: float = 0.5,
    classes_used: Sequence[str] | None = None,
) -> dict[str, Any]:
    """CLIMB metrics for one dataset.

    Args:
        y_true: ``(n, C)`` labels in {0, 1}; NaN marks an unknown label (multiclass/binary: a row
            with any NaN is skipped).
        y_score: ``(n, C)`` probabilities (multiclass may also pass logits; only arg-max is used
            for predictions).
        task: ``"multilabel"``, ``"multiclass"`` or ``"binary"`` (``C`` in {1, 2}).
        class_names: one unique name per column.
        threshold: decision threshold for multilabel/binary (``score >= threshold`` is positive).
        classes_used: average the macro values over exactly these classes (default: the non-degenerate
            ones). A listed class that is degenerate in this data makes the macro values NaN and is named in
            ``invalid_classes`` (a bootstrap replicate that lost a class of the point estimate is invalid).

    Returns:
        ``{"task", "threshold", "n", "macro_auc", "sensitivity", "specificity", "f1", "accuracy",
        "n_classes_used", "per_class": {name: {"auc", "sensitivity", "specificity", "f1",
        "support", "n_known", "prevalence"}}, "dropped_classes": [...], "invalid_classes": [...],
        "reason": str | None}``.
        Macro values are NaN (with ``reason`` set) when no class is usable.
    """
    yt, ys, names = checked_inputs(y_true, y_score, task, class_names, threshold)
    return _compute(one_vs_rest(yt, ys, task, names, float(threshold)), float(threshold), classes_used)


def confusion_matrices(
    y_true: np.ndarray,
    y_pred_bin: np.ndarray,
    class_names: Sequence[str],
    task: Task = "multilabel",
) -> dict[str, np.ndarray] | np.ndarray:
    """Confusion counts over known labels.

    multilabel: ``{name: [[tn, fp], [fn, tp]]}`` per class (sklearn layout, rows = truth);
    binary: the same for the positive class only; multiclass: a ``(C, C)`` int array, rows = true
    class, columns = predicted class (arg-max of ``y_pred_bin``), in ``class_names`` order.
    """
    yt = _as_2d("y_true", y_true)
    yp = _as_2d("y_pred_bin", y_pred_bin)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true {yt.shape} and y_pred_bin {yp.shape} must have the same shape")
    names = [str(c) for c in class_names]
    if len(names) != yt.shape[1]:
        raise ValueError(f"{len(names)} class_names for {yt.shape[1]} columns")
    if task == "multiclass":
        rows = ~np.isnan(yt).any(axis=1)
        n_classes = yt.shape[1]
        cm = np.zeros((n_classes, n_classes), dtype=np.int64)
        np.add.at(cm, (yt[rows].argmax(axis=1), yp[rows].argmax(axis=1)), 1)
        return cm
    if task not in ("multilabel", "binary"):
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    cols = range(yt.shape[1]) if task == "multilabel" else [yt.shape[1] - 1]
    out: dict[str, np.ndarray] = {}
    for k in cols:
        m = ~np.isnan(yt[:, k])
        truth, pred = yt[m, k] == 1.0, yp[m, k] >= 0.5
        out[names[k]] = np.array(
            [
                [np.sum(~truth & ~pred), np.sum(~truth & pred)],
                [np.sum(truth & ~pred), np.sum(truth & pred)],
            ],
            dtype=np.int64,
        )
    return out
