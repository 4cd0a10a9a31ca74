"""The stage chain tracked in a real `mlflow server` whose artifacts live on the real SeaweedFS S3 server."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from climbflow.tasks import execute_tracked

pytestmark = pytest.mark.integration


def test_chain_logs_child_runs_and_registers_challenger(sample_root, s3_env, mlflow_server, params_factory):
    import mlflow
    from mlflow.tracking import MlflowClient

    from climbflow.registry import tracking
    from climbflow.train.fit import load_model

    params = params_factory(
        {"ptbxl": str(sample_root / "ptbxl")},
        **{
            "workspace.tracking_uri": mlflow_server,
            "workspace.experiment": "it-chain",
            "pretrain.epochs": 1,
            "finetune.epochs": 1,
        },
    )
    parent = tracking.start_pipeline_run(params, "it-run-1")
    ctx = {"parent_run_id": parent, "pipeline_run_id": "it-run-1"}
    snap = execute_tracked("ingest", params, ctx, dataset="ptbxl")
    val = execute_tracked("validate", params, ctx, dataset="ptbxl", snapshot=snap.uri)
    std = execute_tracked("standardize", params, ctx, dataset="ptbxl", snapshot=snap.uri, validation=val.uri)
    pre = execute_tracked("pretrain", params, ctx, modality="ecg", standardized=[std.uri])
    fine = execute_tracked("finetune", params, ctx, target="ptbxl", pretrained=pre.uri, standardized=std.uri)
    ev = execute_tracked("evaluate", params, ctx, target="ptbxl", model=fine.uri, standardized=std.uri)
    tracking.finish_pipeline_run(
        params, parent, "FINISHED", {"ptbxl.macro_auc": ev.report["metrics"]["macro_auc"]}
    )

    client = MlflowClient(mlflow_server)
    children = tracking.child_runs(params, parent)
    assert sorted(r.data.tags["climb.stage"] for r in children) == sorted(
        ["ingest", "validate", "standardize", "pretrain", "finetune", "evaluate"]
    )
    by_stage = {r.data.tags["climb.stage"]: r for r in children}
    version = std.extra["data_version"]["md5"]
    assert by_stage["standardize"].data.tags["climb.data_version"] == version
    assert by_stage["pretrain"].data.tags["climb.data_version.ptbxl"] == version
    assert by_stage["evaluate"].data.metrics["macro_auc"] == pytest.approx(ev.report["metrics"]["macro_auc"])
    assert by_stage["evaluate"].data.tags["climb.git_commit"] != ""

    mv = client.get_model_version_by_alias("climb-ptbxl", "challenger")
    assert mv.tags["climb.data_version"] == version
    assert mv.tags["climb.pipeline_run_id"] == "it-run-1"
    assert mv.run_id == by_stage["evaluate"].info.run_id

    # the artifacts went through the server to S3
    objects = s3_env.client().list_objects_v2(Bucket="mlflow-artifacts").get("Contents", [])
    assert any(o["Key"].endswith("MLmodel") for o in objects)
    assert any(o["Key"].endswith("report.md") for o in objects)

    # the registered model (pt2, with signature) predicts like the stage's own model
    mlflow.set_tracking_uri(mlflow_server)
    served = mlflow.pytorch.load_model("models:/climb-ptbxl@challenger")
    local = load_model(fine.uri + "/model.pt")
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(3, 12, 5000)).astype(np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(served(x).numpy(), local(x).numpy(), rtol=1e-4, atol=1e-5)
    model_info = mlflow.models.get_model_info("models:/climb-ptbxl@challenger")
    assert model_info.signature is not None and model_info.saved_input_example_info is not None
