"""The promotion gate's rules as pure functions over recorded evidence."""

from __future__ import annotations

import pytest

from climbflow.config import PromotionConfig
from climbflow.registry.gate import Evidence, Paired, broken, evaluate_gate, gain

SPLIT = "a" * 64
METRICS = {"macro_auc": 0.80, "sensitivity": 0.70, "specificity": 0.75, "f1": 0.60, "accuracy": 0.72}
SUBTASKS = {"NORM": 0.85, "MI": 0.78, "STTC": 0.80}


def ev(version="2", metrics=None, subtasks=None, validation="passed", split=SPLIT, task="multilabel"):
    return Evidence(
        version,
        task,
        dict(METRICS if metrics is None else metrics),
        dict(SUBTASKS if subtasks is None else subtasks),
        validation,
        split,
    )


def names(rules):
    return [r.name for r in broken(rules)]


# recorded point estimates (gate_on: point); the paired lower-bound gate (the default) is tested below
CFG = PromotionConfig(gate_on="point", min_improvement=0.01, max_regression=0.02, max_subtask_regression=0.03)
CHAMPION = ev("1")


def test_better_challenger_passes_every_rule():
    better = ev(metrics=METRICS | {"macro_auc": 0.83, "f1": 0.61}, subtasks=SUBTASKS | {"MI": 0.80})
    rules = evaluate_gate(CFG, better, CHAMPION)
    assert names(rules) == []
    assert {r.name for r in rules} == {
        "validation_passed",
        "not_below_chance",
        "same_test_split",
        "primary_improvement",
        "secondary_regression",
        "subtask_regression",
    }
    primary = next(r for r in rules if r.name == "primary_improvement")
    assert (primary.challenger, primary.champion, primary.threshold) == (0.83, 0.80, 0.01)


def test_worse_or_too_small_improvement_is_refused():
    assert names(evaluate_gate(CFG, ev(metrics=METRICS | {"macro_auc": 0.79}), CHAMPION)) == [
        "primary_improvement"
    ]
    small = evaluate_gate(CFG, ev(metrics=METRICS | {"macro_auc": 0.805}), CHAMPION)
    assert names(small) == ["primary_improvement"]
    assert "0.8050" in broken(small)[0].detail and "min_improvement 0.01" in broken(small)[0].detail
    # a tie never passes, even with min_improvement 0
    tie = evaluate_gate(CFG.model_copy(update={"min_improvement": 0.0}), ev(), CHAMPION)
    assert names(tie) == ["primary_improvement"]


def test_secondary_metric_regression_is_refused():
    rules = evaluate_gate(CFG, ev(metrics=METRICS | {"macro_auc": 0.85, "sensitivity": 0.60}), CHAMPION)
    assert names(rules) == ["secondary_regression"]
    assert "sensitivity" in broken(rules)[0].detail


def test_subtask_regression_is_refused_and_names_the_class():
    challenger = ev(metrics=METRICS | {"macro_auc": 0.85}, subtasks=SUBTASKS | {"MI": 0.70})
    rules = evaluate_gate(CFG, challenger, CHAMPION)
    assert names(rules) == ["subtask_regression"]
    assert "MI" in broken(rules)[0].detail and broken(rules)[0].challenger == {"MI": 0.70}
    # within the allowance: passes
    ok = ev(metrics=METRICS | {"macro_auc": 0.85}, subtasks=SUBTASKS | {"MI": 0.76})
    assert names(evaluate_gate(CFG, ok, CHAMPION)) == []


@pytest.mark.parametrize("verdict", ["failed", "unknown"])
def test_validation_not_passed_is_refused(verdict):
    rules = evaluate_gate(CFG, ev(metrics=METRICS | {"macro_auc": 0.9}, validation=verdict), CHAMPION)
    assert names(rules) == ["validation_passed"]
    assert verdict in broken(rules)[0].detail


def test_different_or_missing_test_split_is_refused():
    better = METRICS | {"macro_auc": 0.9}
    assert names(evaluate_gate(CFG, ev(metrics=better, split="b" * 64), CHAMPION)) == ["same_test_split"]
    assert names(evaluate_gate(CFG, ev(metrics=better, split=None), CHAMPION)) == ["same_test_split"]
    relaxed = CFG.model_copy(update={"require_same_test_split": False})
    assert names(evaluate_gate(relaxed, ev(metrics=better, split="b" * 64), CHAMPION)) == []


def test_no_champion_checks_absolute_floors():
    cfg = CFG.model_copy(update={"floors": {"macro_auc": 0.75, "f1": 0.65}})
    rules = evaluate_gate(cfg, ev(), None)
    assert [r.name for r in rules] == ["validation_passed", "not_below_chance", "floor", "floor"]
    assert names(rules) == ["floor"] and "f1" in broken(rules)[0].detail
    assert names(evaluate_gate(cfg, ev(metrics=METRICS | {"f1": 0.7}), None)) == []
    # no floor applies to the recorded metrics: refused, not waved through
    no_floor = CFG.model_copy(update={"floors": {"r2": 0.1}})
    assert names(evaluate_gate(no_floor, ev(), None)) == ["floor"]


def test_lower_is_better_metrics_for_regression():
    cfg = PromotionConfig(gate_on="point", min_improvement=0.1, max_regression=0.05, floors={"mae": 2.0})
    reg = {"mae": 1.5, "rmse": 2.0, "r2": 0.5, "pearson_r": 0.7}
    champ = Evidence("1", "regression", reg, {}, "passed", SPLIT)
    better = Evidence("2", "regression", reg | {"mae": 1.3}, {}, "passed", SPLIT)
    worse = Evidence("3", "regression", reg | {"mae": 1.7}, {}, "passed", SPLIT)
    assert gain("mae", 1.3, 1.5) == pytest.approx(0.2)
    assert names(evaluate_gate(cfg, better, champ)) == []
    assert names(evaluate_gate(cfg, worse, champ)) == ["primary_improvement"]
    rmse_worse = Evidence("4", "regression", reg | {"mae": 1.3, "rmse": 2.2}, {}, "passed", SPLIT)
    assert names(evaluate_gate(cfg, rmse_worse, champ)) == ["secondary_regression"]
    assert names(evaluate_gate(cfg, Evidence("5", "regression", reg | {"mae": 2.5}, {}, "passed"), None)) == [
        "floor"
    ]


def test_evidence_from_version_tags():
    tags = {
        "climb.task": "multilabel",
        "climb.metric.macro_auc": "0.81",
        "climb.metric.f1": "nan",
        "climb.subtask_auc.MI": "0.7",
        "climb.validation": "passed",
        "climb.test_split_hash": SPLIT,
        "climb.data_version": "abc.dir",
    }
    e = Evidence.from_tags("3", tags)
    assert e.metrics["macro_auc"] == 0.81 and e.subtasks == {"MI": 0.7}
    assert (e.version, e.validation, e.test_split_hash) == ("3", "passed", SPLIT)
    # a NaN secondary metric fails closed (it used to be skipped)
    champ = ev("1", metrics={"macro_auc": 0.8, "f1": 0.9}, subtasks={})
    cfg = CFG.model_copy(update={"secondary_metrics": ["f1"]})
    nan_f1 = e.__class__(**{**e.__dict__, "metrics": {"macro_auc": 0.9, "f1": float("nan")}})
    rules = evaluate_gate(cfg, nan_f1, champ)
    assert names(rules) == ["secondary_regression"] and "f1" in broken(rules)[0].detail


def test_force_overrides_a_failed_gate_only_with_a_reason():
    from climbflow.registry.gate import Rule
    from climbflow.registry.promotion import PromotionError, settle

    refused = evaluate_gate(CFG, ev(metrics=METRICS | {"macro_auc": 0.7}), CHAMPION)
    assert settle(refused, force=False, reason=None) == (False, False, False)
    for reason in (None, "", "   "):
        with pytest.raises(PromotionError, match="--reason"):
            settle(refused, force=True, reason=reason)
    assert settle(refused, force=True, reason="label fix, re-evaluated by hand") == (False, True, True)
    passing = evaluate_gate(CFG, ev(metrics=METRICS | {"macro_auc": 0.9}), CHAMPION)
    assert settle(passing, force=True, reason="x") == (True, True, False)
    same = [Rule("not_already_champion", False, "already champion")]
    assert settle(same, force=True, reason="x") == (False, False, False)


# --- issue 13: paired lower-bound gate, fail closed, below chance, re-scored champion ---------------------------

LB = PromotionConfig(max_regression=0.02, max_subtask_regression=0.03)  # defaults: gate_on lower_bound, > 0.0


def paired(delta_auc=(0.03, 0.01, 0.05), rescored=False, leaked=0, n_valid=1000, per_class=None, **metrics):
    est, low, high = delta_auc
    champ = dict(METRICS)
    chal = METRICS | {"macro_auc": METRICS["macro_auc"] + est} | metrics
    delta = {
        k: {
            "estimate": chal[k] - champ[k],
            "low": chal[k] - champ[k] - 0.01,
            "high": chal[k] - champ[k] + 0.01,
            "n_valid": n_valid,
            "n_boot": 1000,
        }
        for k in METRICS
    }
    delta["macro_auc"] |= {"estimate": est, "low": low, "high": high}
    return Paired(
        split_hash="b" * 64 if rescored else SPLIT,
        n_patients=50,
        challenger=chal,
        champion=champ,
        delta=delta,
        per_class_auc_delta={"NORM": 0.01, "MI": 0.0} if per_class is None else per_class,
        champion_rescored=rescored,
        leaked_patients=leaked,
        n_boot=1000,
    )


def test_default_gate_needs_the_paired_lower_bound_above_zero():
    assert PromotionConfig().gate_on == "lower_bound" and PromotionConfig().min_delta_lower_bound == 0.0
    better = ev(metrics=METRICS | {"macro_auc": 0.9})
    assert names(evaluate_gate(LB, better, CHAMPION, paired())) == []
    rule = next(r for r in evaluate_gate(LB, better, CHAMPION, paired()) if r.name == "primary_improvement")
    assert rule.delta["low"] == 0.01 and "[95% CI +0.0100, +0.0500]" in rule.detail
    # a better point estimate whose CI spans 0 (noise), and an exact tie: refused
    noisy = evaluate_gate(LB, better, CHAMPION, paired((0.03, -0.01, 0.07)))
    assert (
        names(noisy) == ["primary_improvement"] and "<= min_delta_lower_bound 0.0" in broken(noisy)[0].detail
    )
    assert names(evaluate_gate(LB, better, CHAMPION, paired((0.0, 0.0, 0.0)))) == ["primary_improvement"]
    # no paired comparison available: fail closed, not a point-estimate fallback
    closed = evaluate_gate(LB, better, CHAMPION, None, "champion model not loadable")
    assert (
        names(closed) == ["primary_improvement"] and "champion model not loadable" in broken(closed)[0].detail
    )
    # too many invalid replicates: the CI is not trusted
    assert names(evaluate_gate(LB, better, CHAMPION, paired(n_valid=500))) == ["primary_improvement"]


def test_lower_is_better_gain_swaps_the_bounds():
    from climbflow.registry.gate import signed_interval

    raw = {"estimate": -0.2, "low": -0.3, "high": -0.1, "n_valid": 10, "n_boot": 10}  # challenger mae lower
    assert signed_interval("mae", raw) | {} == raw | {"estimate": 0.2, "low": 0.1, "high": 0.3}
    assert signed_interval("macro_auc", raw) == raw


def test_nan_paired_values_fail_closed():
    better = ev(metrics=METRICS | {"macro_auc": 0.9})
    rules = evaluate_gate(LB, better, CHAMPION, paired(sensitivity=float("nan")))
    assert names(rules) == ["secondary_regression"] and "sensitivity" in broken(rules)[0].detail
    rules = evaluate_gate(LB, better, CHAMPION, paired(per_class={"NORM": float("nan"), "MI": 0.0}))
    assert names(rules) == ["subtask_regression"] and "NORM" in broken(rules)[0].detail
    # recorded per-class AUC of the champion missing on the challenger: fail closed too
    gone = ev(metrics=METRICS | {"macro_auc": 0.9}, subtasks={"NORM": 0.85, "STTC": 0.8})
    assert names(evaluate_gate(CFG, gone, CHAMPION)) == ["subtask_regression"]


def test_champion_rescored_on_the_challengers_split_is_comparable_unless_patients_leak():
    better = ev(metrics=METRICS | {"macro_auc": 0.9}, split="b" * 64)
    rules = evaluate_gate(LB, better, CHAMPION, paired(rescored=True))
    assert names(rules) == []
    split = next(r for r in rules if r.name == "same_test_split")
    assert "re-scored on the challenger's test split" in split.detail
    assert names(evaluate_gate(LB, better, CHAMPION, paired(rescored=True, leaked=3))) == ["same_test_split"]
    assert names(evaluate_gate(LB, better, CHAMPION, paired(rescored=True, leaked=None))) == [
        "same_test_split"
    ]
    failed = evaluate_gate(LB, better, CHAMPION, None, "no store")
    assert (
        names(failed) == ["same_test_split", "primary_improvement"] and "no store" in broken(failed)[0].detail
    )


def test_below_chance_challenger_is_refused_even_without_a_champion():
    from climbflow.registry.gate import Evidence

    bad = Evidence.from_tags(
        "1",
        {
            "climb.metric.macro_auc": "0.347",
            "climb.quality": "below_chance",
            "climb.validation": "passed",
            "climb.task": "multilabel",
        },
    )
    assert bad.quality == "below_chance"
    assert names(evaluate_gate(CFG.model_copy(update={"floors": {"macro_auc": 0.3}}), bad, None)) == [
        "not_below_chance"
    ]
    better_but_bad = ev(metrics=METRICS | {"macro_auc": 0.9})
    better_but_bad = better_but_bad.__class__(**{**better_but_bad.__dict__, "quality": "below_chance"})
    assert names(evaluate_gate(LB, better_but_bad, CHAMPION, paired())) == ["not_below_chance"]
    relaxed = LB.model_copy(update={"refuse_below_chance": False})
    assert names(evaluate_gate(relaxed, better_but_bad, CHAMPION, paired())) == []


def test_gate_defaults_are_the_evaluation_headline_and_primary_rule():
    from climbflow.evaluate import scoring
    from climbflow.registry import gate

    # one home: the gate reads the evaluation's tuples and rule instead of keeping copies
    assert gate.LOWER_IS_BETTER is scoring.LOWER_IS_BETTER
    bare = PromotionConfig()  # no copy of the rule in the config: the default defers to scoring
    assert (
        gate.primary_metric(bare, "multilabel") == "macro_auc"
        and gate.primary_metric(bare, "regression") == "mae"
    )
    assert gate.secondary_metrics(bare, "binary") == ["sensitivity", "specificity", "f1", "accuracy"]
    assert gate.secondary_metrics(bare, "regression") == ["rmse", "r2", "pearson_r"]
    chosen = PromotionConfig(primary_metric={"regression": "rmse"})
    assert gate.primary_metric(chosen, "regression") == "rmse"
    assert gate.secondary_metrics(chosen, "regression") == ["mae", "r2", "pearson_r"]
    assert gain("rmse", 1.0, 2.0) == 1.0 and not scoring.higher_is_better("rmse")
