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

        run_id = None
        if not result.cache_hit:
            from climbflow.registry.tracking import log_stage

            run_id = log_stage(params, result, **tracking)
        ledger.record(params, tracking["pipeline_run_id"], result, run_id)
    return result


def execute_json(stage: str, params_json: str, tracking_json: str = "", **inputs: Any) -> str:
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
        tracking = json.loads(tracking_json) if tracking_json else None
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


__all__ = ["STAGES", "STEPS", "StageFailed", "StageResult", "call_json", "execute", "execute_json"]
