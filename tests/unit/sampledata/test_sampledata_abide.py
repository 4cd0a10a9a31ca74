"""ABIDE sample writer: layout, determinism, class-dependent connectivity destroyed by shuffle_labels."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from climbflow.catalog.abide import ABIDE, PHENOTYPE
from climbflow.catalog.base import RawRecord, Rejected
from climbflow.sampledata.abide import write_abide


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout_and_determinism(tmp_path):
    root = write_abide(tmp_path / "a", 40, seed=1, nodes=12)
    table = pd.read_csv(root / PHENOTYPE)
    assert {"SUB_ID", "FILE_ID", "DX_GROUP", "SITE_ID", "AGE_AT_SCAN", "SEX"} <= set(table.columns)
    assert set(table["DX_GROUP"]) == {1, 2} and table["SUB_ID"].is_unique
    assert list(root.glob("*_cc200_correlation.npy")) and list((root / "rois_cc200").glob("*_rois_cc200.1D"))
    items = list(ABIDE().index(root))
    rejected = [r for r in items if isinstance(r, Rejected)]
    assert {r.rule for r in rejected} <= {"no_filename"} and len(rejected) < 0.2 * len(items)
    rec = next(r for r in items if isinstance(r, RawRecord))
    m, _ = ABIDE().decode(root, rec)
    assert m.shape == (12, 12) and np.allclose(np.diag(m), 1.0, atol=1e-5)
    assert _digest(root) == _digest(write_abide(tmp_path / "b", 40, seed=1, nodes=12))
    assert _digest(root) != _digest(write_abide(tmp_path / "c", 40, seed=2, nodes=12))


def _auc(root: Path) -> float:
    spec = ABIDE()
    records = [r for r in spec.index(root) if isinstance(r, RawRecord)]
    iu = None
    x, y = [], []
    for r in records:
        m, _ = spec.decode(root, r)
        iu = iu or np.triu_indices(m.shape[0], 1)
        x.append(np.arctanh(np.clip(m[iu], -0.99, 0.99)))
        y.append(r.target[0])
    clf = LogisticRegression(C=0.01, max_iter=2000)
    return float(cross_val_score(clf, np.array(x), np.array(y), cv=4, scoring="roc_auc").mean())


def test_connectivity_depends_on_diagnosis_and_shuffle_destroys_it(tmp_path):
    true_auc = _auc(write_abide(tmp_path / "t", 100, seed=0, nodes=40))
    shuffled_auc = _auc(write_abide(tmp_path / "s", 100, seed=0, nodes=40, shuffle_labels=True))
    assert 0.7 < true_auc < 0.99, "learnable, not trivial"
    assert shuffled_auc < 0.62
