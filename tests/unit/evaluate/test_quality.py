"""Issue 13.5: results at or below chance are flagged (results table, report, registry tag), not silently kept."""

from __future__ import annotations

import numpy as np
import pytest

from climbflow.evaluate.quality import BELOW_CHANCE, OK, UNCERTAIN, assess
from climbflow.evaluate.report import write_report
from climbflow.evaluate.scoring import score


def _binary(n: int, signal: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(float)[:, None]
    p = np.clip(0.5 + signal * (y - 0.5) + rng.normal(0, 0.25, (n, 1)), 0, 1)
    return y, p, [f"p{i // 2}" for i in range(n)]


@pytest.mark.parametrize(
    ("signal", "n", "verdict"),
    [(-0.6, 200, BELOW_CHANCE), (0.0, 200, UNCERTAIN), (0.6, 200, OK), (0.6, 30, UNCERTAIN)],
)
def test_verdict_follows_the_ci_against_chance_like_sklearn(signal, n, verdict) -> None:
    from sklearn.metrics import roc_auc_score

    y, p, patients = _binary(n, signal)
    out = score(y, p, patients, "binary", ["pos"], n_boot=300)
    auc = roc_auc_score(y[:, 0], p[:, 0])
    assert out["macro_auc"] == pytest.approx(auc)
    assert out["quality"]["verdict"] == verdict, out["quality"]
    ci = out["ci"]["macro_auc"]
    if verdict == BELOW_CHANCE:
        assert auc < 0.5 and ci["high"] < 0.5
    if n == 30:
        assert any("test patients" in r for r in out["quality"]["reasons"])


def test_reported_case_from_the_issue_is_below_chance() -> None:
    ci = {"macro_auc": {"estimate": 0.347, "low": 0.281, "high": 0.489, "n_valid": 1000, "n_boot": 1000}}
    assert assess("multilabel", {"macro_auc": 0.347}, ci, n_patients=80)["verdict"] == BELOW_CHANCE
    spans = {"macro_auc": ci["macro_auc"] | {"high": 0.6}}
    assert assess("multilabel", {"macro_auc": 0.45}, spans, n_patients=80)["verdict"] == UNCERTAIN
    # no CI at all: at/below chance is still below chance, above it is uncertain
    assert assess("binary", {"macro_auc": 0.5})["verdict"] == BELOW_CHANCE
    assert assess("binary", {"macro_auc": 0.9})["verdict"] == UNCERTAIN
    assert assess("regression", {"r2": -0.2, "mae": 3.0})["verdict"] == BELOW_CHANCE


def test_report_flags_below_chance_and_unreliable_cis(tmp_path) -> None:
    y, p, patients = _binary(200, -0.6)
    bad = score(y, p, patients, "binary", ["pos"], n_boot=200)
    written = write_report(tmp_path, {"ds": bad}, title="t")
    text = written["markdown"].read_text()
    assert "BELOW CHANCE" in text and "valid replicates" in text
    good = score(*_binary(200, 0.6), "binary", ["pos"], n_boot=200)
    text = write_report(tmp_path / "ok", {"ds": good}, title="t")["markdown"].read_text()
    assert "BELOW CHANCE" not in text and "| ok |" in text


def test_climb_run_results_table_flags_the_row() -> None:
    from climbflow.cli import _result_cells

    ci = {"macro_auc": {"estimate": 0.347, "low": 0.281, "high": 0.489, "n_valid": 1000, "n_boot": 1000}}
    row = {
        "target": "ptbxl",
        "task": "multilabel",
        "metrics": {"macro_auc": 0.347, "f1": 0.2, "n_test": 120},
        "ci": ci,
        "data_version": "abc.dir",
        "model": "climb-ptbxl/3",
        "cache_hit": False,
    }
    assert "BELOW CHANCE" in _result_cells(row)[-1]
    fine = row | {
        "metrics": {"macro_auc": 0.9, "n_test": 120},
        "ci": {"macro_auc": ci["macro_auc"] | {"low": 0.85, "high": 0.95, "n_patients": 100}},
    }
    assert "ok" in _result_cells(fine)[-1] and "BELOW" not in _result_cells(fine)[-1]
