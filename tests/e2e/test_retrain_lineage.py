"""Retraining and lineage end to end: two `climb run`s with a changed dataset in between, then `climb retrain`
(no further change: exit 0), `climb lineage diff` (exactly the changed data version) and the HTML lineage page
rendered in headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from climbflow import sampledata

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CLIMB = str(Path(sys.executable).parent / "climb")
CHROMIUM = "/usr/bin/chromium"
# the registry commands, whether or not cli.py has called cli_registry.register(app) yet
REGISTRY_CLI = (
    "from climbflow import cli; from climbflow.cli_registry import register; "
    "names = {c.name or c.callback.__name__ for c in cli.app.registered_commands}; "
    "'retrain' in names or register(cli.app); cli.main()"
)


def climb(*args: str, registry: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", REGISTRY_CLI, *args] if registry else [CLIMB, *args]
    env = os.environ | {"CLIMB_ACTOR": "e2e-tester", "COLUMNS": "200", "CLIMB_GIT_COMMIT": "e2e-same-commit"}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)


def ok(proc: subprocess.CompletedProcess, code: int = 0) -> str:
    assert proc.returncode == code, (
        f"exit {proc.returncode} != {code}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from tests.conftest import make_params

    root = tmp_path_factory.mktemp("e2e-retrain")
    sample = root / "workspace" / "sample"
    params = make_params(
        root,
        {"ptbxl": str(sample / "ptbxl"), "chexpert": str(sample / "chexpert")},
        **{
            "sample_data.records": {"ptbxl": 80, "chexpert": 80},
            "pretrain.epochs": 1,
            "pretrain.epochs_by_modality": {},
            "finetune.epochs": 1,
            "finetune.epochs_by_modality": {},
            "evaluate.bootstrap": 0,
        },
    )
    p = str(params)
    ok(climb("run", "--params", p, registry=False))
    ok(climb("promote", "climb-chexpert", "--force", "--reason", "e2e: first champion", "--params", p))
    sampledata.write("chexpert", sample / "chexpert", 70, seed=0)  # the dataset changes
    ok(climb("run", "--params", p, registry=False))
    ok(climb("promote", "climb-chexpert", "--force", "--reason", "e2e: retrained on new data", "--params", p))
    return root, p


def test_retrain_without_further_change_reports_no_change(two_runs):
    _, p = two_runs
    proc = climb("retrain", "--params", p, "--json")
    out = json.loads(ok(proc, 0))
    assert out["status"] == "no change" and out["code"] == 0 and out["decisions"] == []
    by_target = {t["target"]: t for t in out["plan"]["targets"]}
    assert (by_target["chexpert"]["reference"], by_target["chexpert"]["version"]) == ("champion", "2")
    assert (by_target["ptbxl"]["reference"], by_target["ptbxl"]["version"]) == ("challenger", "1")
    for t in by_target.values():
        assert t["changed"] is False and {r["status"] for r in t["datasets"].values()} == {"unchanged"}
    assert "retrain: no change (exit 0)" in ok(climb("retrain", "--params", p), 0)


def test_lineage_diff_shows_exactly_the_changed_data_version(two_runs):
    _, p = two_runs
    diff = json.loads(
        ok(climb("lineage", "diff", "climb-chexpert/1", "climb-chexpert/2", "-f", "json", "--params", p))
    )
    assert set(diff["data_versions"]) == {"chexpert"}
    assert diff["data_versions"]["chexpert"]["a"] != diff["data_versions"]["chexpert"]["b"]
    assert set(diff["snapshots"]) == {"chexpert"}
    assert diff["params"] == {} and diff["code"] == {}
    text = ok(climb("lineage", "diff", "climb-chexpert/1", "climb-chexpert/2", "--params", p))
    assert "data_versions:\n  chexpert:" in text and "params: same" in text


def test_lineage_tree_is_complete_from_recorded_facts(two_runs):
    root, p = two_runs
    tree = json.loads(ok(climb("lineage", "climb-chexpert@champion", "-f", "json", "--params", p)))
    assert tree["version"] == "2" and "champion" in tree["aliases"]
    assert '"missing"' not in json.dumps(tree), "every link of a pipeline-registered model is recorded"
    pipe = tree["evaluate"]["pipeline_run"]
    assert (
        pipe["pipeline_run_id"].startswith("local-") and pipe["git_commit"] and pipe["params"]["seed"] == "0"
    )
    (ds,) = tree["datasets"]
    assert ds["dataset"] == "chexpert" and ds["standardized"]["matches_version_used"] is True
    assert ds["validation"]["passed"] == "True" and ds["validation"]["data_docs"]
    snap = ds["raw_snapshot"]
    assert snap["n_files"] > 70 and snap["sha256_manifest"]["present"] is True
    assert snap["source_uri"].endswith("sample/chexpert")
    assert tree["evaluate"]["finetune"]["pretrain"]["name"] == "image2d"
    assert "climb-chexpert/1" in ok(climb("lineage", "climb-chexpert/1", "--params", p))
    assert "@previous-champion" in ok(climb("models", "--params", p))


def test_lineage_html_renders_in_headless_chromium(two_runs, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium) - HTML lineage not rendered")
    _, p = two_runs
    page = tmp_path / "lineage.html"
    ok(climb("lineage", "climb-ptbxl/1", "-f", "html", "--out", str(page), "--params", p))
    assert "http://" not in page.read_text() and "https://" not in page.read_text()
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Lineage of climb-ptbxl/1" in dom.stdout and 'id="lineage"' in dom.stdout
    assert (
        "raw_snapshot" in dom.stdout and "pipeline_run_id" in dom.stdout and "data-missing=" not in dom.stdout
    )


def _last_json(text: str) -> dict:
    """The JSON document at the end of stdout (the training pipeline's task log lines come before it)."""
    return json.loads(text if text.startswith("{") else text[text.rindex("\n{\n") + 1 :])


def test_unattended_retrain_promotes_a_better_model_and_gates_out_a_worse_one(tmp_path):
    """Issue 13.2/13.3: after a data change the new patients change the test split; `climb retrain` re-scores the
    champion on the challenger's test split (paired) and gates on the lower bound of the paired gain, without
    --force: a real model over a shuffled-label champion is promoted (exit 10), a shuffled-label model over a
    real champion is gated out (exit 20)."""
    from tests.conftest import make_params

    sample = tmp_path / "workspace" / "sample" / "ptbxl"
    params = make_params(
        tmp_path,
        {"ptbxl": str(sample)},
        **{
            "sample_data.records": {"ptbxl": 500},
            "pretrain.epochs": 1,
            "pretrain.epochs_by_modality": {},
            "finetune.epochs": 3,
            "finetune.epochs_by_modality": {},
            "evaluate.bootstrap": 0,
            "promotion.bootstrap": 300,
        },
    )
    p = str(params)
    sampledata.write(
        "ptbxl", sample, 500, seed=0, shuffle_labels=True
    )  # the first champion: a negative control
    ok(climb("run", "--params", p, registry=False))
    ok(climb("promote", "climb-ptbxl", "--force", "--reason", "e2e: shuffled-label champion", "--params", p))

    sampledata.write("ptbxl", sample, 520, seed=1)  # the data changes: other patients, real labels
    better = _last_json(ok(climb("retrain", "--params", p, "--json"), 10))
    (decision,) = better["decisions"]
    assert decision["promoted"] and decision["passed"] and not decision["forced"], decision["message"]
    assert decision["version"] == "2" and decision["champion_before"] == "1"
    assert decision["paired"]["champion_rescored"] is True and decision["paired"]["leaked_patients"] == 0
    rules = {r["name"]: r for r in decision["rules"]}
    assert "re-scored on the challenger's test split" in rules["same_test_split"]["detail"]
    assert rules["primary_improvement"]["delta"]["low"] > 0.0

    sampledata.write("ptbxl", sample, 540, seed=2, shuffle_labels=True)  # changes again: labels broken
    worse = climb("retrain", "--params", p)
    out = ok(worse, 20)
    assert "refused climb-ptbxl/3" in out and "primary_improvement" in out
    shown = ok(climb("models", "--params", p))
    assert "@champion" in shown
    gate = json.loads(ok(climb("promote", "climb-ptbxl", "--version", "3", "--json", "--params", p), 20))
    primary = next(r for r in gate["rules"] if r["name"] == "primary_improvement")
    assert not primary["passed"] and primary["delta"]["low"] <= 0.0
    table = ok(climb("promote", "climb-ptbxl", "--version", "3", "--params", p), 20)
    assert "gain Δ [95% CI]" in table and "[95% CI" in table
