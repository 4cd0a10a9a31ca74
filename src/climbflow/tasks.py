"""A stage as a pipeline task: run it, record it in the run ledger and in MLflow.

The KFP components call the ``*_json`` entry points (parameters arrive as JSON strings); ``climb run``'s driver
calls :func:`log_cached` after the pipeline to give every cache hit its MLflow child run. This is the one layer
that knows both the stages (:mod:`climbflow.stages`) and the tracking server (:mod:`climbflow.registry.tracking`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from climbflow.config import Params
from climbflow.stages import ledger, runner
from climbflow.stages.base import StageFailed, StageResult

log = logging.getLogger(__name__)


def execute_tracked(stage: str, params: Params, tracking: dict[str, Any], **inputs: Any) -> StageResult:
    """Run ``stage`` and record it in the pipeline run's ledger; an executed (not cached) stage gets its MLflow
    child run right away. Cache hits skip the MLflow import, which keeps a no-op re-run fast; the driver logs their
    child runs from the ledger (:func:`log_cached`)."""
    result: StageResult = runner(stage)(params, **inputs)
    tracking = dict(tracking)
    log_cache_hits = bool(tracking.pop("log_cache_hits", False))
    run_id = None
    if not result.cache_hit or log_cache_hits:
        from climbflow.registry.tracking import log_stage

        run_id = log_stage(params, result, **tracking)
    ledger.record(params, tracking["pipeline_run_id"], result, run_id)
    return result


def resolve_tracking(
    params: Params, tracking_json: str = "", pipeline_run_id: str = ""
) -> dict[str, Any] | None:
    """Where a task records itself in MLflow.

    ``tracking_json`` set (``climb run``'s driver made the parent run): used as is. Else, inside a pipeline run
    started from the Kubeflow UI, a schedule or ``climb submit`` (``pipeline_run_id`` is the KFP run's uuid): the
    parent MLflow run of that pipeline run, found or created (idempotent), and cache hits logged right away, since
    no driver is there to log them afterwards. Neither: not tracked.
    """
    if tracking_json:
        return json.loads(tracking_json)
    if not pipeline_run_id or pipeline_run_id.startswith("{{"):
        return None
    from climbflow.registry.tracking import start_pipeline_run

    parent = start_pipeline_run(params, pipeline_run_id, run_name=f"kubeflow run {pipeline_run_id[:8]}")
    return {"parent_run_id": parent, "pipeline_run_id": pipeline_run_id, "log_cache_hits": True}


def _entry_point(name: str, params_json: str, body: Any) -> Any:
    """Parse the params, run ``body(params)``; a refused input ends the task with exit code 1 and the human
    summary in the log, not a traceback (anything else is a bug and keeps its traceback)."""
    from climbflow.config import ConfigError, parse
    from climbflow.logs import setup_logging
    from climbflow.store.retry import StorageUnavailable

    setup_logging()
    try:
        return body(parse(json.loads(params_json), origin="pipeline parameter params_json"))
    except (StageFailed, ConfigError, FileNotFoundError, StorageUnavailable) as exc:
        log.error("%s failed: %s", name, exc)
        raise SystemExit(1) from None


def execute_json(
    stage: str, params_json: str, tracking_json: str = "", pipeline_run_id: str = "", **inputs: Any
) -> str:
    """Entry point of the tracked KFP components: returns the stage's output URI."""

    def body(params: Params) -> str:
        tracking = resolve_tracking(params, tracking_json, pipeline_run_id)
        if tracking is None:
            return runner(stage)(params, **inputs).uri
        return execute_tracked(stage, params, tracking, **inputs).uri

    return _entry_point(stage, params_json, body)


def call_json(step: str, params_json: str, **inputs: Any) -> Any:
    """Entry point of the untracked step components (plan, range): returns the step's plain value."""
    return _entry_point(step, params_json, lambda params: runner(step)(params, **inputs))


def pipeline_run_json(params_json: str, tracking_json: str, pipeline_run_id: str, status: str = "") -> str:
    """Entry point of the ``pipeline_run`` component: make sure the pipeline run's parent MLflow run exists
    (first task) or, with ``status`` (the exit handler), close it. Returns the tracking JSON."""
    from climbflow.config import parse
    from climbflow.logs import setup_logging
    from climbflow.registry import tracking as mlflow_tracking

    setup_logging()
    params = parse(json.loads(params_json), origin="pipeline parameter params_json")
    tracking = resolve_tracking(params, tracking_json, pipeline_run_id)
    if tracking is None:
        return ""
    if status and not tracking_json:  # climb run's driver closes its own parent run (with the results)
        final = "FINISHED" if status == "SUCCEEDED" else "FAILED"
        mlflow_tracking.finish_pipeline_run(params, tracking["parent_run_id"], final, {})
    return json.dumps(tracking, sort_keys=True)


def log_cached(params: Params, pipeline_run_id: str, parent_run_id: str) -> list[dict[str, Any]]:
    """Log an MLflow child run for every cache hit of the run (tagged climb.cache_hit=true); returns the ledger."""
    from climbflow.registry.tracking import log_stage

    entries = ledger.read(params, pipeline_run_id)
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
