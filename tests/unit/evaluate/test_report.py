"""climbflow.evaluate.report: metrics.json, report.md and PNG plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climbflow.evaluate.metrics import classification_metrics
from climbflow.evaluate.report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAN = float("nan")


def _datasets() -> dict[str, tuple[np.ndarray, np.ndarray, list[str], str]]:
    rng = np.random.default_rng(0)
    n = 120
    # multilabel with unknowns and one degenerate class
    y_ml = (rng.random((n, 4)) < 0.4).astype(float)
    y_ml[:, 3] = 0.0
    y_ml[rng.random((n, 4)) < 0.1] = NAN
    s_ml = np.clip(np.nan_to_num(y_ml, nan=0.5) * 0.3 + rng.random((n, 4)) * 0.7, 0, 1)
    # multiclass
    lab = rng.integers(0, 3, n)
    y_mc = np.eye(3)[lab]
    logits = 1.5 * y_mc + rng.normal(size=(n, 3))
    s_mc = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    # binary, single column
    y_b = (rng.random((n, 1)) < 0.3).astype(float)
    s_b = np.clip(y_b * 0.4 + rng.random((n, 1)) * 0.6, 0, 1)
    # nothing usable
    y_deg = np.ones((10, 2))
    s_deg = rng.random((10, 2))
    return {
        "chexpert/small": (y_ml, s_ml, ["Atelectasis", "Edema", "Effusion", "Rare"], "multilabel"),
        "covid_us": (y_mc, s_mc, ["covid", "pneumonia", "normal"], "multiclass"),
        "ptbxl binary": (y_b, s_b, ["abnormal"], "binary"),
        "degenerate": (y_deg, s_deg, ["a", "b"], "multilabel"),
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    """One report written once (plotting is the slow part) and shared by the read-only tests."""
    root = tmp_path_factory.mktemp("eval") / "report"
    curves = _datasets()
    results = {ds: classification_metrics(yt, ys, task, nm) for ds, (yt, ys, nm, task) in curves.items()}
    out = write_report(root, results, "CLIMB eval", curves)
    return out, results, root


def test_files_exist_and_paths_returned(written) -> None:
    out, results, root = written
    assert out["metrics"] == root / "metrics.json" and out["metrics"].is_file()
    assert out["markdown"] == root / "report.md" and out["markdown"].is_file()
    names = sorted(p.name for p in out["plots"])
    assert names == sorted(
        f"{kind}_{slug}.png"
        for kind in ("roc", "confusion")
        for slug in ("chexpert_small", "covid_us", "ptbxl_binary", "degenerate")
    )
    assert all(p.parent == root for p in out["plots"])


def test_metrics_json_sorted_and_complete(written) -> None:
    out, results, _ = written
    text = out["metrics"].read_text()
    assert text == json.dumps(results, sort_keys=True, indent=2) + "\n"
    loaded = json.loads(text)
    assert set(loaded) == set(results)
    assert loaded["covid_us"]["macro_auc"] == pytest.approx(results["covid_us"]["macro_auc"])
    assert math.isnan(loaded["degenerate"]["macro_auc"])


def test_markdown_contains_numbers(written) -> None:
    out, results, _ = written
    md = out["markdown"].read_text()
    assert md.startswith("# CLIMB eval")
    for ds, r in results.items():
        assert f"## {ds}" in md
        assert f"| n | {r['n']} |" in md
        for key in ("macro_auc", "sensitivity", "specificity", "f1", "accuracy"):
            if not math.isnan(r[key]):
                assert f"{r[key]:.4f}" in md, (ds, key)
        for name, pc in r["per_class"].items():
            if not math.isnan(pc["auc"]):
                assert f"| {name} | {pc['auc']:.4f} |" in md
    assert "Dropped from macro AUC (no positives or all positives among known labels): Rare" in md
    assert "Dropped from macro AUC (no positives or all positives among known labels): a, b" in md
    assert "Note: no usable class" in md
    assert "n/a" in md


def test_pngs_are_valid(written) -> None:
    out, _, _ = written
    for path in out["plots"]:
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC, path
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            assert img.format == "PNG"
            w, h = img.size
            assert w > 0 and h > 0


def test_without_curves_writes_only_tables(tmp_path: Path) -> None:
    yt, ys, names, task = _datasets()["covid_us"]
    out = write_report(tmp_path, {"covid_us": classification_metrics(yt, ys, task, names)}, "t", {})
    assert out["plots"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "report.md"]


def test_many_class_multiclass_plot(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    c, n = 30, 300
    yt = np.eye(c)[rng.integers(0, c, n)]
    ys = rng.dirichlet(np.ones(c), n)
    names = [f"c{k}" for k in range(c)]
    results = {"big": classification_metrics(yt, ys, "multiclass", names)}
    out = write_report(tmp_path, results, "big", {"big": (yt, ys, names, "multiclass")})
    for path in out["plots"]:
        assert path.read_bytes()[:8] == PNG_MAGIC
