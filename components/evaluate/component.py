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
    pipeline_run_id: str,
    target: str,
    model: str,
    standardized: List[str],
    metrics: Output[Metrics],
    classification: Output[ClassificationMetrics],
    report: Output[Markdown],
    report_html: Output[HTML],
) -> str:
    """Test-split metrics + report for a finetuned model; registers it as challenger in MLflow."""
    from climbflow.tasks import execute_json

    uri = execute_json(
        "evaluate",
        params_json,
        tracking_json,
        pipeline_run_id=pipeline_run_id,
        target=target,
        model=model,
        standardized=standardized,
    )

    # --- Kubeflow UI artifacts: copied from what the stage wrote (no computation here) ---
    import json
    import math
    from pathlib import Path

    from climbflow.evaluate.ui import UI_FILE, html_page
    from climbflow.stages.base import read_report
    from climbflow.store.uri import local_copy

    rep = read_report(uri)
    for name, value in sorted(rep["metrics"].items()):
        if isinstance(value, (int, float)) and math.isfinite(value):
            metrics.log_metric(name, float(value))
    metrics.log_metric("n_test", float(rep["n_test"]))
    metrics.metadata["data_version"] = rep["data_version"]
    out = local_copy(uri)  # the published output (downloaded once when the workspace is s3://)
    ui_file = out / UI_FILE
    ui = json.loads(ui_file.read_text()) if ui_file.exists() else {}
    if "roc" in ui:
        classification.log_roc_curve(ui["roc"]["fpr"], ui["roc"]["tpr"], ui["roc"]["thresholds"])
    if "confusion" in ui:
        classification.log_confusion_matrix(ui["confusion"]["classes"], ui["confusion"]["matrix"])
    text = (out / "report.md").read_text()
    Path(report.path).write_text(text)
    Path(report_html.path).write_text(html_page(target, text, sorted(out.glob("*.png"))))
    return uri
