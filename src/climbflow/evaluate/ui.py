"""What the Kubeflow UI shows for an evaluation: ROC points and a confusion matrix (``ui.json``), and a
self-contained HTML page of the report. Written by the evaluate stage; the KFP component only copies them."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np

from climbflow.evaluate.metrics import confusion_matrices, predict_labels, roc_curve

UI_FILE = "ui.json"
MAX_ROC_POINTS = 200


def ui_payload(
    y_true: np.ndarray, y_prob: np.ndarray, task: str, classes: list[str], threshold: float
) -> dict[str, Any]:
    """ROC curve (micro-average over known labels; at most 200 points) and confusion matrix for the UI.

    multiclass: the class-by-class matrix of arg-max predictions; binary / multilabel: negative/positive over
    every known label at ``threshold``. Regression has neither (``{}``); a curve needs both outcomes present.
    """
    if task == "regression":
        return {}
    y_true, y_prob = np.asarray(y_true, float), np.asarray(y_prob, float)
    if task == "multiclass":
        known = ~np.isnan(y_true).any(axis=1)
        names = list(classes)
        matrix = confusion_matrices(y_true, predict_labels(y_prob, "multiclass"), names, "multiclass")
        flat_t, flat_s = np.eye(len(names))[y_true[known].argmax(1)].ravel(), y_prob[known].ravel()
    else:
        known = ~np.isnan(y_true)
        flat_t, flat_s = y_true[known], y_prob[known]
        names = ["negative", "positive"]
        matrix = confusion_matrices(flat_t, flat_s >= threshold, ["positive"], "binary")["positive"]
    out: dict[str, Any] = {
        "confusion": {"classes": names, "matrix": [[int(v) for v in row] for row in matrix]}
    }
    if 0 < flat_t.sum() < flat_t.size:
        fpr, tpr, thr = roc_curve(flat_t, flat_s, drop_intermediate=True)
        keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), MAX_ROC_POINTS)).astype(int))
        out["roc"] = {
            "fpr": [float(v) for v in fpr[keep]],
            "tpr": [float(v) for v in tpr[keep]],
            "thresholds": [float(min(v, 1.0)) for v in thr[keep]],
        }
    return out


def html_page(title: str, markdown_text: str, images: list[Path]) -> str:
    """The report as one self-contained HTML page (text + PNGs inlined; nothing fetched)."""
    inlined = "".join(
        f'<img alt="{html.escape(p.name)}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        for p in images
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><pre>{html.escape(markdown_text)}</pre>{inlined}</body></html>\n"
    )
