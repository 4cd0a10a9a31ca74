"""The promotion gate, rollback and history against a real `mlflow server` with artifacts on SeaweedFS S3.

Small model versions are registered directly (no training) with the very tags ``_register_challenger`` writes
(:func:`climbflow.registry.tracking.challenger_tags`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from climbflow.registry.evidence import split_hash

pytestmark = pytest.mark.integration

MODEL = "climb-it-promotion"
SPLIT = split_hash([("ptbxl/1", "s1"), ("ptbxl/2", "s2")])
OTHER_SPLIT = split_hash([("ptbxl/1", "s1"), ("ptbxl/3", "s3")])
BASE = {"macro_auc": 0.80, "sensitivity": 0.70, "specificity": 0.75, "f1": 0.60, "accuracy": 0.72}
CLASSES = {"NORM": 0.85, "MI": 0.78}


@pytest.fixture
def params(s3_env, mlflow_server, params_factory, sample_root):
    return params_factory(
        {"ptbxl": str(sample_root / "ptbxl")},
        **{
            "workspace.tracking_uri": mlflow_server,
            "workspace.experiment": "it-promotion",
            # these versions have no real model behind them, so no paired re-scoring: the recorded-metric gate
            # (gate_on point); the paired lower-bound gate runs end to end in tests/e2e/test_retrain_lineage.py
            "promotion.gate_on": "point",
            "promotion.min_improvement": 0.01,
            "promotion.max_regression": 0.02,
            "promotion.max_subtask_regression": 0.03,
            "promotion.floors": {"macro_auc": 0.7},
        },
    )


def register(params, metrics, subtasks=CLASSES, verdict="passed", split=SPLIT, quality=None) -> str:
    """An evaluate run + a model version tagged exactly as a pipeline registration tags it; aliased challenger."""
    from climbflow.registry import tracking

    mlflow, client = tracking.mlflow_client(params)
    run = client.create_run(tracking.experiment_id(params), run_name="evaluate:ptbxl")
    client.log_text(run.info.run_id, "tiny model", "model/weights.txt")  # through the server to S3
    report = {
        "target": "ptbxl",
        "task": "multilabel",
        "data_version": "d41d8cd98f00b204e9800998ecf8427e.dir",
        "pretrain_data_versions": {"ptbxl": "d41d8cd98f00b204e9800998ecf8427e.dir"},
        "n_test": 24,
        "metrics": metrics,
        "per_class_auc": subtasks,
    }
    run_tags = {"climb.pipeline_run_id": "it-run", "climb.git_commit": "abc123", "climb.image": "local"}
    tags = tracking.challenger_tags(
        report, "/ws/evaluation/ptbxl/k", run_tags, test_split=split, verdicts={"ptbxl": verdict}
    )
    if quality:
        tags["climb.quality"] = quality
    try:
        client.create_registered_model(MODEL)
    except mlflow.exceptions.MlflowException:
        pass
    mv = client.create_model_version(
        MODEL, f"{run.info.artifact_uri}/model", run_id=run.info.run_id, tags=tags, await_creation_for=0
    )
    client.set_registered_model_alias(MODEL, "challenger", mv.version)
    return str(mv.version)


def aliases(params) -> dict[str, str]:
    from climbflow.registry import tracking

    return dict(tracking.mlflow_client(params)[1].get_registered_model(MODEL).aliases)


def test_gate_promotes_refuses_forces_rolls_back_and_remembers(params, s3_env, monkeypatch):
    from climbflow.registry import tracking
    from climbflow.registry.promotion import PromotionError, champion_at, promote, rollback

    monkeypatch.setenv("CLIMB_ACTOR", "alice")
    before_any = datetime.now(UTC)

    # no champion: absolute floors
    v1 = register(params, BASE)
    first = promote(params, MODEL)
    assert first.passed and first.promoted and first.version == v1
    assert [r.name for r in first.rules] == ["validation_passed", "not_below_chance", "floor"]
    assert aliases(params)["champion"] == v1
    after_v1 = datetime.now(UTC)

    # a better challenger is promoted; the old champion becomes previous-champion
    v2 = register(params, BASE | {"macro_auc": 0.84})
    better = promote(params, MODEL)
    assert better.passed, better.message
    assert aliases(params).items() >= {"champion": v2, "previous-champion": v1}.items()
    primary = next(r for r in better.rules if r.name == "primary_improvement")
    assert (primary.challenger, primary.champion) == (0.84, 0.8)
    after_v2 = datetime.now(UTC)

    # each refused with a message naming the broken rule; the champion stays
    refused = {
        "primary_improvement": register(params, BASE | {"macro_auc": 0.83}),
        "subtask_regression": register(params, BASE | {"macro_auc": 0.9}, CLASSES | {"MI": 0.70}),
        "validation_passed": register(params, BASE | {"macro_auc": 0.9}, verdict="failed"),
        "same_test_split": register(params, BASE | {"macro_auc": 0.9}, split=OTHER_SPLIT),
    }
    for rule, version in refused.items():
        decision = promote(params, MODEL, version)
        assert not decision.passed and not decision.promoted
        assert [r.name for r in decision.rules if not r.passed] == [rule]
        assert rule in decision.message and decision.message.startswith(f"refused {MODEL}/{version}")
        assert aliases(params)["champion"] == v2
        tags = tracking.mlflow_client(params)[1].get_model_version(MODEL, version).tags
        assert tags["climb.promotion.passed"] == "false" and rule in tags["climb.promotion.message"]

    # --force needs a reason; with one it overrides the gate and records who and why
    worse = refused["primary_improvement"]
    with pytest.raises(PromotionError, match="--reason"):
        promote(params, MODEL, worse, force=True)
    forced = promote(params, MODEL, worse, force=True, reason="hotfix for label bug")
    assert forced.promoted and forced.forced and not forced.passed and forced.actor == "alice"
    assert aliases(params).items() >= {"champion": worse, "previous-champion": v2}.items()
    tags = tracking.mlflow_client(params)[1].get_model_version(MODEL, worse).tags
    assert (
        tags["climb.promotion.actor"] == "alice" and tags["climb.promotion.reason"] == "hotfix for label bug"
    )
    assert tags["climb.promotion.forced"] == "true"
    after_forced = datetime.now(UTC)

    # promoting the champion again is a bad request (it used to make @previous-champion == @champion)
    with pytest.raises(PromotionError, match="already @champion"):
        promote(params, MODEL, worse)

    # rollback walks back through the chain, recorded
    back = rollback(params, MODEL, reason="forced model misbehaves")
    assert back.promoted and back.champion_before == worse and back.champion_after == v2
    assert aliases(params).items() >= {"champion": v2, "previous-champion": v1}.items()
    rollback(params, MODEL, reason="back to the first")
    assert aliases(params)["champion"] == v1 and "previous-champion" not in aliases(params)
    nothing = rollback(params, MODEL, reason="again")
    assert not nothing.passed and "previous-champion" in nothing.message

    # a below-chance challenger is refused even though it beats the champion's recorded metric
    below = register(params, BASE | {"macro_auc": 0.95}, quality="below_chance")
    refused_below = promote(params, MODEL, below)
    assert not refused_below.promoted and "not_below_chance" in refused_below.message

    # the history answers "which version was champion at time T"
    assert champion_at(params, MODEL, before_any) is None
    assert champion_at(params, MODEL, after_v1) == v1
    assert champion_at(params, MODEL, after_v2) == v2
    assert champion_at(params, MODEL, after_forced) == worse
    assert champion_at(params, MODEL, datetime.now(UTC) + timedelta(seconds=1)) == v1
    # naive datetimes are UTC
    assert champion_at(params, MODEL, after_v2.replace(tzinfo=None)) == v2

    # each decision is an MLflow run with its JSON on S3
    objects = s3_env.client().list_objects_v2(Bucket="mlflow-artifacts").get("Contents", [])
    assert sum(o["Key"].endswith("decision.json") for o in objects) >= 10


def test_unknown_model_or_version_is_a_clear_error(params):
    from climbflow.registry.promotion import PromotionError, promote

    with pytest.raises(PromotionError, match="no such registered model"):
        promote(params, "climb-does-not-exist")
    register(params, BASE)
    with pytest.raises(PromotionError, match="999"):
        promote(params, MODEL, "999")
