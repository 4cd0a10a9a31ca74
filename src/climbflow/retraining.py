"""The unattended retraining loop: plan, train through the pipeline when data changed, gate each new challenger.

:func:`retrain` asks :func:`climbflow.registry.retrain.plan` whether a data version changed, runs the training
pipeline (:func:`climbflow.pipeline_runner.run_local`) when it did (or ``force``) and puts each new challenger
through the promotion gate. New patients change a hash-split test split, so the gate re-scores the champion on the
challenger's test split and compares the two on the same patients (paired bootstrap,
:func:`climbflow.registry.evidence.paired_evidence`): the loop promotes by itself, without ``--force``.

Exit codes (for cron / systemd timers / schedulers): 0 = no change (nothing trained or nothing new),
10 = promoted, 20 = gated out (a challenger was refused), 1 = failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from climbflow.config import Params
from climbflow.registry.retrain import RetrainPlan, plan

log = logging.getLogger(__name__)
NO_CHANGE, PROMOTED, GATED_OUT, FAILED = 0, 10, 20, 1


@dataclass
class RetrainOutcome:
    code: int
    status: str
    plan: RetrainPlan | None
    pipeline_run_id: str | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "status": self.status,
            "plan": self.plan.to_dict() if self.plan else None,
            "pipeline_run_id": self.pipeline_run_id,
            "decisions": self.decisions,
            "error": self.error,
        }


def retrain(params: Params, force: bool = False, actor: str | None = None) -> RetrainOutcome:
    """Plan; if changed (or ``force``) train with :func:`pipeline_runner.run_local` and gate each new challenger."""
    from climbflow.pipeline_runner import run_local
    from climbflow.registry.promotion import default_actor, promote

    decided = None
    try:
        decided = plan(params, force)
        if not decided.changed:
            return RetrainOutcome(NO_CHANGE, "no change", decided)
        outcome = run_local(params)
        wanted = set(decided.changed_targets) if not force else {t.target for t in decided.targets}
        decisions = []
        for row in outcome.results:
            if row["target"] not in wanted or not row["model"] or row["cache_hit"]:
                continue  # nothing new was trained for this target
            name, version = row["model"].rsplit("/", 1)
            decision = promote(params, name, version, actor=default_actor(actor or None) + " (climb retrain)")
            decisions.append(decision.to_dict())
        if any(not d["promoted"] for d in decisions):
            code, status = GATED_OUT, "gated out"
        elif decisions:
            code, status = PROMOTED, "promoted"
        else:
            code, status = NO_CHANGE, "retrained, no new model version"
        return RetrainOutcome(code, status, decided, outcome.pipeline_run_id, decisions)
    except Exception as exc:  # noqa: BLE001 - a scheduler needs the exit code, the message says what broke
        log.exception("retrain failed")
        return RetrainOutcome(FAILED, "failed", decided, error=f"{type(exc).__name__}: {exc}")
