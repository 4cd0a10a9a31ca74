"""`climb report compare`: single-task vs multi-task arms scored on the same test split with paired CIs."""

from __future__ import annotations

import json
import shutil

import mlflow
import pytest

from climbflow.experiments.compare import run_compare
from climbflow.registry.tracking import tracking_uri

FAST = {
    "pretrain.epochs": 1,
    "pretrain.epochs_by_modality": {},
    "finetune.epochs": 1,
    "finetune.epochs_by_modality": {},
}


def test_one_dataset_per_modality_gives_identical_arms_and_a_zero_delta(
    sample_root, tmp_path, params_factory
):
    src = tmp_path / "ptbxl"
    shutil.copytree(sample_root / "ptbxl", src)
    params = params_factory({"ptbxl": str(src)}, **FAST, **{"evaluate.bootstrap": 50})
    result = run_compare(params, tmp_path / "report")

    (row,) = result["targets"]
    single, multi = row["arms"]["single_task"], row["arms"]["multi_task"]
    # with one ECG dataset, "all datasets of the modality" is the target alone: the same cached pretrain
    assert single["datasets"] == multi["datasets"] == ["ptbxl"]
    assert single["pretrained"] == multi["pretrained"]
    assert row["primary_metric"] == "macro_auc" and 0.0 <= multi["metrics"]["macro_auc"] <= 1.0
    # identical arms: zero gain in every valid replicate; the paired replicates are the arms' own (same patients,
    # seed and frozen class set), so exactly the same ones are valid
    n_valid = multi["ci"]["macro_auc"]["n_valid"]
    assert 1 <= n_valid <= 50
    assert row["delta"]["macro_auc"] == {
        "estimate": 0.0,
        "low": 0.0,
        "high": 0.0,
        "n_valid": n_valid,
        "n_boot": 50,
    }
    assert row["n_test"] > 0 and row["n_patients"] <= row["n_test"]

    out = tmp_path / "report"
    assert json.loads((out / "compare.json").read_text())["targets"][0]["target"] == "ptbxl"
    md = (out / "compare.md").read_text()
    assert "| ptbxl | ecg | macro_auc |" in md and "+0.000 [0.000, 0.000]" in md
    assert (out / "compare.png").stat().st_size > 1000

    mlflow.set_tracking_uri(tracking_uri(params))
    runs = mlflow.search_runs(
        experiment_names=[params.workspace.experiment], filter_string="tags.`climb.stage` = 'compare'"
    )
    assert len(runs) == 1 and runs["metrics.ptbxl.delta.macro_auc"].iloc[0] == pytest.approx(0.0)
