"""The main job end to end: `climb run` on the smallest sample, cached re-runs, and the shuffled-label control."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from climbflow import sampledata

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CLIMB = str(Path(sys.executable).parent / "climb")


def _climb_run(params: Path) -> tuple[str, list[dict]]:
    proc = subprocess.run([CLIMB, "run", "--params", str(params)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, f"climb run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    run_id = re.search(r"climb run (local-[\w-]+)", proc.stdout).group(1)
    ledger = Path(params.parent / "workspace" / "runs" / run_id)
    return proc.stdout, [json.loads(p.read_text()) for p in sorted(ledger.glob("*.json"))]


def _metric(entries: list[dict], target: str) -> float:
    entry = next(e for e in entries if e["stage"] == "evaluate" and e["name"] == target)
    return entry["report"]["metrics"]["macro_auc"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from tests.conftest import make_params

    root = tmp_path_factory.mktemp("e2e")
    ws = root / "workspace" / "sample"
    params = make_params(
        root,
        {"ptbxl": str(ws / "ptbxl"), "chexpert": str(ws / "chexpert")},
        **{"sample_data.records": {"ptbxl": 400, "chexpert": 300}},
    )
    stdout, entries = _climb_run(params)
    return root, params, stdout, entries


def test_climb_run_trains_learns_and_registers(small_run):
    root, params, stdout, entries = small_run
    assert {(e["stage"], e["name"]) for e in entries} == {
        (s, d) for s in ("ingest", "validate", "standardize") for d in ("ptbxl", "chexpert")
    } | {
        ("pretrain", "ecg"),
        ("pretrain", "image2d"),
        ("finetune", "ptbxl"),
        ("finetune", "chexpert"),
        ("evaluate", "ptbxl"),
        ("evaluate", "chexpert"),
    }
    assert not any(e["cache_hit"] for e in entries)
    assert _metric(entries, "ptbxl") >= 0.75, "sample PTB-XL has learnable class structure"
    assert "bin/climb ui" in stdout and "climb-ptbxl/1" in stdout
    assert (
        "/runs/" in stdout and "?workflowType=machine_learning" in stdout
    )  # opens MLflow's Model training view
    evaluation = Path(next(e["uri"] for e in entries if e["stage"] == "evaluate" and e["name"] == "ptbxl"))
    assert {"metrics.json", "report.md", "roc_ptbxl.png", "confusion_ptbxl.png"} <= {
        p.name for p in evaluation.iterdir()
    }


def test_rerun_reuses_everything_and_a_changed_dataset_reruns_only_its_branch(small_run):
    root, params, _, first = small_run
    _, again = _climb_run(params)
    assert all(e["cache_hit"] for e in again) and len(again) == len(first)
    assert _metric(again, "ptbxl") == _metric(first, "ptbxl")

    sampledata.write("chexpert", root / "workspace" / "sample" / "chexpert", 280, seed=0)
    _, changed = _climb_run(params)
    rerun = {(e["stage"], e["name"]) for e in changed if not e["cache_hit"]}
    assert rerun == {
        ("ingest", "chexpert"),
        ("validate", "chexpert"),
        ("standardize", "chexpert"),
        ("pretrain", "image2d"),
        ("finetune", "chexpert"),
        ("evaluate", "chexpert"),
    }


def test_shuffled_labels_score_near_chance(tmp_path):
    from tests.conftest import make_params

    ws = tmp_path / "workspace" / "sample"
    params = make_params(
        tmp_path,
        {"ptbxl": str(ws / "ptbxl")},
        **{"sample_data.records": {"ptbxl": 400}, "sample_data.shuffle_labels": True},
    )
    _, entries = _climb_run(params)
    assert abs(_metric(entries, "ptbxl") - 0.5) < 0.15


def test_bad_dataset_fails_the_run_with_a_clear_message(tmp_path):
    import pandas as pd

    from tests.conftest import make_params

    src = tmp_path / "ptbxl"
    sampledata.write("ptbxl", src, 60, seed=0)
    db = pd.read_csv(src / "ptbxl_database.csv").drop(columns=["strat_fold"])
    db.to_csv(src / "ptbxl_database.csv", index=False)
    params = make_params(tmp_path, {"ptbxl": str(src)})
    proc = subprocess.run([CLIMB, "run", "--params", str(params)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "validation of ptbxl failed" in out and "strat_fold" in out
    assert "Traceback" not in out
