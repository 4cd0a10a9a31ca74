"""KiTS23 sample copy: real layout, deterministic, NIfTI conventions, masses that follow malignancy, shuffle."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from climbflow.catalog.base import RawRecord
from climbflow.catalog.kits23 import KiTS23
from climbflow.sampledata.kits23 import SHAPE, write_kits23

N_STRUCTURE = 40


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _cases(root: Path) -> list[dict]:
    return json.loads((root / "dataset" / "kits23.json").read_text())


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("kits23")
    write_kits23(base / "true", N_STRUCTURE, seed=0)
    write_kits23(base / "shuffled", N_STRUCTURE, seed=0, shuffle_labels=True)
    return base / "true", base / "shuffled"


def test_deterministic_and_seed_dependent(tmp_path):
    write_kits23(tmp_path / "a", 3, seed=3)
    write_kits23(tmp_path / "b", 3, seed=3)
    write_kits23(tmp_path / "c", 3, seed=4)
    a = _hashes(tmp_path / "a")
    assert a == _hashes(tmp_path / "b") and len(a) == 7  # 3 x (imaging + segmentation) + kits23.json
    assert a != _hashes(tmp_path / "c")


def test_real_layout_and_nifti_conventions(copies):
    root, _ = copies
    cases = _cases(root)
    assert [c["case_id"] for c in cases] == [f"case_{i:05d}" for i in range(N_STRUCTURE)]
    for key in ("gender", "age_at_nephrectomy", "malignant", "tumor_histologic_subtype", "radiographic_size"):
        assert all(key in c for c in cases)
    assert all(isinstance(c["malignant"], bool) for c in cases)
    assert 0.3 <= np.mean([c["malignant"] for c in cases]) <= 0.85
    img = nib.load(str(root / "dataset" / "case_00000" / "imaging.nii.gz"))
    seg = nib.load(str(root / "dataset" / "case_00000" / "segmentation.nii.gz"))
    assert img.shape == seg.shape == SHAPE and np.allclose(img.affine, seg.affine)
    assert nib.aff2axcodes(img.affine) == ("I", "P", "L")  # KiTS's storage orientation
    assert img.get_data_dtype() == np.int16 and img.dataobj.inter == -1024.0
    assert np.asanyarray(seg.dataobj).dtype == np.uint8
    labels = set(np.unique(np.asanyarray(seg.dataobj)))
    assert {0, 1, 2} <= labels <= {0, 1, 2, 3}
    hu = img.get_fdata()
    assert hu.min() < -900 and 100 < np.percentile(hu[np.asanyarray(seg.dataobj) == 1], 50) < 250


def test_catalog_reads_the_copy(copies):
    root, _ = copies
    items = list(KiTS23().index(root))
    assert all(isinstance(i, RawRecord) for i in items) and len(items) == N_STRUCTURE
    hu, props = KiTS23().decode(root, items[0])
    assert hu.shape == SHAPE and props["meta"]["orig_axes"] == "IPL"
    stored = nib.load(str(root / items[0].files[0])).get_fdata()
    np.testing.assert_allclose(hu, stored)  # display order == KiTS's storage order


def _tumour_features(root: Path) -> tuple[list[str], np.ndarray]:
    """Per case: mean, std, fat fraction and 10th percentile of the tumour's HU (from segmentation == 2)."""
    ids, feats = [], []
    for case in sorted((root / "dataset").glob("case_*")):
        hu = nib.load(str(case / "imaging.nii.gz")).get_fdata()
        seg = np.asanyarray(nib.load(str(case / "segmentation.nii.gz")).dataobj)
        t = hu[seg == 2]
        feats.append([t.mean(), t.std(), (t < -20).mean(), np.percentile(t, 10)])
        ids.append(case.name)
    return ids, np.asarray(feats)


def _cv_auc(x: np.ndarray, y: np.ndarray) -> float:
    """Cross-validated AUC of a small random forest (the classes are not linearly separable: papillary RCC
    is darker than oncocytoma, angiomyolipoma darker still but fatty)."""
    model = RandomForestClassifier(100, min_samples_leaf=2, random_state=0)
    prob = cross_val_predict(model, x, y, cv=4, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, prob))


def test_tumour_appearance_follows_malignancy_and_shuffling_destroys_it(copies):
    true, shuffled = copies
    images = {k: v for k, v in _hashes(true).items() if k.endswith(".nii.gz")}
    assert images == {k: v for k, v in _hashes(shuffled).items() if k.endswith(".nii.gz")}
    ids, x = _tumour_features(true)  # the volumes are the same in both copies
    y_true = np.array([{c["case_id"]: c["malignant"] for c in _cases(true)}[i] for i in ids], dtype=int)
    y_shuffled = np.array(
        [{c["case_id"]: c["malignant"] for c in _cases(shuffled)}[i] for i in ids], dtype=int
    )
    assert sorted(y_true) == sorted(y_shuffled) and (y_true != y_shuffled).any()
    auc_true, auc_shuffled = _cv_auc(x, y_true), _cv_auc(x, y_shuffled)
    assert auc_true > 0.8, auc_true
    assert auc_shuffled < 0.7, auc_shuffled
    assert auc_true < 1.0  # chromophobe RCC vs oncocytoma overlap: not trivially separable
