"""Kubeflow UI payload of an evaluation: confusion counts, ROC end points, regression, HTML page."""

from __future__ import annotations

import numpy as np
import pytest

from climbflow.evaluate.ui import MAX_ROC_POINTS, html_page, ui_payload


def test_binary_confusion_counts_known_labels_and_roc_spans_0_to_1() -> None:
    y = np.array([[1.0, 0.0], [0.0, np.nan], [1.0, 1.0], [0.0, 0.0]])
    p = np.array([[0.9, 0.2], [0.7, 0.9], [0.4, 0.8], [0.1, 0.6]])
    ui = ui_payload(y, p, "multilabel", ["a", "b"], 0.5)
    # known labels: truth 1,0,0,1,1,0,0 vs predicted 1,0,1,0,1,0,1
    assert ui["confusion"] == {"classes": ["negative", "positive"], "matrix": [[2, 2], [1, 2]]}
    assert ui["roc"]["fpr"][0] == 0.0 and ui["roc"]["fpr"][-1] == 1.0 and ui["roc"]["tpr"][-1] == 1.0


def test_multiclass_matrix_and_regression_has_no_payload() -> None:
    y = np.eye(3)[[0, 1, 2, 2]]
    p = np.eye(3)[[0, 2, 2, 1]] * 0.8 + 0.05
    ui = ui_payload(y, p, "multiclass", ["x", "y", "z"], 0.5)
    assert ui["confusion"]["matrix"] == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert ui_payload(np.array([[50.0]]), np.array([[48.0]]), "regression", ["EF"], 0.5) == {}
    no_positive = ui_payload(np.zeros((3, 1)), np.full((3, 1), 0.2), "binary", ["x"], 0.5)
    assert "roc" not in no_positive and no_positive["confusion"]["matrix"] == [[3, 0], [0, 0]]


def test_html_page_escapes_text_and_inlines_images(tmp_path) -> None:
    png = tmp_path / "roc.png"
    png.write_bytes(b"\x89PNG fake")
    page = html_page("t<1>", "a | <b>", [png])
    assert (
        "<b>" not in page and "&lt;b&gt;" in page and "data:image/png;base64," in page and "http" not in page
    )


def _sklearn_payload(y_true: np.ndarray, y_prob: np.ndarray, task: str, threshold: float) -> dict:
    """The payload as scikit-learn draws it (confusion_matrix, roc_curve with its default drop_intermediate)."""
    from sklearn.metrics import confusion_matrix, roc_curve

    if task == "multiclass":
        known = ~np.isnan(y_true).any(axis=1)
        truth, pred = y_true[known].argmax(1), y_prob[known].argmax(1)
        matrix = confusion_matrix(truth, pred, labels=list(range(y_true.shape[1])))
        flat_t, flat_s = np.eye(y_true.shape[1])[truth].ravel(), y_prob[known].ravel()
    else:
        known = ~np.isnan(y_true)
        flat_t, flat_s = y_true[known], y_prob[known]
        matrix = confusion_matrix(flat_t.astype(int), (flat_s >= threshold).astype(int), labels=[0, 1])
    fpr, tpr, thr = roc_curve(flat_t, flat_s)
    return {"matrix": matrix.tolist(), "fpr": fpr, "tpr": tpr, "thr": np.minimum(thr, 1.0)}


@pytest.mark.parametrize("task", ["multilabel", "binary", "multiclass"])
@pytest.mark.parametrize("seed", range(3))
def test_payload_equals_scikit_learn_on_random_inputs_with_ties(task: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, c = 500, {"multilabel": 4, "binary": 1, "multiclass": 3}[task]
    if task == "multiclass":
        y = np.eye(c)[rng.integers(0, c, n)]
        p = rng.dirichlet(np.ones(c), n).round(2)
        y[rng.random(n) < 0.1] = np.nan
    else:
        y = (rng.random((n, c)) < 0.3).astype(float)
        p = rng.random((n, c)).round(2)  # ties
        y[rng.random((n, c)) < 0.1] = np.nan
    ui = ui_payload(y, p, task, [f"c{k}" for k in range(c)], 0.4)
    ref = _sklearn_payload(y, p, task, 0.4)
    assert ui["confusion"]["matrix"] == ref["matrix"]
    assert len(ref["fpr"]) <= MAX_ROC_POINTS  # every point kept: the curves must be equal point for point
    assert ui["roc"] == {
        "fpr": ref["fpr"].tolist(),
        "tpr": ref["tpr"].tolist(),
        "thresholds": ref["thr"].tolist(),
    }
