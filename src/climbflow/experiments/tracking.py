"""The MLflow run of an experiment report (``compare``, ``fewshot``, ``fusion``): one helper for all of them."""

from __future__ import annotations

from pathlib import Path

from climbflow.config import Params


def log_report(params: Params, stage: str, run_name: str, metrics: dict[str, float], out_dir: Path) -> None:
    """One run in the workspace's experiment, tagged ``climb.stage = stage`` and the git commit, with ``metrics``
    (logged as given) and the report folder ``out_dir`` as artifacts under ``<stage>/``."""
    from climbflow.registry.tracking import experiment_id, git_commit, mlflow_client

    mlflow, _ = mlflow_client(params)
    with mlflow.start_run(experiment_id=experiment_id(params), run_name=run_name):
        mlflow.set_tags({"climb.stage": stage, "climb.git_commit": git_commit()})
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(out_dir), artifact_path=stage)
