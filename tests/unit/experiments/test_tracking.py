"""The experiments' one MLflow helper: each report's run carries its stage tag, its metrics and its folder."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow
import pytest

from climbflow.experiments import compare, fewshot, fusion
from climbflow.experiments.tracking import log_report
from climbflow.registry.tracking import tracking_uri

NAN = float("nan")


def _run(params, stage: str):
    mlflow.set_tracking_uri(tracking_uri(params))
    runs = mlflow.search_runs(
        experiment_names=[params.workspace.experiment],
        filter_string=f"tags.`climb.stage` = '{stage}'",
        output_format="list",
    )
    assert len(runs) == 1, stage
    run = runs[0]
    arts = [a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, stage)]
    return run, arts


def _folder(tmp_path: Path, name: str) -> Path:
    out = tmp_path / name
    out.mkdir()
    (out / f"{name}.md").write_text("# report\n")
    return out


def test_each_experiment_logs_one_run_with_its_metrics_and_report(tmp_path: Path, params_factory) -> None:
    params = params_factory({})
    row = {"primary_metric": "macro_auc", "arms": {}, "delta": {"macro_auc": {"estimate": 0.05}}}
    row["arms"] = {
        "single_task": {"metrics": {"macro_auc": 0.7}},
        "multi_task": {"metrics": {"macro_auc": 0.75}},
    }
    compare._log_to_mlflow(params, {"targets": [row | {"target": "ptbxl"}]}, _folder(tmp_path, "compare"))
    rows = [
        {"target": "ptbxl", "k": 4, "metric": "macro_auc", "value": 0.6},
        {"target": "ptbxl", "k": None, "metric": "macro_auc", "value": 0.8},
        {"target": "ptbxl", "k": 8, "metric": "macro_auc", "value": NAN},  # NaN: not logged
    ]
    fewshot._log(params, {"rows": rows}, _folder(tmp_path, "fewshot"))
    strategies = [
        {
            "strategy": s,
            "metrics": {"test/macro_auc": v, "test/f1": NAN},
            "ci": {"macro_auc": {"low": v - 0.1, "high": NAN}},
        }
        for s, v in (("late", 0.7), ("gated", 0.6))
    ]
    fusion._log(params, {"rows": strategies}, _folder(tmp_path, "fusion"))

    expected = {
        "compare": {
            "ptbxl.single_task.macro_auc": 0.7,
            "ptbxl.multi_task.macro_auc": 0.75,
            "ptbxl.delta.macro_auc": 0.05,
        },
        "fewshot": {"ptbxl.k4.macro_auc": 0.6, "ptbxl.kall.macro_auc": 0.8},
        "fusion": {
            "late.test.macro_auc": 0.7,
            "late.test.macro_auc.ci_low": pytest.approx(0.6),
            "gated.test.macro_auc": 0.6,
            "gated.test.macro_auc.ci_low": pytest.approx(0.5),
        },
    }
    for stage, metrics in expected.items():
        run, arts = _run(params, stage)
        assert run.data.metrics == metrics, stage
        assert run.data.tags["climb.git_commit"] and arts == [f"{stage}/{stage}.md"], (stage, arts)
    assert _run(params, "compare")[0].info.run_name == "compare multitask vs single-task"


def test_log_report_logs_metrics_as_given(tmp_path: Path, params_factory) -> None:
    params = params_factory({})
    log_report(params, "probe", "probe run", {"a": 1.5, "b": NAN}, _folder(tmp_path, "probe"))
    run, arts = _run(params, "probe")
    assert run.data.metrics["a"] == 1.5 and math.isnan(run.data.metrics["b"]) and arts == ["probe/probe.md"]
    assert run.info.run_name == "probe run"
