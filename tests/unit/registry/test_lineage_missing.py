"""Issue 13.6: lineage links are matched on recorded values only; an absent tag shows MISSING, never a guess.

A pipeline run is recorded by hand in a local sqlite MLflow (tags exactly as ``tracking.log_stage`` writes them),
with decoy runs of the same stage / name that a by-name fallback would pick."""

from __future__ import annotations

import time

import pytest

MODEL, V, W, SNAP, OTHER_SNAP = "climb-ptbxl", "aaa111.dir", "bbb222.dir", "snap-1", "snap-2"


@pytest.fixture
def recorded(params_factory, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from climbflow.registry import tracking

    params = params_factory({"ptbxl": str(tmp_path / "src")})
    _, client = tracking.mlflow_client(params)
    exp = tracking.experiment_id(params)
    parent = client.create_run(
        exp, tags={"climb.pipeline_run_id": "local-1", "climb.git_commit": "c0ffee", "climb.image": "local"}
    ).info.run_id

    def child(stage, name, **tags):
        base = {
            "mlflow.parentRunId": parent,
            "climb.stage": stage,
            "climb.name": name,
            "climb.cache_hit": "false",
        }
        run = client.create_run(exp, run_name=f"{stage}:{name}", tags=base | tags).info.run_id
        time.sleep(0.01)
        return run

    ids = {
        "ingest": child("ingest", "ptbxl", **{"climb.snapshot_id": SNAP, "climb.output_uri": "/ws/raw/1"}),
        "validate": child("validate", "ptbxl", **{"climb.snapshot_id": SNAP, "climb.passed": "True"}),
        "standardize": child(
            "standardize",
            "ptbxl",
            **{"climb.snapshot_id": SNAP, "climb.data_version": V, "climb.dvc_remote": "r"},
        ),
        "pretrain": child(
            "pretrain", "ecg", **{"climb.output_uri": "/ws/pre/1", "climb.data_version.ptbxl": V}
        ),
        "finetune": child(
            "finetune",
            "ptbxl",
            **{
                "climb.output_uri": "/ws/fine/1",
                "climb.input.pretrained": "/ws/pre/1",
                "climb.modality": "ecg",
            },
        ),
    }
    # decoys with the same stage and name, recorded later (a search returns them first)
    decoys = {
        "pretrain": child("pretrain", "ecg", **{"climb.output_uri": "/ws/pre/2", "climb.modality": "ecg"}),
        "finetune": child("finetune", "ptbxl", **{"climb.output_uri": "/ws/fine/2", "climb.modality": "ecg"}),
        "standardize": child(
            "standardize", "ptbxl", **{"climb.snapshot_id": OTHER_SNAP, "climb.data_version": W}
        ),
        "ingest": child("ingest", "ptbxl", **{"climb.snapshot_id": OTHER_SNAP}),
    }
    ids["evaluate"] = child("evaluate", "ptbxl", **{"climb.input.model": "/ws/fine/1"})
    client.create_registered_model(MODEL)
    client.create_model_version(
        MODEL, "/tmp/m", run_id=ids["evaluate"], tags={"climb.data_version.ptbxl": V}, await_creation_for=0
    )
    return params, client, ids, decoys


def _tree(params):
    from climbflow.registry.lineage import lineage

    return lineage(params, f"{MODEL}/1")


def test_recorded_links_are_followed_exactly(recorded):
    params, _, ids, _ = recorded
    tree = _tree(params)
    fine = tree["evaluate"]["finetune"]
    assert fine["mlflow_run_id"] == ids["finetune"] and fine["pretrain"]["mlflow_run_id"] == ids["pretrain"]
    (ds,) = tree["datasets"]
    assert ds["standardized"]["mlflow_run_id"] == ids["standardize"]
    assert ds["raw_snapshot"]["mlflow_run_id"] == ids["ingest"] and ds["raw_snapshot"]["snapshot_id"] == SNAP
    assert ds["validation"]["mlflow_run_id"] == ids["validate"]


@pytest.mark.parametrize(
    ("stage", "tag", "where"),
    [
        ("evaluate", "climb.input.model", ("evaluate", "finetune")),
        ("finetune", "climb.input.pretrained", ("evaluate", "finetune", "pretrain")),
        ("standardize", "climb.data_version", ("datasets", 0, "standardized")),
        ("standardize", "climb.snapshot_id", ("datasets", 0, "raw_snapshot")),
    ],
)
def test_a_deleted_tag_shows_missing_not_a_guess(recorded, stage, tag, where):
    from climbflow.registry.lineage import is_missing

    params, client, ids, _ = recorded
    client.delete_tag(ids[stage], tag)
    node = _tree(params)
    for key in where:
        node = node[key]
    assert is_missing(node), f"{'/'.join(map(str, where))} was guessed: {node}"
