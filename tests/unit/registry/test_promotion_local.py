"""Promotion, rollback and cached-run links against a local sqlite MLflow registry (no training, no servers).

Versions are registered with the very tags ``_register_challenger`` writes (``tracking.challenger_tags``)."""

from __future__ import annotations

import pytest

from climbflow.registry.evidence import split_hash

MODEL = "climb-ptbxl"
SPLIT = split_hash([("ptbxl/1", "s1"), ("ptbxl/2", "s2")])
BASE = {"macro_auc": 0.80, "sensitivity": 0.70, "specificity": 0.75, "f1": 0.60, "accuracy": 0.72}
CI_OK = {
    "macro_auc": {
        "estimate": 0.8,
        "low": 0.72,
        "high": 0.87,
        "n_valid": 1000,
        "n_boot": 1000,
        "n_patients": 120,
    }
}


@pytest.fixture
def params(params_factory, tmp_path, monkeypatch):
    monkeypatch.delenv(
        "MLFLOW_TRACKING_URI", raising=False
    )  # mlflow.set_tracking_uri exports it; config reads it
    return params_factory({"ptbxl": str(tmp_path / "no-source")}, **{"promotion.floors": {"macro_auc": 0.3}})


def register(params, metrics=BASE, ci=CI_OK, uri="/ws/evaluation/ptbxl/k1") -> str:
    from climbflow.registry import tracking

    mlflow, client = tracking.mlflow_client(params)
    run = client.create_run(tracking.experiment_id(params), run_name="evaluate:ptbxl")
    report = {
        "target": "ptbxl",
        "task": "multilabel",
        "data_version": "abc.dir",
        "n_test": 120,
        "metrics": metrics,
        "ci": ci,
        "per_class_auc": {"NORM": 0.8},
    }
    run_tags = {"climb.pipeline_run_id": "unit", "climb.git_commit": "abc"}
    tags = tracking.challenger_tags(report, uri, run_tags, test_split=SPLIT, verdicts={"ptbxl": "passed"})
    try:
        client.create_registered_model(MODEL)
    except mlflow.exceptions.MlflowException:
        pass
    mv = client.create_model_version(MODEL, "/tmp/m", run_id=run.info.run_id, tags=tags, await_creation_for=0)
    client.set_registered_model_alias(MODEL, "challenger", mv.version)
    return str(mv.version)


def aliases(params) -> dict[str, str]:
    from climbflow.registry import tracking

    return {
        k: str(v) for k, v in tracking.mlflow_client(params)[1].get_registered_model(MODEL).aliases.items()
    }


def test_promoting_the_champion_again_is_a_bad_request(params):
    from climbflow.registry.promotion import PromotionError, promote

    v1 = register(params)
    assert promote(params, MODEL).promoted
    with pytest.raises(PromotionError, match="already @champion"):
        promote(params, MODEL)  # @challenger is still v1
    with pytest.raises(PromotionError, match="already @champion"):
        promote(params, MODEL, v1, force=True, reason="again")
    assert aliases(params) == {"champion": v1, "challenger": v1}  # no @previous-champion == @champion


def test_rollback_onto_the_same_version_is_a_bad_request(params):
    from climbflow.registry import tracking
    from climbflow.registry.promotion import PromotionError, rollback

    v1 = register(params)
    client = tracking.mlflow_client(params)[1]
    client.set_registered_model_alias(MODEL, "champion", v1)
    client.set_registered_model_alias(MODEL, "previous-champion", v1)  # what the old promote left behind
    with pytest.raises(PromotionError, match="same version"):
        rollback(params, MODEL, reason="oops")
    assert aliases(params)["champion"] == v1


def test_cli_exits_2_for_both(params, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from climbflow import cli
    from climbflow.cli_registry import register as add_registry

    names = {c.name or c.callback.__name__ for c in cli.app.registered_commands}
    if "promote" not in names:
        add_registry(cli.app)
    path = tmp_path / "resolved.yaml"
    path.write_text(yaml.safe_dump(params.to_dict()))
    register(params)
    runner = CliRunner()
    assert runner.invoke(cli.app, ["promote", MODEL, "--params", str(path)]).exit_code == 0
    again = runner.invoke(cli.app, ["promote", MODEL, "--params", str(path)])
    assert again.exit_code == 2 and "already @champion" in again.output
    from climbflow.registry import tracking

    tracking.mlflow_client(params)[1].set_registered_model_alias(MODEL, "previous-champion", "1")
    back = runner.invoke(cli.app, ["rollback", MODEL, "--reason", "x", "--params", str(path)])
    assert back.exit_code == 2 and "same version" in back.output


def test_below_chance_version_is_tagged_and_refused_unless_forced(params):
    from climbflow.registry import tracking
    from climbflow.registry.promotion import promote

    ci = {
        "macro_auc": {
            "estimate": 0.347,
            "low": 0.281,
            "high": 0.489,
            "n_valid": 1000,
            "n_boot": 1000,
            "n_patients": 80,
        }
    }
    v1 = register(params, BASE | {"macro_auc": 0.347}, ci)
    tags = tracking.mlflow_client(params)[1].get_model_version(MODEL, v1).tags
    assert tags["climb.quality"] == "below_chance" and "below chance" in tags["climb.quality.reasons"]
    refused = promote(params, MODEL)  # the floor (0.3) alone would let it through
    assert not refused.promoted and [r.name for r in refused.rules if not r.passed] == ["not_below_chance"]
    forced = promote(params, MODEL, force=True, reason="known negative control")
    assert forced.promoted and forced.forced
    # a healthy one is tagged ok
    v2 = register(params, uri="/ws/evaluation/ptbxl/k2")
    assert tracking.mlflow_client(params)[1].get_model_version(MODEL, v2).tags["climb.quality"] == "ok"


def test_cached_evaluate_run_links_the_run_that_made_its_artifacts(params):
    from climbflow.registry import tracking
    from climbflow.stages.base import StageResult

    register(params, uri="/ws/evaluation/ptbxl/k1")
    mlflow, client = tracking.mlflow_client(params)
    (mv,) = client.search_model_versions(f"name = '{MODEL}'")  # the only version
    cached = client.create_run(tracking.experiment_id(params), run_name="evaluate:ptbxl").info.run_id
    result = StageResult("evaluate", "ptbxl", "/ws/evaluation/ptbxl/k1", {"target": "ptbxl"}, True, 0.0)
    assert tracking._link_registered(params, result, cached)
    tags = client.get_run(cached).data.tags
    assert tags["climb.registered_model"] == f"{MODEL}/{mv.version}"
    assert tags["climb.source_run_id"] == mv.run_id != cached
    assert mv.run_id in tags["mlflow.note.content"] and "Cache hit" in tags["mlflow.note.content"]
