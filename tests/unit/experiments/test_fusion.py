"""`climb report fusion`: each strategy scored like every model (CIs) in JSON, Markdown and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, recall_score, roc_auc_score

from climbflow.experiments.fusion import run_fusion
from climbflow.registry.tracking import tracking_uri

# the EHR store alone: no pretraining, no text encoder
FAST = {"modalities": ["ehr"], "epochs": 2, "hidden": 16, "heads": 2}


def test_fusion_report_carries_the_shared_metrics_with_cis(tmp_path: Path, params_factory) -> None:
    from climbflow import sampledata

    src = sampledata.write("mimic4", tmp_path / "mimic4", 200, seed=0)
    params = params_factory({"mimic4": str(src)}, **{"evaluate.bootstrap": 100})
    params = params.model_copy(update={"fusion": params.fusion.model_copy(update=FAST)})
    result = run_fusion(params, ["late"], tmp_path / "report")

    (row,) = result["rows"]
    (model_dir,) = (tmp_path / "report" / "late").iterdir()
    pred = pd.read_parquet(model_dir / "test_predictions.parquet")
    y, p = pred["y_true"].to_numpy(), pred["y_pred"].to_numpy()
    oracle = {  # scikit-learn on the written predictions
        "macro_auc": roc_auc_score(y, p),
        "sensitivity": recall_score(y, p >= 0.5),
        "specificity": recall_score(1 - y, p < 0.5),
        "f1": f1_score(y, p >= 0.5),
    }
    for k, v in oracle.items():
        assert row["metrics"][f"test/{k}"] == pytest.approx(v, abs=1e-9), k
        ci = row["ci"][k]
        assert ci["low"] <= v <= ci["high"] and ci["n_boot"] == 100, (k, ci)
    assert row["n_patients"] == pred["patient_id"].nunique()
    assert row["quality"] in ("ok", "uncertain", "below_chance")

    saved = json.loads((tmp_path / "report" / "fusion.json").read_text())
    assert saved["rows"][0]["ci"]["macro_auc"]["low"] == pytest.approx(row["ci"]["macro_auc"]["low"])
    md = (tmp_path / "report" / "fusion.md").read_text()
    auc = row["ci"]["macro_auc"]
    cell = f"{row['metrics']['test/macro_auc']:.3f} [{auc['low']:.3f}, {auc['high']:.3f}]"
    assert f"| late | {cell} |" in md and "| sensitivity | specificity | f1 |" in md, md

    mlflow.set_tracking_uri(tracking_uri(params))
    runs = mlflow.search_runs(
        experiment_names=[params.workspace.experiment], filter_string="tags.`climb.stage` = 'fusion'"
    )
    assert runs["metrics.late.test.macro_auc.ci_low"].iloc[0] == pytest.approx(auc["low"])
    assert np.isfinite(runs["metrics.late.test.f1"].iloc[0])
