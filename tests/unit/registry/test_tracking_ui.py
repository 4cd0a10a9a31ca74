"""What the MLflow UI shows for climbflow runs, read back from a real local sqlite MLflow: the experiment is a
model-training one, parent runs have readable names, CIs are metrics and stage runs list their datasets."""

from __future__ import annotations

import json

import pytest

from climbflow.stages.base import StageResult

CI = {
    "macro_auc": {
        "estimate": 0.8,
        "low": 0.71,
        "high": 0.88,
        "n_valid": 200,
        "n_boot": 200,
        "n_patients": 40,
    },
    "f1": {"estimate": 0.5, "low": float("nan"), "high": float("nan"), "n_valid": 0, "n_boot": 200},
}


@pytest.fixture
def params(params_factory, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return params_factory({"ptbxl": str(tmp_path / "no-source")}, **{"evaluate.register_model": False})


def evaluate_result(tmp_path, cache_hit: bool = False, name: str = "evaluation") -> StageResult:
    out = tmp_path / name
    out.mkdir(exist_ok=True)
    report = {
        "stage": "evaluate",
        "target": "ptbxl",
        "standardized": "s3://user:secret@bucket/standardized/ptbxl/k1",
        "data_version": "0123456789abcdef0123456789abcdef.dir",
        "pretrain_data_versions": {
            "cinc2021": "feedbeef.dir",
            "ptbxl": "0123456789abcdef0123456789abcdef.dir",
        },
        "n_test": 40,
        "task": "multilabel",
        "metrics": {"macro_auc": 0.8, "f1": 0.5},
        "ci": CI,
    }
    return StageResult("evaluate", "ptbxl", str(out), report, cache_hit, 1.5)


def test_experiment_is_a_model_training_experiment(params):
    from climbflow.registry import tracking

    mlflow, client = tracking.mlflow_client(params)
    exp = client.get_experiment(tracking.experiment_id(params))
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"


def test_an_existing_experiment_gets_the_kind_and_a_chosen_kind_is_kept(params):
    from climbflow.registry import tracking

    mlflow, client = tracking.mlflow_client(params)
    exp_id = client.create_experiment(params.workspace.experiment)  # as made before this change
    tracking.experiment_id(params)
    assert client.get_experiment(exp_id).tags["mlflow.experimentKind"] == "custom_model_development"
    client.set_experiment_tag(exp_id, "mlflow.experimentKind", "genai_development")
    tracking.experiment_id(params)
    assert client.get_experiment(exp_id).tags["mlflow.experimentKind"] == "genai_development"


def test_parent_run_names_say_datasets_what_changed_and_what_was_cached(params, params_factory, tmp_path):
    from climbflow.registry import tracking

    mlflow, client = tracking.mlflow_client(params)
    first = tracking.start_pipeline_run(params, "pr-1")
    name = client.get_run(first).info.run_name
    assert name != "climb run" and "ptbxl → ptbxl" in name and name.endswith("first run")

    tracking.log_stage(params, evaluate_result(tmp_path, cache_hit=True), first, "pr-1")
    tracking.finish_pipeline_run(params, first, "FINISHED", {})
    assert client.get_run(first).info.run_name == f"{name} · stages all cached"

    same = tracking.start_pipeline_run(params, "pr-2")
    assert client.get_run(same).info.run_name.endswith("same params")
    tracking.finish_pipeline_run(params, same, "FINISHED", {})

    overrides = {"finetune.lr": 0.5, "evaluate.register_model": False}
    changed = params_factory({"ptbxl": str(tmp_path / "no-source")}, **overrides)
    third = tracking.start_pipeline_run(changed, "pr-3", run_name="kubeflow run abcd1234")
    tracking.log_stage(changed, evaluate_result(tmp_path), third, "pr-3")
    tracking.log_stage(changed, evaluate_result(tmp_path, cache_hit=True, name="other"), third, "pr-3")
    tracking.finish_pipeline_run(changed, third, "FINISHED", {})
    name = client.get_run(third).info.run_name
    assert name.startswith("kubeflow run abcd1234 · ")
    assert "changed finetune.lr" in name and name.endswith("stages 1 new, 1 cached")


def test_evaluate_run_logs_ci_bounds_as_metrics(params, tmp_path):
    from climbflow.registry import tracking

    mlflow, client = tracking.mlflow_client(params)
    parent = tracking.start_pipeline_run(params, "pr-ci")
    run_id = tracking.log_stage(params, evaluate_result(tmp_path), parent, "pr-ci")
    metrics = client.get_run(run_id).data.metrics
    assert metrics["macro_auc_ci_low"] == pytest.approx(0.71)
    assert metrics["macro_auc_ci_high"] == pytest.approx(0.88)
    assert "f1_ci_low" not in metrics and "f1_ci_high" not in metrics  # NaN bounds: no interval, no metric


def test_evaluate_run_lists_its_datasets(params, tmp_path):
    from climbflow.registry import tracking

    mlflow, client = tracking.mlflow_client(params)
    parent = tracking.start_pipeline_run(params, "pr-data")
    run_id = tracking.log_stage(params, evaluate_result(tmp_path), parent, "pr-data")
    inputs = client.get_run(run_id).inputs.dataset_inputs
    by_context = {
        (i.dataset.name, next(t.value for t in i.tags if t.key == "mlflow.data.context")): i.dataset
        for i in inputs
    }
    # the target's store was also pretrained on: one input, both roles
    assert set(by_context) == {("cinc2021", "pretrain"), ("ptbxl", "pretrain,test")}
    test = by_context[("ptbxl", "pretrain,test")]
    assert json.loads(test.source)["dvc_md5"] == "0123456789abcdef0123456789abcdef.dir"
    assert "secret" not in test.source and "s3://" in test.source
    assert json.loads(test.profile) == {"n_test": 40, "split": "test"}


def test_standardize_run_lists_split_sizes_and_dvc_version(params, tmp_path):
    from climbflow.registry import tracking

    mlflow, client = tracking.mlflow_client(params)
    parent = tracking.start_pipeline_run(params, "pr-std")
    report = {"dataset": "ptbxl", "n_samples": 30, "splits": {"test": 6, "train": 20, "val": 4}}
    result = StageResult("standardize", "ptbxl", str(tmp_path / "std"), report, True, 0.1)
    result.extra["data_version"] = {"md5": "abcabcabcabcabcabcabcabcabcabcab.dir", "remote": "local"}
    run_id = tracking.log_stage(params, result, parent, "pr-std")
    (only,) = client.get_run(run_id).inputs.dataset_inputs
    assert only.dataset.name == "ptbxl" and only.dataset.digest.startswith("abcabcabc")
    assert json.loads(only.dataset.profile)["splits"] == {"test": 6, "train": 20, "val": 4}
    assert [t.value for t in only.tags if t.key == "mlflow.data.context"] == ["standardized"]
    (on_parent,) = client.get_run(parent).inputs.dataset_inputs  # shown in the run list's Dataset column
    assert on_parent.dataset.name == "ptbxl" and on_parent.dataset.digest == only.dataset.digest
