"""Helpers to read compiled pipeline specs (the YAML users upload to the Kubeflow UI)."""

from __future__ import annotations


def training_dag(spec: dict) -> dict[str, dict]:
    """The tasks of the training pipeline's body: the exit handler's DAG (its exit task closes the MLflow run)."""
    root = spec["root"]["dag"]["tasks"]
    (handler,) = [t for name, t in root.items() if name.startswith("exit-handler")]
    assert set(root) == {"exit-handler-1", "finish-pipeline-run"}, set(root)
    assert root["finish-pipeline-run"]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    return spec["components"][handler["componentRef"]["name"]]["dag"]["tasks"]
