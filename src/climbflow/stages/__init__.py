"""The six stages. Each is ``run(params, **inputs) -> StageResult`` in its own module; :func:`execute` runs one
by name and records it in MLflow (used by the CLI, the KFP components and dvc.yaml alike)."""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any

from climbflow.stages.base import StageFailed, StageResult

STAGES = ("ingest", "validate", "standardize", "pretrain", "finetune", "evaluate")
# steps of the fanned-out standardize (KFP ParallelFor over shard ranges): name -> (module, function)
STEPS = {
    "standardize_plan": ("climbflow.stages.standardize_ranges", "plan"),  # -> list of range items
    "standardize_range": ("climbflow.stages.standardize_ranges", "run_range"),  # -> part URI
    "standardize_merge": ("climbflow.stages.standardize_ranges", "merge"),  # -> StageResult (tracked)
}

log = logging.getLogger(__name__)


def execute(stage: str, params, *, tracking: dict[str, str] | None = None, **inputs: Any) -> StageResult:
    """Run ``stage`` with ``inputs``.

    With ``tracking`` (parent_run_id, pipeline_run_id) the execution is recorded in the pipeline run's ledger, and
    an executed (not cached) stage gets its MLflow child run right away. Cache hits skip the MLflow import, which
    keeps a no-op re-run fast; the driver logs their child runs from the ledger (:func:`ledger.log_cached`).
    """
    if stage in STEPS:
        module_name, function = STEPS[stage]
        run = getattr(importlib.import_module(module_name), function)
    elif stage in STAGES:
        run = importlib.import_module(f"climbflow.stages.{stage}").run
    else:
        raise ValueError(f"unknown stage {stage!r}; stages: {list(STAGES)}")
    result: StageResult = run(params, **inputs)
    if tracking is not None:
        from climbflow.stages import ledger

        tracking = dict(tracking)
        log_cache_hits = bool(tracking.pop("log_cache_hits", False))
        run_id = None
        if not result.cache_hit or log_cache_hits:
            from climbflow.registry.tracking import log_stage

            run_id = log_stage(params, result, **tracking)
        ledger.record(params, tracking["pipeline_run_id"], result, run_id)
    return result


def resolve_tracking(params, tracking_json: str = "", pipeline_run_id: str = "") -> dict[str, Any] | None:
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


def execute_json(
    stage: str, params_json: str, tracking_json: str = "", pipeline_run_id: str = "", **inputs: Any
) -> str:
    """Entry point of the KFP components: params and tracking arrive as JSON strings; returns the output URI.

    A refused input (:class:`StageFailed`) ends the task with exit code 1 and the human summary in the log,
    not a traceback; anything else is a bug and keeps its traceback.
    """
    from climbflow.config import ConfigError, parse
    from climbflow.logs import setup_logging
    from climbflow.store.retry import StorageUnavailable

    setup_logging()
    try:
        params = parse(json.loads(params_json), origin="pipeline parameter params_json")
        tracking = resolve_tracking(params, tracking_json, pipeline_run_id)
        return execute(stage, params, tracking=tracking, **inputs).uri
    except (StageFailed, ConfigError, FileNotFoundError, StorageUnavailable) as exc:
        log.error("%s failed: %s", stage, exc)
        raise SystemExit(1) from None


def call_json(step: str, params_json: str, **inputs: Any) -> Any:
    """Entry point of the untracked step components (plan, range): returns the step's plain value."""
    from climbflow.config import ConfigError, parse
    from climbflow.logs import setup_logging
    from climbflow.store.retry import StorageUnavailable

    setup_logging()
    module_name, function = STEPS[step]
    try:
        params = parse(json.loads(params_json), origin="pipeline parameter params_json")
        return getattr(importlib.import_module(module_name), function)(params, **inputs)
    except (StageFailed, ConfigError, FileNotFoundError, StorageUnavailable) as exc:
        log.error("%s failed: %s", step, exc)
        raise SystemExit(1) from None


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


__all__ = [
    "STAGES",
    "STEPS",
    "StageFailed",
    "StageResult",
    "call_json",
    "execute",
    "execute_json",
    "pipeline_run_json",
    "resolve_tracking",
]
