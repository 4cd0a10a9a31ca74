"""The promotion gate as pure functions over recorded evidence (no MLflow here, so it is unit-testable).

A challenger becomes champion when every rule passes:
``validation_passed`` (all datasets behind it passed validation), ``not_below_chance`` (its recorded quality is not
``below_chance``), ``same_test_split`` (compared on the same test patients: the same frozen split, hash-checked, or
the champion re-scored on the challenger's test split with none of its training patients in it),
``primary_improvement`` (``gate_on: lower_bound``: the lower end of the paired patient-bootstrap 95% CI of the
primary-metric gain is above ``min_delta_lower_bound``; ``gate_on: point``: the gain is > 0 and at least
``min_improvement``), ``secondary_regression`` (no other headline metric drops by more than ``max_regression``),
``subtask_regression`` (no per-class AUC drops by more than ``max_subtask_regression``). A metric that is missing or
NaN fails its rule (fail closed). With no champion: ``validation_passed``, ``not_below_chance`` and ``floor``
(absolute minimum per metric; a maximum for lower-is-better metrics).

The paired numbers (:class:`Paired`) come from scoring both models on the challenger's test split
(:func:`climbflow.registry.evidence.paired_evidence`); without them the gate compares the recorded metrics and
``gate_on: lower_bound`` fails closed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from climbflow.config import PromotionConfig
from climbflow.evaluate import scoring
from climbflow.evaluate.scoring import LOWER_IS_BETTER, headline


@dataclass(frozen=True)
class Evidence:
    """What the gate knows about one model version (from its version tags)."""

    version: str
    task: str
    metrics: dict[str, float]
    subtasks: dict[str, float] = field(default_factory=dict)
    validation: str = "unknown"  # passed | failed | unknown
    test_split_hash: str | None = None
    quality: str = "unknown"  # ok | uncertain | below_chance | unknown (climbflow.evaluate.quality)

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
            quality=tags.get("climb.quality", "unknown"),
        )


@dataclass(frozen=True)
class Paired:
    """Challenger and champion scored on the same test patients (the challenger's test split).

    ``delta``: ``{metric: {estimate, low, high, n_valid, n_boot}}`` of challenger - champion (raw difference, not
    yet signed by :func:`gain`), from a paired patient-level bootstrap; ``per_class_auc_delta``: challenger -
    champion per class kept in this split. ``champion_rescored``: the champion's recorded test split differed, so
    it was scored here on the challenger's; ``leaked_patients``: how many of the champion's training / validation
    patients are in this test split (None = could not be checked).
    """

    split_hash: str | None
    n_patients: int
    challenger: dict[str, float]
    champion: dict[str, float]
    delta: dict[str, dict[str, float]]
    per_class_auc_delta: dict[str, float] = field(default_factory=dict)
    dropped_classes: list[str] = field(default_factory=list)
    champion_rescored: bool = False
    leaked_patients: int | None = 0
    n_boot: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rule:
    """One evaluated rule with the numbers it compared."""

    name: str
    passed: bool
    detail: str
    challenger: Any = None
    champion: Any = None
    threshold: Any = None
    delta: dict[str, Any] | None = None  # the gain (positive = better) with its paired 95% CI, when computed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gain(metric: str, challenger: float, champion: float) -> float:
    """challenger - champion, signed so that positive = better."""
    diff = challenger - champion
    return -diff if metric in LOWER_IS_BETTER else diff


def primary_metric(cfg: PromotionConfig, task: str) -> str:
    """``promotion.primary_metric[task]``, else the task's default (:func:`climbflow.evaluate.scoring.primary_metric`)."""
    return cfg.primary_metric.get(task, scoring.primary_metric(task))  # type: ignore[call-overload]


def secondary_metrics(cfg: PromotionConfig, task: str) -> list[str]:
    primary = primary_metric(cfg, task)
    names = cfg.secondary_metrics
    if names is None:
        names = list(headline(task))
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


def check_quality(cfg: PromotionConfig, challenger: Evidence) -> Rule | None:
    if not cfg.refuse_below_chance:
        return None
    passed = challenger.quality != "below_chance"
    detail = (
        f"quality {challenger.quality!r} (climb.quality)"
        if passed
        else "the model's metric CI lies at or below chance (climb.quality=below_chance); "
        "promote it only with --force --reason"
    )
    return Rule("not_below_chance", passed, detail, challenger.quality, None, "not below_chance")


def check_test_split(
    cfg: PromotionConfig,
    challenger: Evidence,
    champion: Evidence,
    paired: Paired | None = None,
    paired_error: str | None = None,
) -> Rule | None:
    if not cfg.require_same_test_split:
        return None
    a, b = challenger.test_split_hash, champion.test_split_hash
    if a and a == b:
        return Rule("same_test_split", True, f"same test split {a[:12]}", a, b, "equal")
    if paired is not None and paired.champion_rescored:
        where = f"champion re-scored on the challenger's test split {(paired.split_hash or a or '?')[:12]}"
        if paired.leaked_patients is None:
            unfair = "the champion's training patients could not be checked against it"
        elif paired.leaked_patients:
            unfair = (
                f"{paired.leaked_patients} of its patients were in the champion's training / validation split: "
                "not a fair comparison"
            )
        else:
            unfair = ""
        if unfair:
            threshold = "no champion training patient in the test split"
            return Rule("same_test_split", False, f"{where}, but {unfair}", a, b, threshold)
        detail = f"{where} ({paired.n_patients} patients, paired; recorded split {(b or 'missing')[:12]})"
        return Rule("same_test_split", True, detail, a, b, "same patients")
    if not a or not b:
        detail = f"test split hash not recorded (challenger {a or 'missing'}, champion {b or 'missing'})"
    else:
        detail = f"challenger evaluated on test split {a[:12]}, champion on {b[:12]}: not comparable"
    if paired_error:
        detail += f"; the champion could not be re-scored on the challenger's split ({paired_error})"
    return Rule("same_test_split", False, detail, a, b, "equal")


def signed_interval(metric: str, raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """The raw challenger - champion interval as a gain (positive = better; bounds swap for mae / rmse)."""
    if not raw:
        return None
    out = dict(raw)
    if metric in LOWER_IS_BETTER:
        out |= {"estimate": -raw["estimate"], "low": -raw["high"], "high": -raw["low"]}
    return out


def _ci_text(g: dict[str, Any]) -> str:
    return f"{g['estimate']:+.4f} [95% CI {g['low']:+.4f}, {g['high']:+.4f}]"


def _values(challenger: Evidence, champion: Evidence, paired: Paired | None, metric: str) -> tuple[Any, Any]:
    if paired is not None:
        return paired.challenger.get(metric), paired.champion.get(metric)
    return challenger.metrics.get(metric), champion.metrics.get(metric)


def check_primary(
    cfg: PromotionConfig,
    challenger: Evidence,
    champion: Evidence,
    paired: Paired | None = None,
    paired_error: str | None = None,
) -> Rule:
    metric = primary_metric(cfg, challenger.task)
    a, b = _values(challenger, champion, paired, metric)
    g = signed_interval(metric, paired.delta.get(metric)) if paired is not None else None
    where = f" on the same {paired.n_patients} patients" if paired is not None else " (recorded)"
    if not _ok(a) or not _ok(b):
        return Rule(
            "primary_improvement",
            False,
            f"{metric} missing or NaN (challenger {a}, champion {b})",
            a,
            b,
            delta=g,
        )
    if cfg.gate_on == "lower_bound":
        if g is None:
            why = paired_error or "no paired bootstrap of the two models"
            return Rule(
                "primary_improvement",
                False,
                f"{metric} {a:.4f} vs champion {b:.4f}{where}: no paired CI of the gain ({why}); "
                "gate_on lower_bound fails closed",
                a,
                b,
                cfg.min_delta_lower_bound,
            )
        share = g["n_valid"] / g["n_boot"] if g.get("n_boot") else 0.0
        if not _ok(g["low"]) or share < cfg.min_valid_fraction:
            return Rule(
                "primary_improvement",
                False,
                f"{metric} gain CI unreliable: {g.get('n_valid')}/{g.get('n_boot')} valid bootstrap replicates "
                f"(< min_valid_fraction {cfg.min_valid_fraction}); too few positives / patients in the test split",
                a,
                b,
                cfg.min_delta_lower_bound,
                g,
            )
        passed = g["low"] > cfg.min_delta_lower_bound
        detail = (
            f"{metric} {a:.4f} vs champion {b:.4f}{where}: gain {_ci_text(g)}; lower bound "
            f"{'>' if passed else '<='} min_delta_lower_bound {cfg.min_delta_lower_bound}"
        )
        return Rule("primary_improvement", passed, detail, a, b, cfg.min_delta_lower_bound, g)
    delta = gain(metric, a, b)
    passed = delta > 0 and delta >= cfg.min_improvement
    shown = _ci_text(g) if g is not None else f"{delta:+.4f}"
    detail = (
        f"{metric} {a:.4f} vs champion {b:.4f}{where}: improvement {shown} "
        f"{'>' if passed else 'not >'} 0 and {'>=' if delta >= cfg.min_improvement else '<'} "
        f"min_improvement {cfg.min_improvement}"
    )
    return Rule("primary_improvement", passed, detail, a, b, cfg.min_improvement, g)


def check_secondary(
    cfg: PromotionConfig, challenger: Evidence, champion: Evidence, paired: Paired | None = None
) -> Rule:
    worst: tuple[float, str, float, float] | None = None
    compared, unusable = [], []
    for metric in secondary_metrics(cfg, challenger.task):
        a, b = _values(challenger, champion, paired, metric)
        if not _ok(a) or not _ok(b):
            unusable.append(f"{metric} (challenger {a}, champion {b})")
            continue
        compared.append(metric)
        delta = gain(metric, a, b)
        if worst is None or delta < worst[0]:
            worst = (delta, metric, a, b)
    if unusable:
        return Rule(
            "secondary_regression",
            False,
            f"secondary metric missing or NaN, cannot show it did not regress (fail closed): {', '.join(unusable)}",
            threshold=cfg.max_regression,
        )
    if worst is None:
        return Rule("secondary_regression", True, "no secondary metric configured")
    delta, metric, a, b = worst
    passed = -delta <= cfg.max_regression
    g = signed_interval(metric, paired.delta.get(metric)) if paired is not None else None
    detail = (
        f"worst secondary metric {metric} {a:.4f} vs champion {b:.4f} (change "
        f"{_ci_text(g) if g else f'{delta:+.4f}'}); max_regression {cfg.max_regression} over {', '.join(compared)}"
    )
    return Rule("secondary_regression", passed, detail, {metric: a}, {metric: b}, cfg.max_regression, g)


def check_subtasks(
    cfg: PromotionConfig, challenger: Evidence, champion: Evidence, paired: Paired | None = None
) -> Rule:
    drops: dict[str, float] = {}
    unusable: list[str] = []
    pairs: dict[str, tuple[float, float]] = {}  # recorded (challenger, champion) AUCs when not paired
    if paired is not None:  # the classes kept in the shared test split, both models on the same patients
        drops = dict(paired.per_class_auc_delta)
        unusable = [k for k, d in drops.items() if not _ok(d)]
    else:
        for name in sorted(champion.subtasks):
            a, b = challenger.subtasks.get(name), champion.subtasks[name]
            if not _ok(b):
                continue
            if not _ok(a):
                unusable.append(name)
                continue
            drops[name], pairs[name] = a - b, (a, b)
    if unusable:
        return Rule(
            "subtask_regression",
            False,
            "per-class AUC missing or NaN on the challenger where the champion has one (fail closed): "
            + ", ".join(unusable),
            threshold=cfg.max_subtask_regression,
        )
    if not drops:
        return Rule("subtask_regression", True, "no sub-task (per-class AUC) to compare")
    broken_ = {k: d for k, d in drops.items() if -d > cfg.max_subtask_regression}
    if not broken_:
        return Rule(
            "subtask_regression",
            True,
            f"no per-class AUC dropped by more than {cfg.max_subtask_regression} ({len(drops)} sub-tasks)",
            threshold=cfg.max_subtask_regression,
        )
    parts = ", ".join(
        f"{k} {pairs[k][0]:.4f} vs {pairs[k][1]:.4f} ({d:+.4f})" if k in pairs else f"{k} {d:+.4f} (paired)"
        for k, d in broken_.items()
    )
    return Rule(
        "subtask_regression",
        False,
        f"per-class AUC dropped by more than max_subtask_regression {cfg.max_subtask_regression}: {parts}",
        {k: pairs[k][0] if k in pairs else d for k, d in broken_.items()},
        {k: pairs[k][1] for k in broken_ if k in pairs} or None,
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


def evaluate_gate(
    cfg: PromotionConfig,
    challenger: Evidence,
    champion: Evidence | None,
    paired: Paired | None = None,
    paired_error: str | None = None,
) -> list[Rule]:
    """All rules for ``challenger`` against ``champion`` (or the absolute floors when there is none).

    ``paired``: both models scored on the challenger's test split (None: compare the recorded metrics;
    ``paired_error`` says why there is no paired comparison).
    """
    rules = [check_validation(cfg, challenger), check_quality(cfg, challenger)]
    if champion is None:
        rules += check_floors(cfg, challenger)
    else:
        rules += [
            check_test_split(cfg, challenger, champion, paired, paired_error),
            check_primary(cfg, challenger, champion, paired, paired_error),
            check_secondary(cfg, challenger, champion, paired),
            check_subtasks(cfg, challenger, champion, paired),
        ]
    return [r for r in rules if r is not None]


def broken(rules: list[Rule]) -> list[Rule]:
    return [r for r in rules if not r.passed]
