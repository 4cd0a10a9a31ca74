"""KFP component `evaluate`: test-split metrics + report of a finetuned model (registers it as challenger),
plus what the Kubeflow UI shows: Metrics (headline numbers), ClassificationMetrics (ROC curve and confusion
matrix, recomputed from the model's test-split predictions), the report as Markdown and as HTML."""

from typing import List

from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Markdown, Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate(
    params_json: str,
    tracking_json: str,
    target: str,
    model: str,
    standardized: List[str],
    metrics: Output[Metrics],
    classification: Output[ClassificationMetrics],
    report: Output[Markdown],
    report_html: Output[HTML],
) -> str:
    """Test-split metrics + report for a finetuned model; registers it as challenger in MLflow."""
    from climbflow.stages import execute_json

    uri = execute_json(
        "evaluate", params_json, tracking_json, target=target, model=model, standardized=standardized
    )

    # --- Kubeflow UI artifacts (presentation only: the numbers come from the stage's report and model) ---
    import base64
    import html
    import json
    import math
    from pathlib import Path

    import numpy as np

    from climbflow.stages.base import read_report

    rep = read_report(uri)
    for name, value in sorted(rep["metrics"].items()):
        if isinstance(value, (int, float)) and math.isfinite(value):
            metrics.log_metric(name, float(value))
    metrics.log_metric("n_test", float(rep["n_test"]))
    metrics.metadata["data_version"] = rep["data_version"]

    if rep.get("task", "multilabel") != "regression":
        from sklearn.metrics import confusion_matrix, roc_curve

        from climbflow.stages.common import pick_store
        from climbflow.train.fit import load_model, predict

        params = json.loads(params_json)
        fine = read_report(model)
        net = load_model(Path(model) / fine["model"])
        store = pick_store(standardized, target)
        y_true, y_prob, _ = predict(net, Path(store), "test", params["finetune"]["batch_size"])
        threshold = float(params["evaluate"]["threshold"])
        if rep["task"] == "multiclass":
            known = ~np.isnan(y_true).any(axis=1)
            truth, pred = y_true[known].argmax(1), y_prob[known].argmax(1)
            classes = list(net.classes)
            matrix = confusion_matrix(truth, pred, labels=list(range(len(classes))))
            flat_t = np.eye(len(classes))[truth].ravel()
            flat_s = y_prob[known].ravel()
        else:  # binary / multilabel: micro-average over the known (non-NaN) labels
            known = ~np.isnan(y_true)
            flat_t, flat_s = y_true[known], y_prob[known]
            classes = ["negative", "positive"]
            matrix = confusion_matrix(flat_t.astype(int), (flat_s >= threshold).astype(int), labels=[0, 1])
        if 0 < flat_t.sum() < flat_t.size:
            fpr, tpr, thr = roc_curve(flat_t, flat_s)
            keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
            classification.log_roc_curve(
                [float(v) for v in fpr[keep]],
                [float(v) for v in tpr[keep]],
                [float(min(v, 1.0)) for v in thr[keep]],
            )
        classification.log_confusion_matrix(classes, [[int(v) for v in row] for row in matrix])

    md = Path(uri) / "report.md"
    text = md.read_text() if md.exists() else f"# {target}\n\n{json.dumps(rep['metrics'], indent=2)}\n"
    Path(report.path).write_text(text)
    images = "".join(
        f'<img alt="{p.name}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        for p in sorted(Path(uri).glob("*.png"))
    )
    Path(report_html.path).write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(target)}</title></head>"
        f"<body><pre>{html.escape(text)}</pre>{images}</body></html>\n"
    )
    return uri
