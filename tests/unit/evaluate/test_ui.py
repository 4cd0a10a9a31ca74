"""Kubeflow UI payload of an evaluation: confusion counts, ROC end points, regression, HTML page."""

from __future__ import annotations

import numpy as np

from climbflow.evaluate.ui import html_page, ui_payload


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
    assert "<b>" not in page and "&lt;b&gt;" in page and "data:image/png;base64," in page and "http" not in page
