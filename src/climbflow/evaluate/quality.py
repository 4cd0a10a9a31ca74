"""Is an evaluated model any better than chance? A verdict for the results table, the report and the registry.

Chance level of the primary metric: macro AUC 0.5 (classification), R² 0 (regression: predicting the mean).
Verdicts, judged on the primary metric's patient-level bootstrap CI:

* ``below_chance``: the whole CI lies at or below chance (without a CI: the estimate is at or below chance);
* ``uncertain``: the CI spans chance, there is no CI, too few test patients (< ``MIN_PATIENTS``), too many
  invalid bootstrap replicates (< ``MIN_VALID_FRACTION`` valid), or the metric is undefined;
* ``ok``: the whole CI lies above chance, on enough patients.

Registered versions carry it as the tag ``climb.quality``; the promotion gate refuses a ``below_chance``
challenger unless forced.
"""

from __future__ import annotations

import math
from typing import Any

from climbflow.evaluate.bootstrap import MIN_VALID_FRACTION

BELOW_CHANCE, UNCERTAIN, OK = "below_chance", "uncertain", "ok"
MIN_PATIENTS = 30  # fewer test patients than this: the CI is too rough to call a model good
CHANCE = {"macro_auc": 0.5, "r2": 0.0}


def chance_metric(task: str) -> str:
    return "r2" if task == "regression" else "macro_auc"


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def assess(
    task: str,
    metrics: dict[str, Any],
    ci: dict[str, dict[str, Any]] | None = None,
    n_patients: int | None = None,
) -> dict[str, Any]:
    """``{"verdict", "metric", "chance", "reasons": [...]}`` for one evaluation.

    ``metrics``: the metric values (``macro_auc`` or ``r2``); ``ci``: ``{metric: {estimate, low, high, n_valid,
    n_boot[, n_patients]}}``; ``n_patients``: test patients (else taken from the CI entry, if recorded there).
    """
    metric = chance_metric(task)
    chance = CHANCE[metric]
    entry = (ci or {}).get(metric) or {}
    point = _num(metrics.get(metric, entry.get("estimate")))
    low, high = _num(entry.get("low")), _num(entry.get("high"))
    if n_patients is None and entry.get("n_patients") is not None:
        n_patients = int(entry["n_patients"])
    reasons: list[str] = []
    if math.isnan(point):
        return {
            "verdict": UNCERTAIN,
            "metric": metric,
            "chance": chance,
            "reasons": [f"{metric} is undefined on the test split"],
        }
    has_ci = not (math.isnan(low) or math.isnan(high))
    if has_ci and high <= chance:
        verdict = BELOW_CHANCE
        reasons.append(f"{metric} 95% CI [{low:.3f}, {high:.3f}] lies entirely at or below chance ({chance})")
    elif not has_ci and point <= chance:
        verdict = BELOW_CHANCE
        reasons.append(f"{metric} {point:.3f} is at or below chance ({chance}); no CI recorded")
    else:
        verdict = OK
        if not has_ci:
            verdict = UNCERTAIN
            reasons.append(f"no bootstrap CI for {metric} (evaluate.bootstrap = 0?)")
        elif low <= chance:
            verdict = UNCERTAIN
            reasons.append(f"{metric} 95% CI [{low:.3f}, {high:.3f}] spans chance ({chance})")
        n_valid, n_boot = entry.get("n_valid"), entry.get("n_boot")
        if n_boot and n_valid is not None and n_valid / n_boot < MIN_VALID_FRACTION:
            verdict = UNCERTAIN
            reasons.append(
                f"only {n_valid}/{n_boot} bootstrap replicates valid (< {MIN_VALID_FRACTION:.0%}): CI unreliable"
            )
        if n_patients is not None and n_patients < MIN_PATIENTS:
            verdict = UNCERTAIN
            reasons.append(f"only {n_patients} test patients (< {MIN_PATIENTS})")
    return {"verdict": verdict, "metric": metric, "chance": chance, "reasons": reasons}
