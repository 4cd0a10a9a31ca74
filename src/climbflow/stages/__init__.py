"""The six stages. Each is ``run(params, **inputs) -> StageResult`` in its own module; :func:`execute` runs one
by name. Recording a run in MLflow and the run ledger is the task layer's job (:mod:`climbflow.tasks`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from climbflow.stages.base import StageFailed, StageResult

STAGES = ("ingest", "validate", "standardize", "pretrain", "finetune", "evaluate")
# steps of the fanned-out standardize (KFP ParallelFor over shard ranges): name -> (module, function)
STEPS = {
    "standardize_plan": ("climbflow.stages.standardize_ranges", "plan"),  # -> list of range items
    "standardize_range": ("climbflow.stages.standardize_ranges", "run_range"),  # -> part URI
    "standardize_merge": ("climbflow.stages.standardize_ranges", "merge"),  # -> StageResult (tracked)
}


def runner(stage: str) -> Callable[..., Any]:
    """The function that runs ``stage`` (one of :data:`STAGES`) or step (one of :data:`STEPS`)."""
    if stage in STEPS:
        module_name, function = STEPS[stage]
        return getattr(importlib.import_module(module_name), function)
    if stage in STAGES:
        return importlib.import_module(f"climbflow.stages.{stage}").run
    raise ValueError(f"unknown stage {stage!r}; stages: {list(STAGES)}")


def execute(stage: str, params, **inputs: Any) -> StageResult:
    """Run ``stage`` with ``inputs`` (untracked; :func:`climbflow.tasks.execute_tracked` records it)."""
    return runner(stage)(params, **inputs)


__all__ = ["STAGES", "STEPS", "StageFailed", "StageResult", "execute", "runner"]
