"""The promotion gate as pure functions over recorded evidence (no MLflow here, so it is unit-testable).

A challenger becomes champion when every rule passes:
``validation_passed`` (all datasets behind it passed validation), ``same_test_split`` (evaluated on the champion's
frozen test split, hash-checked), ``primary_improvement`` (primary metric beats the champion's by at least
``min_improvement``), ``secondary_regression`` (no other headline metric drops by more than ``max_regression``),
``subtask_regression`` (no per-class AUC drops by more than ``max_subtask_regression``). With no champion:
``validation_passed`` and ``floor`` (absolute minimum per metric; a maximum for lower-is-better metrics).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from climbflow.config import PromotionConfig

LOWER_IS_BETTER = frozenset({"mae", "rmse"})
CLASSIFICATION_HEADLINE = ("macro_auc", "sensitivity", "specificity", "f1", "accuracy")
REGRESSION_HEADLINE = ("mae", "rmse", "r2", "pearson_r")


@dataclass(frozen=True)
class Evidence:
    """What the gate knows about one model version (from its version tags)."""

    version: str
    task: str
    metrics: dict[str, float]
    subtasks: dict[str, float] = field(default_factory=dict)
    validation: str = "unknown"  # passed | failed | unknown
    test_split_hash: str | None = None

    @classmethod
    def from_tags(cls, version: str, tags: dict[str, str]) -> Evidence:
        def numbers(prefix: str) -> dict[str, float]:
            out = {}
            for key, value in tags.items():
                if key.startswith(prefix):
                    try:
                        out[key[len(prefix) :]] = float(value)
                    except ValueError:
                        continue
            return out

        return cls(
            version=str(version),
            task=tags.get("climb.task", "unknown"),
            metrics=numbers("climb.metric."),
            subtasks=numbers("climb.subtask_auc."),
            validation=tags.get("climb.validation", "unknown"),
            test_split_hash=tags.get("climb.test_split_hash"),
        )


@dataclass(frozen=True)
class Rule:
    """One evaluated rule with the numbers it compared."""

    name: str
    passed: bool
    detail: str
    challenger: Any = None
    champion: Any = None
    threshold: Any = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gain(metric: str, challenger: float, champion: float) -> float:
    """challenger - champion, signed so that positive = better."""
    diff = challenger - champion
    return -diff if metric in LOWER_IS_BETTER else diff


def primary_metric(cfg: PromotionConfig, task: str) -> str:
    return cfg.primary_metric.get(task, "mae" if task == "regression" else "macro_auc")  # type: ignore[call-overload]


def secondary_metrics(cfg: PromotionConfig, task: str) -> list[str]:
    primary = primary_metric(cfg, task)
    names = cfg.secondary_metrics
    if names is None:
        names = list(REGRESSION_HEADLINE if task == "regression" else CLASSIFICATION_HEADLINE)
    return [m for m in names if m != primary]


def _ok(value: Any) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value)


def check_validation(cfg: PromotionConfig, challenger: Evidence) -> Rule | None:
    if not cfg.require_validation:
        return None
    passed = challenger.validation == "passed"
    detail = (
        "all datasets behind the model passed validation"
        if passed
        else (
            f"validation verdict of the datasets behind the model is {challenger.validation!r} (must be 'passed')"
        )
    )
    return Rule("validation_passed", passed, detail, challenger.validation, None, "passed")


def check_test_split(cfg: PromotionConfig, challenger: Evidence, champion: Evidence) -> Rule | None:
    if not cfg.require_same_test_split:
        return None
    a, b = challenger.test_split_hash, champion.test_split_hash
    passed = bool(a) and a == b
    if passed:
        detail = f"same test split {a[:12]}"
    elif not a or not b:
        detail = f"test split hash not recorded (challenger {a or 'missing'}, champion {b or 'missing'})"
    else:
        detail = f"challenger evaluated on test split {a[:12]}, champion on {b[:12]}: not comparable"
    return Rule("same_test_split", passed, detail, a, b, "equal")


def check_primary(cfg: PromotionConfig, challenger: Evidence, champion: Evidence) -> Rule:
    metric = primary_metric(cfg, challenger.task)
    a, b = challenger.metrics.get(metric), champion.metrics.get(metric)
    if not _ok(a) or not _ok(b):
        return Rule("primary_improvement", False, f"{metric} missing (challenger {a}, champion {b})", a, b)
    delta = gain(metric, a, b)
    passed = delta >= cfg.min_improvement
    detail = (
        f"{metric} {a:.4f} vs champion {b:.4f}: improvement {delta:+.4f} "
        f"{'>=' if passed else '<'} min_improvement {cfg.min_improvement}"
    )
    return Rule("primary_improvement", passed, detail, a, b, cfg.min_improvement)


def check_secondary(cfg: PromotionConfig, challenger: Evidence, champion: Evidence) -> Rule:
    worst: tuple[float, str, float, float] | None = None
    compared = []
    for metric in secondary_metrics(cfg, challenger.task):
        a, b = challenger.metrics.get(metric), champion.metrics.get(metric)
        if not _ok(a) or not _ok(b):
            continue
        compared.append(metric)
        delta = gain(metric, a, b)
        if worst is None or delta < worst[0]:
            worst = (delta, metric, a, b)
    if worst is None:
        return Rule("secondary_regression", True, "no secondary metric recorded on both versions")
    delta, metric, a, b = worst
    passed = -delta <= cfg.max_regression
    detail = (
        f"worst secondary metric {metric} {a:.4f} vs champion {b:.4f} (change {delta:+.4f}); "
        f"max_regression {cfg.max_regression} over {', '.join(compared)}"
    )
    return Rule("secondary_regression", passed, detail, {metric: a}, {metric: b}, cfg.max_regression)


def check_subtasks(cfg: PromotionConfig, challenger: Evidence, champion: Evidence) -> Rule:
    broken = {}
    shared = sorted(set(challenger.subtasks) & set(champion.subtasks))
    for name in shared:
        a, b = challenger.subtasks[name], champion.subtasks[name]
        if _ok(a) and _ok(b) and b - a > cfg.max_subtask_regression:
            broken[name] = (a, b)
    if not shared:
        return Rule("subtask_regression", True, "no sub-task (per-class AUC) recorded on both versions")
    if not broken:
        return Rule(
            "subtask_regression",
            True,
            f"no per-class AUC dropped by more than {cfg.max_subtask_regression} ({len(shared)} sub-tasks)",
            threshold=cfg.max_subtask_regression,
        )
    parts = ", ".join(f"{k} {a:.4f} vs {b:.4f} ({a - b:+.4f})" for k, (a, b) in broken.items())
    return Rule(
        "subtask_regression",
        False,
        f"per-class AUC dropped by more than max_subtask_regression {cfg.max_subtask_regression}: {parts}",
        {k: a for k, (a, _) in broken.items()},
        {k: b for k, (_, b) in broken.items()},
        cfg.max_subtask_regression,
    )


def check_floors(cfg: PromotionConfig, challenger: Evidence) -> list[Rule]:
    rules = []
    for metric, floor in sorted(cfg.floors.items()):
        value = challenger.metrics.get(metric)
        if value is None:
            continue
        lower = metric in LOWER_IS_BETTER
        passed = _ok(value) and (value <= floor if lower else value >= floor)
        op = "<=" if lower else ">="
        detail = f"no champion yet: {metric} {value:.4f} must be {op} floor {floor}"
        rules.append(Rule("floor", passed, detail, {metric: value}, None, {metric: floor}))
    if not rules:
        detail = (
            f"no champion yet and no floor configured for the recorded metrics {sorted(challenger.metrics)}"
        )
        rules.append(Rule("floor", False, detail + " (promotion.floors)", None, None, dict(cfg.floors)))
    return rules


def evaluate_gate(cfg: PromotionConfig, challenger: Evidence, champion: Evidence | None) -> list[Rule]:
    """All rules for ``challenger`` against ``champion`` (or the absolute floors when there is none)."""
    rules = [check_validation(cfg, challenger)]
    if champion is None:
        rules += check_floors(cfg, challenger)
    else:
        rules += [
            check_test_split(cfg, challenger, champion),
            check_primary(cfg, challenger, champion),
            check_secondary(cfg, challenger, champion),
            check_subtasks(cfg, challenger, champion),
        ]
    return [r for r in rules if r is not None]


def broken(rules: list[Rule]) -> list[Rule]:
    return [r for r in rules if not r.passed]
