"""The cluster path for real, on one machine: the compiled pipelines run by ``kfp.local.DockerRunner`` on podman,
every task in its own container of the component image as uid 10001, sharing nothing with the others but the S3
server (workspace, raw data, DVC remote, MLflow artifacts), the MLflow server (on PostgreSQL) and the pipeline
root. Nothing of the host's venv, repo or workspace is mounted into a task.

What a real Kubeflow adds and this cannot run (no Kubernetes API here): the Argo workflow controller and KFP
driver/launcher, pod scheduling on node pools, Secrets/ConfigMaps as env (given here as container env), and
the PVC; those are checked against their wire contract in tests/pipelines and tests/k8s.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from tests.containers.conftest import REPO, TASK_UID, new_pipeline_root

pytestmark = [pytest.mark.integration, pytest.mark.containers]
DATA_BUCKET, WS_BUCKET = "climb-data", "climb-ws"
KFP_WORKSPACE = "/kfp-workspace"


def _params(image: str, **overrides):
    from climbflow.config import parse

    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["workspace"] = {"root": f"s3://{WS_BUCKET}/ws", "experiment": "climbflow-containers"}
    data["datasets"] = {"ptbxl": {"source": f"s3://{DATA_BUCKET}/ptbxl"}}
    data["finetune"]["targets"] = ["ptbxl"]
    data["pretrain"]["epochs"] = 1
    data["finetune"]["epochs"] = 1
    data["cluster"]["image"] = data["cluster"]["gpu_image"] = image
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return parse(data)


def _upload(s3, local: Path, prefix: str) -> None:
    client = s3.client()
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        client.upload_file(str(path), DATA_BUCKET, f"{prefix}/{path.relative_to(local).as_posix()}")


@pytest.fixture(scope="module")
def cluster(component_image, s3_server, mlflow_on_postgres, tmp_path_factory):
    """Everything a pod would see, as container env; the host test process gets the same to read results."""
    from climbflow import sampledata

    s3_server.make_bucket(DATA_BUCKET)
    s3_server.make_bucket(WS_BUCKET)
    sample = sampledata.write("ptbxl", tmp_path_factory.mktemp("raw") / "ptbxl", 100, seed=0)
    _upload(s3_server, sample, "ptbxl")
    env = {
        **{k: v for k, v in s3_server.env().items()},
        "MLFLOW_TRACKING_URI": mlflow_on_postgres,
        "CLIMB_SCRATCH": "/tmp/climb-scratch",  # the pod's own scratch (emptyDir on a cluster)
        "CLIMBFLOW_NUM_THREADS": "1",
    }
    return {"image": component_image, "env": env, "sample": sample, "s3": s3_server}


def _run(pipeline_module: str, params, cluster, pipeline_root: Path, monkeypatch, **arguments):
    """Run one compiled pipeline with every task in its own container; returns the container records."""
    import importlib

    from kfp import local

    from climbflow.containers import use_checked_containers

    for key, value in cluster["env"].items():
        monkeypatch.setenv(key, value)
    module = importlib.import_module(f"pipelines.{pipeline_module}")
    local.init(
        runner=local.DockerRunner(network_mode="host", environment=cluster["env"]),
        pipeline_root=str(pipeline_root),
        raise_on_error=True,
    )
    # kfp.local draws the run's id ({{$.pipeline_job_uuid}}) from the global `random`, which the sample-data
    # writers seed: reseed from the OS so two runs never share an id (a real backend uses UUIDs)
    random.seed()
    with use_checked_containers() as records:
        module.build(params)(**arguments)
        return list(records)


def _assert_isolated(records, pipeline_root: Path) -> None:
    assert records, "no task ran in a container"
    for rec in records:
        assert rec.user.split(":")[0] == str(TASK_UID), f"a task ran as {rec.user!r}: {rec.command[-1][:200]}"
        # kfp.local always mounts an (empty) KFP workspace at /kfp-workspace; our pipelines declare none, and on
        # a cluster a task has no such volume: prove nothing was written there
        assert set(rec.mounts) <= {str(pipeline_root), KFP_WORKSPACE}, f"a task saw more: {rec.mounts}"
    from kfp.local import config

    kfp_workspace = Path(config.LocalExecutionConfig.instance.workspace_root)
    assert not any(kfp_workspace.rglob("*")), f"a task wrote to the KFP workspace {kfp_workspace}"


def mlflow_client(cluster):
    from mlflow.tracking import MlflowClient

    return MlflowClient(cluster["env"]["MLFLOW_TRACKING_URI"])


def _stage_runs(client, parent_run_id: str) -> dict[tuple[str, str], object]:
    exp = client.get_experiment_by_name("climbflow-containers")
    runs = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'")
    return {(r.data.tags["climb.stage"], r.data.tags["climb.name"]): r for r in runs}


def _parent_runs(client):
    exp = client.get_experiment_by_name("climbflow-containers")
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
    return [r for r in runs if "mlflow.parentRunId" not in r.data.tags]


@pytest.fixture(scope="module")
def trained(cluster):
    """The training pipeline run once, as a run triggered from the Kubeflow UI (no tracking argument)."""
    from _pytest.monkeypatch import MonkeyPatch

    mp = MonkeyPatch()
    with new_pipeline_root() as pipeline_root:
        try:
            params = _params(cluster["image"])
            yield params, _run("training", params, cluster, pipeline_root, mp), pipeline_root
        finally:
            mp.undo()


def test_training_pipeline_runs_every_task_in_its_own_container(trained, cluster):
    params, records, pipeline_root = trained
    _assert_isolated(records, pipeline_root)
    assert all(r.exit_code == 0 for r in records)
    # start MLflow run, configure, ingest, validate, standardize, pretrain, finetune, evaluate: one container each
    assert len(records) >= 8, [r.command[-1][:80] for r in records]


def test_training_pipeline_is_tracked_and_registers_a_challenger(trained, cluster, monkeypatch):
    for key, value in cluster["env"].items():
        monkeypatch.setenv(key, value)
    client = mlflow_client(cluster)
    parents = _parent_runs(client)
    assert len(parents) == 1, "one parent run per pipeline run, created by the pipeline itself"
    assert parents[0].info.status == "FINISHED", "the exit handler closes the parent run"
    stages = _stage_runs(client, parents[0].info.run_id)
    assert set(stages) >= {
        ("ingest", "ptbxl"),
        ("validate", "ptbxl"),
        ("standardize", "ptbxl"),
        ("pretrain", "ecg"),
        ("finetune", "ptbxl"),
        ("evaluate", "ptbxl"),
    }
    assert stages[("standardize", "ptbxl")].data.tags["climb.output_uri"].startswith(f"s3://{WS_BUCKET}/ws/")
    version = client.get_model_version_by_alias("climb-ptbxl", "challenger")
    assert version.tags["climb.pipeline_run_id"] == parents[0].data.tags["climb.pipeline_run_id"]
    # the data version is the DVC hash of the store, pushed to the S3 remote from inside a task container
    dvc = stages[("standardize", "ptbxl")].data.tags
    assert dvc["climb.data_version"].endswith(".dir") and dvc["climb.dvc_remote"].startswith("s3://")
    assert version.tags["climb.data_version.ptbxl"] == dvc["climb.data_version"]
    assert version.tags["climb.git_commit"] not in ("", "unknown")


def test_lineage_of_the_challenger_is_complete(trained, cluster, monkeypatch):
    from climbflow.registry.lineage import is_missing, lineage

    for key, value in cluster["env"].items():
        monkeypatch.setenv(key, value)
    params, _, _ = trained
    graph = lineage(params, "climb-ptbxl@challenger")
    missing = []

    def walk(node, path):
        if is_missing(node):
            missing.append(path)
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(graph, "lineage")
    assert not missing, f"lineage has MISSING links: {missing}"


def test_a_failing_task_fails_the_run(cluster, component_image, pipeline_root, monkeypatch):
    """kfp's DockerRunner on podman reports a failed task as SUCCESS; climbflow.containers reads the real status."""
    params = _params(component_image, **{"datasets.ptbxl.source": f"s3://{DATA_BUCKET}/no-such-dataset"})
    with pytest.raises(RuntimeError, match="FAILURE|failed"):
        _run("training", params, cluster, pipeline_root, monkeypatch)
    from climbflow.containers import RECORDS

    failed = [r for r in RECORDS if r.exit_code != 0]
    assert failed and any("ingest" in " ".join(r.command) for r in failed)
    # the exit handler still ran, in its own container, and marked the pipeline's MLflow run as failed
    assert any("finish_pipeline_run" in " ".join(r.command) and r.exit_code == 0 for r in RECORDS)
    newest = _parent_runs(mlflow_client(cluster))[-1]
    assert newest.info.status == "FAILED", newest.info


def test_promotion_then_scheduled_retraining_sees_new_data(trained, cluster, pipeline_root, monkeypatch):
    params, _, _ = trained
    # the promotion pipeline makes the first champion (forced and recorded: sample-size floors may refuse it)
    records = _run(
        "promotion", params, cluster, pipeline_root, monkeypatch, force=True, reason="first champion (test)"
    )
    _assert_isolated(records, pipeline_root)
    client = mlflow_client(cluster)
    champion = client.get_model_version_by_alias("climb-ptbxl", "champion")
    # new records arrive at the source; the recurring retraining run must see them (no KFP cache reuse)
    from climbflow import sampledata

    bigger = sampledata.write("ptbxl", cluster["sample"].parent / "ptbxl-v2", 130, seed=0)
    _replace_source(cluster, bigger)
    records = _run("retraining", params, cluster, pipeline_root, monkeypatch)
    _assert_isolated(records, pipeline_root)
    parents = _parent_runs(client)
    children = {p.info.run_id: _stage_runs(client, p.info.run_id) for p in parents}
    ingested = [children[p.info.run_id] for p in parents if ("ingest", "ptbxl") in children[p.info.run_id]]
    assert len(ingested) == 2, {p.info.run_name: sorted(children[p.info.run_id]) for p in parents}
    then, now = ingested
    # the new snapshot (its plan task ingested it first, so the training steps find it in the stage cache)
    assert (
        now[("ingest", "ptbxl")].data.tags["climb.snapshot_id"]
        != then[("ingest", "ptbxl")].data.tags["climb.snapshot_id"]
    )
    assert (
        now[("standardize", "ptbxl")].data.tags["climb.data_version"]
        != then[("standardize", "ptbxl")].data.tags["climb.data_version"]
    )
    assert now[("pretrain", "ecg")].data.tags["climb.cache_hit"] == "false", "retrained on the new data"
    challenger = client.get_model_version_by_alias("climb-ptbxl", "challenger")
    assert int(challenger.version) > int(champion.version), "the retraining run registered no new challenger"
    # the gate ran in its own container: both models scored on the challenger's test split read from S3
    tags = challenger.tags
    assert tags.get("climb.promotion.action") == "promote", tags
    assert "climb.promotion.primary_gain" in tags, tags.get("climb.promotion.message")


def _replace_source(cluster, local: Path) -> None:
    """The dataset at the source changes: every old object goes, the new copy is uploaded."""
    s3 = cluster["s3"]
    client = s3.client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=DATA_BUCKET, Prefix="ptbxl/"):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=DATA_BUCKET, Key=obj["Key"])
    _upload(s3, local, "ptbxl")
