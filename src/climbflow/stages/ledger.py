"""The ledger of one pipeline run: a JSON record per stage execution under ``<workspace>/runs/<run id>/``.

Written by every task (cheap, no MLflow import), read by the driver to log child runs for cache hits and to build
the results table. On a cluster the workspace is shared storage, so the same ledger works there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.stages.base import StageResult, Workspace


def run_dir(params: Params, pipeline_run_id: str) -> Path:
    return Workspace.from_params(params).root / "runs" / pipeline_run_id


def record(params: Params, pipeline_run_id: str, result: StageResult, mlflow_run_id: str | None) -> Path:
    entry = {
        "stage": result.stage,
        "name": result.name,
        "uri": result.uri,
        "cache_hit": result.cache_hit,
        "seconds": result.seconds,
        "report": result.report,
        "extra": result.extra,
        "mlflow_run_id": mlflow_run_id,
    }
    directory = run_dir(params, pipeline_run_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.stage}__{result.name}.json"
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(entry, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)
    return path


def read(params: Params, pipeline_run_id: str) -> list[dict[str, Any]]:
    directory = run_dir(params, pipeline_run_id)
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))] if directory.exists() else []


def log_cached(params: Params, pipeline_run_id: str, parent_run_id: str) -> list[dict[str, Any]]:
    """Log an MLflow child run for every cache hit of the run (tagged climb.cache_hit=true); returns the ledger."""
    from climbflow.registry.tracking import log_stage

    entries = read(params, pipeline_run_id)
    for entry in entries:
        if entry["cache_hit"] and entry["mlflow_run_id"] is None:
            result = StageResult(
                entry["stage"],
                entry["name"],
                entry["uri"],
                entry["report"],
                True,
                entry["seconds"],
                entry["extra"],
            )
            entry["mlflow_run_id"] = log_stage(params, result, parent_run_id, pipeline_run_id)
            entry["extra"] = result.extra
    return entries
