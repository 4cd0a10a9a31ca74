"""The ledger of one pipeline run: a JSON record per stage execution under ``<workspace>/runs/<run id>/``.

Written by every task (cheap, no MLflow import), read by the driver (:func:`climbflow.tasks.log_cached`) to log
child runs for cache hits and to build the results table. On a cluster the workspace is shared storage, so the same ledger works there.
"""

from __future__ import annotations

import json
from typing import Any

from climbflow.config import Params
from climbflow.stages.base import StageResult, Workspace
from climbflow.store import uri as uris


def run_dir(params: Params, pipeline_run_id: str) -> str:
    """``<workspace>/runs/<run id>``: a folder, or an ``s3://`` prefix every pod of the run writes to."""
    return Workspace.from_params(params).uri("runs", pipeline_run_id)


def record(params: Params, pipeline_run_id: str, result: StageResult, mlflow_run_id: str | None) -> str:
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
    path = uris.join(run_dir(params, pipeline_run_id), f"{result.stage}__{result.name}.json")
    uris.write_text(path, json.dumps(entry, indent=2, sort_keys=True, default=str))
    return path


def read(params: Params, pipeline_run_id: str) -> list[dict[str, Any]]:
    return [
        json.loads(uris.read_text(p)) for p in uris.list_files(run_dir(params, pipeline_run_id), "*.json")
    ]
