"""CheXpert sample copy: real layout, deterministic, csv conventions, class structure that labels explain."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from scipy.stats import rankdata

from climbflow.catalog.base import RawRecord
from climbflow.catalog.chexpert import LABELS, META_COLUMNS, CheXpert
from climbflow.sampledata.chexpert import write_chexpert

DATA = "CheXpert-v1.0-small"
N_STRUCTURE = 160


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _rows(root: Path, name: str) -> list[dict[str, str]]:
    with (root / DATA / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> tuple[Path, Path]:
    """The same seed written with true and with shuffled labels."""
    base = tmp_path_factory.mktemp("chexpert")
    return (
        write_chexpert(base / "true", N_STRUCTURE, seed=0),
        write_chexpert(base / "shuffled", N_STRUCTURE, seed=0, shuffle_labels=True),
    )


def test_deterministic_and_seed_dependent(tmp_path):
    a = _hashes(write_chexpert(tmp_path / "a", 12, seed=3))
    b = _hashes(write_chexpert(tmp_path / "b", 12, seed=3))
    assert a == b and len(a) == 14  # 12 JPGs + 2 csvs
    c = _hashes(write_chexpert(tmp_path / "c", 12, seed=4))
    assert a != c


def test_rewrite_in_place_is_identical(tmp_path):
    first = _hashes(write_chexpert(tmp_path, 10, seed=1))
    assert _hashes(write_chexpert(tmp_path, 10, seed=1)) == first


def test_real_layout_and_csv_conventions(copies):
    root, _ = copies
    train, valid = _rows(root, "train.csv"), _rows(root, "valid.csv")
    header = next(csv.reader((root / DATA / "train.csv").open()))
    assert header == [*META_COLUMNS, *LABELS]
    assert len(train) + len(valid) == N_STRUCTURE
    assert 0.1 <= len(valid) / N_STRUCTURE <= 0.2
    for row in train + valid:
        assert row["Path"].startswith(f"{DATA}/{'valid' if row in valid else 'train'}/patient")
        assert (root / row["Path"]).is_file()
        assert row["Sex"] in {"Male", "Female"} and 18 <= int(row["Age"]) <= 90
        assert row["Frontal/Lateral"] in {"Frontal", "Lateral"}
        assert row["AP/PA"] in ({"AP", "PA"} if row["Frontal/Lateral"] == "Frontal" else {""})
    patients = {
        split: {r["Path"].split("/")[2] for r in rows} for split, rows in (("t", train), ("v", valid))
    }
    assert not patients["t"] & patients["v"]
    assert min(int(p[7:]) for p in patients["v"]) >= 64541
    assert any("/study2/" in r["Path"] for r in train)
    assert any(r["Frontal/Lateral"] == "Lateral" for r in train + valid)
    train_cells = {r[c] for r in train for c in LABELS}
    assert train_cells == {"1.0", "0.0", "-1.0", ""}  # uncertain and blank, like the real train.csv
    assert {r[c] for r in valid for c in LABELS} <= {"1.0", "0.0"}  # the real valid.csv is fully labelled
    with Image.open(root / train[0]["Path"]) as img:
        assert img.format == "JPEG" and img.mode == "L" and 320 <= min(img.size) and max(img.size) <= 400


def test_no_finding_means_no_other_positive(copies):
    root, _ = copies
    for row in _rows(root, "valid.csv"):
        others = [row[c] == "1.0" for c in LABELS[1:]]
        assert (row["No Finding"] == "1.0") == (not any(others))


def test_catalog_reads_the_copy(copies):
    root, _ = copies
    items = list(CheXpert().index(root))
    assert all(isinstance(i, RawRecord) for i in items) and len(items) == N_STRUCTURE
    assert {i.split for i in items} == {None, "test"}
    img, props = CheXpert().decode(root, items[0])
    assert img.dtype == np.uint8 and img.ndim == 2 and props["orig_size"] == img.shape


def test_shuffled_copy_keeps_images_and_meta_but_permutes_labels(copies):
    true, shuffled = copies
    t, s = _hashes(true), _hashes(shuffled)
    assert {k: v for k, v in t.items() if k.endswith(".jpg")} == {
        k: v for k, v in s.items() if k.endswith(".jpg")
    }
    rows_t = _rows(true, "train.csv") + _rows(true, "valid.csv")
    rows_s = _rows(shuffled, "train.csv") + _rows(shuffled, "valid.csv")
    assert [[r[c] for c in META_COLUMNS] for r in rows_t] == [[r[c] for c in META_COLUMNS] for r in rows_s]
    labels_t = sorted(tuple(r[c] for c in LABELS) for r in rows_t)
    assert labels_t == sorted(tuple(r[c] for c in LABELS) for r in rows_s)  # same rows, other images
    assert [tuple(r[c] for c in LABELS) for r in rows_t] != [tuple(r[c] for c in LABELS) for r in rows_s]


# ---------------------------------------------------------------------------------------- class structure
def _otsu(x: np.ndarray) -> int:
    hist = np.bincount(x.ravel().astype(np.uint8), minlength=256).astype(float)
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m = np.cumsum(hist * np.arange(256))
    mu0, mu1 = m / np.maximum(w0, 1), (m[-1] - m) / np.maximum(w1, 1)
    return int(np.argmax(w0 * w1 * (mu0 - mu1) ** 2))


def _lung_mask(img: np.ndarray) -> np.ndarray:
    """Dark regions inside the body (not touching the border): the two lung fields."""
    smooth = ndimage.uniform_filter(img.astype(np.float32), 7)
    h, w = img.shape
    lab, n = ndimage.label(smooth < _otsu(smooth[int(0.1 * h) : int(0.8 * h), int(0.15 * w) : int(0.85 * w)]))
    border = set(np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])).tolist())
    sizes = ndimage.sum_labels(np.ones_like(lab), lab, range(n + 1))
    return np.isin(lab, [i for i in range(1, n + 1) if i not in border and sizes[i] > 0.01 * img.size])


def _heart_proxy(lungs: np.ndarray) -> float:
    """Image-left / image-right lung area in the lower half: a wide heart eats the image-right lower lung."""
    w = lungs.shape[1]
    areas = []
    for half in (lungs[:, : w // 2], lungs[:, w // 2 :]):
        rows = np.nonzero(half.any(axis=1))[0]
        if len(rows) == 0:
            return 0.0
        areas.append(half[(rows.min() + rows.max()) // 2 :].sum())
    return float(areas[0] / max(areas[1], 1))


def _effusion_proxy(lungs: np.ndarray) -> float:
    """How far the lateral costophrenic angle is raised (fluid fills it) on the worse side."""
    w = lungs.shape[1]
    depths = []
    for half in (lungs[:, : w // 2], lungs[:, w // 2 :][:, ::-1]):
        rows, cols = np.nonzero(half.any(axis=1))[0], np.nonzero(half.any(axis=0))[0]
        if len(rows) == 0:
            return 1.0
        x0, x1 = cols.min(), cols.max()
        lateral_bottom = np.nonzero(half[:, x0 : x0 + max(1, int(0.2 * (x1 - x0)))].any(axis=1))[0].max()
        depths.append((lateral_bottom - rows.min()) / max(1, rows.max() - rows.min()))
    return float(-min(depths))


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    ranks = rankdata(scores)
    pos = labels == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _proxy_aucs(root: Path) -> dict[str, float]:
    spec = CheXpert()
    heart, effusion, y_cm, y_eff = [], [], [], []
    for rec in spec.index(root):
        if rec.meta["view"] != "Frontal":
            continue
        lungs = _lung_mask(spec.decode(root, rec)[0])
        heart.append(_heart_proxy(lungs))
        effusion.append(_effusion_proxy(lungs))
        y_cm.append(rec.target[LABELS.index("Cardiomegaly")])
        y_eff.append(rec.target[LABELS.index("Pleural Effusion")])
    return {
        "Cardiomegaly": _auc(np.array(y_cm), np.array(heart)),
        "Pleural Effusion": _auc(np.array(y_eff), np.array(effusion)),
    }


def test_class_structure_is_real_and_shuffling_breaks_it(copies):
    true, shuffled = copies
    real, control = _proxy_aucs(true), _proxy_aucs(shuffled)
    # a wide heart for Cardiomegaly, a filled costophrenic angle for Pleural Effusion
    assert real["Cardiomegaly"] > 0.8, real
    assert real["Pleural Effusion"] > 0.8, real
    # the same images with permuted label rows: the proxies no longer predict the labels
    assert abs(control["Cardiomegaly"] - 0.5) < 0.15, control
    assert abs(control["Pleural Effusion"] - 0.5) < 0.15, control


def test_findings_are_drawn_where_they_belong():
    """Same image stream with and without one finding: only that finding's region changes."""
    from climbflow.sampledata.chexpert import render_frontal

    def changed(found: set[str]) -> tuple[np.ndarray, np.ndarray]:
        def render(f: set[str]) -> np.ndarray:
            return render_frontal(np.random.default_rng(7), frozenset(f), 320, 320, ap=False).astype(int)

        diff = render(found) - render(set())
        return diff, np.abs(diff) > 8

    upper, lower = slice(0, 144), slice(176, 320)  # above 45% / below 55% of the height
    diff, mask = changed({"Pleural Effusion"})
    assert mask[lower].sum() > 500 and mask[upper].sum() == 0 and diff.min() >= 0  # lower zones brighten
    diff, mask = changed({"Cardiomegaly"})
    assert mask[lower].sum() > 2 * mask[upper].sum() and diff.max() > 60  # the heart widens at the base
    diff, mask = changed({"Pneumothorax"})
    assert mask[upper].sum() > 5 * mask[lower].sum() and diff.min() < -10  # darker apex without markings
    diff, mask = changed({"Lung Lesion"})
    assert 20 < mask.sum() < 3000 and diff.max() > 40  # one or two small bright nodules
    diff, mask = changed({"Support Devices"})
    assert diff.max() > 60 and mask.sum() < 0.05 * mask.size  # thin, very bright lines
