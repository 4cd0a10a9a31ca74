"""HAM10000 / ISIC 2020 / APTOS / BUSI sample copies: real layouts the catalog reads, determinism, and class
structure that image proxies detect and that shuffle_labels destroys."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from scipy.stats import rankdata, spearmanr

from climbflow import catalog
from climbflow.catalog.base import RawRecord
from climbflow.sampledata.color_images import write_aptos, write_busi, write_ham10000, write_isic2020

WRITERS = {"ham10000": write_ham10000, "isic2020": write_isic2020, "aptos": write_aptos, "busi": write_busi}
N = 80


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _load(name: str, root: Path) -> list[tuple[RawRecord, np.ndarray]]:
    spec = catalog.get(name)()
    items = list(spec.index(root))
    assert all(isinstance(i, RawRecord) for i in items), [i for i in items if not isinstance(i, RawRecord)]
    return [(r, spec.decode(root, r)[0]) for r in items]


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """``copies(name, shuffled)``: the records and decoded images of one sample copy (written once per module)."""
    base = tmp_path_factory.mktemp("color")
    cache: dict[tuple[str, bool], list[tuple[RawRecord, np.ndarray]]] = {}

    def get(name: str, shuffled: bool) -> list[tuple[RawRecord, np.ndarray]]:
        if (name, shuffled) not in cache:
            root = WRITERS[name](base / f"{name}-{shuffled}", N, seed=0, shuffle_labels=shuffled)
            cache[name, shuffled] = _load(name, root)
        return cache[name, shuffled]

    return get


def _auc(labels, scores) -> float:
    y, ranks = np.asarray(labels), rankdata(scores)
    n1, n0 = (y == 1).sum(), (y == 0).sum()
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_deterministic_and_seed_dependent(tmp_path, name):
    a = _hashes(WRITERS[name](tmp_path / "a", 8, seed=3))
    assert a == _hashes(WRITERS[name](tmp_path / "b", 8, seed=3))
    assert a != _hashes(WRITERS[name](tmp_path / "c", 8, seed=4))
    assert _hashes(WRITERS[name](tmp_path / "a", 8, seed=3)) == a  # rewriting in place changes nothing


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_record_is_read_and_images_vary_in_shape(copies, name):
    records = copies(name, False)
    assert len(records) == N
    shapes = {img.shape[:2] for _, img in records}
    assert any(h != w for h, w in shapes) and any(h == w for h, w in shapes) or len(shapes) > 3
    assert all(96 <= min(img.shape[:2]) and max(img.shape[:2]) <= 160 for _, img in records)
    counts = np.sum([r.target for r, _ in records], axis=0)
    assert (counts > 0).all(), counts  # every class occurs


def test_ham10000_layout_lesions_and_folders(tmp_path):
    root = write_ham10000(tmp_path, 40, seed=1)
    header = (root / "HAM10000_metadata.csv").read_text().splitlines()[0]
    assert header == "lesion_id,image_id,dx,dx_type,age,sex,localization"
    part1 = sorted(p.name for p in (root / "HAM10000_images_part_1").iterdir())
    part2 = sorted(p.name for p in (root / "HAM10000_images_part_2").iterdir())
    assert len(part1) == len(part2) == 20 and part1[0] == "ISIC_0024306.jpg" and max(part1) < min(part2)
    records = [r for r in catalog.get("ham10000")().index(root)]
    lesions = [r.patient_id for r in records]
    assert len(set(lesions)) < len(lesions)  # several images of one lesion
    for lesion in set(lesions):  # ... share one diagnosis
        assert len({r.target for r in records if r.patient_id == lesion}) == 1


def test_isic2020_patients_have_several_images(tmp_path):
    root = write_isic2020(tmp_path, 30, seed=1)
    records = list(catalog.get("isic2020")().index(root))
    assert len({r.patient_id for r in records}) < len(records)
    assert all(r.patient_id.startswith("IP_") and r.record_id.startswith("ISIC_") for r in records)
    with Image.open(root / records[0].files[0]) as img:
        assert img.format == "JPEG" and img.mode == "RGB"


def test_busi_masks_lie_next_to_images(tmp_path):
    root = write_busi(tmp_path, 30, seed=2)
    data = root / "Dataset_BUSI_with_GT"
    for folder in ("benign", "malignant", "normal"):
        for img in data.glob(f"{folder}/{folder} (*).png"):
            if "_mask" in img.name:
                continue
            with Image.open(img.with_name(img.stem + "_mask.png")) as mask:
                values = set(np.unique(np.asarray(mask)).tolist())
            assert values <= {0, 255} and ((values == {0}) == (folder == "normal"))
    modes = set()
    for p in data.rglob("*).png"):
        with Image.open(p) as im:
            modes.add(im.mode)
    assert modes == {"RGB", "L"}


# ------------------------------------------------------------------------------------------- class structure
def _dark_area(img: np.ndarray) -> float:
    luma = img.astype(float).mean(axis=2)
    return float((luma < 0.6 * np.median(luma)).mean())


def _exudates(img: np.ndarray) -> float:
    a = img.astype(int)
    return float(((a[..., 0] > 200) & (a[..., 1] > 170) & (a[..., 2] < 140)).mean())


def _hypoechoic(img: np.ndarray) -> float:
    gray = img if img.ndim == 2 else img[..., 0]
    smooth = ndimage.uniform_filter(gray.astype(float), 9)
    h, w = smooth.shape
    centre = smooth[int(0.3 * h) : int(0.75 * h), int(0.2 * w) : int(0.8 * w)]
    return float((centre < 0.45 * np.median(smooth)).mean())


def _score(name: str, records: list[tuple[RawRecord, np.ndarray]]) -> float:
    if name == "ham10000":  # melanoma vs nevus: larger, darker lesions
        pairs = [(r.target[0], _dark_area(a)) for r, a in records if r.target[0] or r.target[1]]
        return _auc(*zip(*pairs, strict=True))
    if name == "isic2020":
        return _auc([r.target[0] for r, _ in records], [_dark_area(a) for _, a in records])
    if name == "aptos":  # higher grades: more hard exudates (Spearman correlation)
        grades = [int(np.argmax(r.target)) for r, _ in records]
        return float(spearmanr(grades, [_exudates(a) for _, a in records])[0])
    return _auc([1 - r.target[0] for r, _ in records], [_hypoechoic(a) for _, a in records])  # BUSI masses


# real: AUC (or Spearman rho for APTOS) at least this; shuffled: within this of chance
THRESHOLDS = {"ham10000": (0.85, 0.2), "isic2020": (0.75, 0.2), "aptos": (0.45, 0.25), "busi": (0.8, 0.2)}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_class_structure_is_real_and_shuffling_breaks_it(copies, name):
    real, control = _score(name, copies(name, False)), _score(name, copies(name, True))
    chance = 0.0 if name == "aptos" else 0.5
    low, tolerance = THRESHOLDS[name]
    assert real > low, (real, control)
    assert abs(control - chance) < tolerance, (real, control)


def test_shuffled_copies_keep_the_images(tmp_path):
    for name, writer in WRITERS.items():
        true = _hashes(writer(tmp_path / name / "t", 12, seed=5))
        shuffled = _hashes(writer(tmp_path / name / "s", 12, seed=5, shuffle_labels=True))
        images = {".jpg", ".png"}
        if name == "busi":  # the folder is the label: same image bytes, filed under permuted folders
            assert sorted(v for k, v in true.items()) == sorted(v for k, v in shuffled.items()), name
        else:
            assert {k: v for k, v in true.items() if k[-4:] in images} == {
                k: v for k, v in shuffled.items() if k[-4:] in images
            }, name
            assert true != shuffled, name
