"""The promotion gate's rules as pure functions over recorded evidence."""

from __future__ import annotations

import pytest

from climbflow.config import PromotionConfig
from climbflow.registry.gate import Evidence, broken, evaluate_gate, gain

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


CFG = PromotionConfig(min_improvement=0.01, max_regression=0.02, max_subtask_regression=0.03)
CHAMPION = ev("1")


def test_better_challenger_passes_every_rule():
    better = ev(metrics=METRICS | {"macro_auc": 0.83, "f1": 0.61}, subtasks=SUBTASKS | {"MI": 0.80})
    rules = evaluate_gate(CFG, better, CHAMPION)
    assert names(rules) == []
    assert {r.name for r in rules} == {
        "validation_passed",
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
    assert [r.name for r in rules] == ["validation_passed", "floor", "floor"]
    assert names(rules) == ["floor"] and "f1" in broken(rules)[0].detail
    assert names(evaluate_gate(cfg, ev(metrics=METRICS | {"f1": 0.7}), None)) == []
    # no floor applies to the recorded metrics: refused, not waved through
    no_floor = CFG.model_copy(update={"floors": {"r2": 0.1}})
    assert names(evaluate_gate(no_floor, ev(), None)) == ["floor"]


def test_lower_is_better_metrics_for_regression():
    cfg = PromotionConfig(min_improvement=0.1, max_regression=0.05, floors={"mae": 2.0})
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
    # a NaN metric is never compared
    champ = ev("1", metrics={"macro_auc": 0.8, "f1": 0.9}, subtasks={})
    assert (
        names(
            evaluate_gate(
                CFG, e.__class__(**{**e.__dict__, "metrics": {"macro_auc": 0.9, "f1": float("nan")}}), champ
            )
        )
        == []
    )


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
