"""VinDr-CXR and CBIS-DDSM sample copies: real layouts, DICOM with PHI and varied encodings, deterministic,
class structure that the labels explain and that shuffled labels lose."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage
from scipy.stats import rankdata, spearmanr

from climbflow.catalog.base import RawRecord
from climbflow.catalog.cbis_ddsm import CBISDDSM, DESCRIPTION_CSVS
from climbflow.catalog.chexpert import LABELS
from climbflow.catalog.dicom import SALT_ENV
from climbflow.catalog.vindr_cxr import VINDR_LABELS, VinDrCXR
from climbflow.sampledata.dicom_images import (
    CALC_COLUMNS,
    MASS_COLUMNS,
    PHI_KEYWORDS,
    PRIVATE_CREATOR,
    write_cbis_ddsm,
    write_vindr_cxr,
)

N = 60


@pytest.fixture(autouse=True)
def _salt(monkeypatch):
    monkeypatch.setenv(SALT_ENV, "sampledata-test-salt")


def _hashes(root: Path, suffix: str = "") -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob(f"*{suffix}"))
        if p.is_file()
    }


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def vindr(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("vindr")
    return write_vindr_cxr(base / "true", N, seed=0), write_vindr_cxr(
        base / "shuffled", N, seed=0, shuffle_labels=True
    )


@pytest.fixture(scope="module")
def cbis(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("cbis")
    return write_cbis_ddsm(base / "true", N, seed=0), write_cbis_ddsm(
        base / "shuffled", N, seed=0, shuffle_labels=True
    )


@pytest.mark.parametrize("writer", [write_vindr_cxr, write_cbis_ddsm])
def test_deterministic_and_seed_dependent(tmp_path, writer):
    a = _hashes(writer(tmp_path / "a", 6, seed=3))
    assert a == _hashes(writer(tmp_path / "b", 6, seed=3))
    assert a == _hashes(writer(tmp_path / "a", 6, seed=3))  # rewriting in place
    assert a != _hashes(writer(tmp_path / "c", 6, seed=4))
    with pytest.raises(ValueError):
        writer(tmp_path / "d", 1)


def test_vindr_labels_do_not_depend_on_the_hash_seed(tmp_path):
    """Two interpreters (different string-hash seeds) write the same files: ``climb sample-data`` is
    reproducible across runs, so DVC sees no change."""
    code = (
        "import sys\nfrom climbflow.sampledata.dicom_images import write_vindr_cxr\n"
        "write_vindr_cxr(sys.argv[1], 12, seed=7)\n"
    )
    roots = []
    for hash_seed in ("0", "1"):
        root = tmp_path / f"hash{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, SALT_ENV: "sampledata-test-salt"}
        subprocess.run([sys.executable, "-c", code, str(root)], env=env, check=True)
        roots.append(root)
    assert _hashes(roots[0]) == _hashes(roots[1])


def _headers(root: Path, pattern: str) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in sorted(root.rglob(pattern))]


def _assert_phi_and_encodings(datasets: list[pydicom.Dataset]) -> None:
    for ds in datasets:
        for keyword in PHI_KEYWORDS:
            assert str(ds.get(keyword, "")).strip(), keyword  # a non-de-identified export
        block = ds.private_block(0x0009, PRIVATE_CREATOR)
        assert str(ds.PatientID) in block[0x01].value
    photometric = Counter(str(ds.PhotometricInterpretation) for ds in datasets)
    assert photometric["MONOCHROME1"] >= 3 and photometric["MONOCHROME2"] >= 3
    assert sum("WindowCenter" in ds for ds in datasets) >= 3
    assert sum("VOILUTSequence" in ds for ds in datasets) >= 1
    assert sum("RescaleIntercept" in ds for ds in datasets) >= 1
    assert len({int(ds.BitsStored) for ds in datasets}) >= 2
    assert any(ds.BurnedInAnnotation == "YES" for ds in datasets)
    assert all(max(ds.Rows, ds.Columns) <= 300 for ds in datasets)  # small files


def test_vindr_layout_and_headers(vindr):
    root, _ = vindr
    train = _rows(root / "annotations/image_labels_train.csv")
    test = _rows(root / "annotations/image_labels_test.csv")
    assert list(train[0]) == ["image_id", "rad_ID", *VINDR_LABELS] and list(test[0]) == [
        "image_id",
        *VINDR_LABELS,
    ]
    per_image = Counter(r["image_id"] for r in train)
    assert set(per_image.values()) == {3} and len(per_image) + len(test) == N
    for image_id in per_image:
        assert len({r["rad_ID"] for r in train if r["image_id"] == image_id}) == 3
        assert re.fullmatch(r"[0-9a-f]{32}", image_id) and (root / "train" / f"{image_id}.dicom").is_file()
    assert all((root / "test" / f"{r['image_id']}.dicom").is_file() for r in test)
    assert 0.1 <= len(test) / N <= 0.25
    assert {r[c] for r in train for c in VINDR_LABELS} == {"0", "1"}
    for r in train + test:  # every row names something; "No finding" only alone
        positives = sum(r[c] == "1" for c in VINDR_LABELS)
        assert positives >= 1 and (r["No finding"] == "0" or positives == 1)
    datasets = _headers(root, "*.dicom")
    _assert_phi_and_encodings(datasets)
    assert {ds.Modality for ds in datasets} <= {"DX", "CR"}
    split_of: dict[str, set[str]] = {}
    for path in root.rglob("*.dicom"):
        split_of.setdefault(str(pydicom.dcmread(path, stop_before_pixels=True).PatientID), set()).add(
            path.parent.name
        )
    assert max(len(s) for s in split_of.values()) == 1 and len(split_of) < N  # patients with two studies


def test_vindr_catalog_reads_the_copy(vindr):
    root, _ = vindr
    items = list(VinDrCXR().index(root))
    assert all(isinstance(i, RawRecord) for i in items) and len(items) == N
    assert {i.split for i in items} == {None, "test"}
    img, props = VinDrCXR().decode(root, items[0])
    assert img.dtype == np.uint8 and img.ndim == 2 and props["meta"]["modality"] in {"DX", "CR"}


def test_cbis_layout_and_headers(cbis):
    root, _ = cbis
    rows = {name: _rows(root / name) for name, _ in DESCRIPTION_CSVS}
    for name, table in rows.items():
        header = next(csv.reader((root / name).open()))
        assert header == list(MASS_COLUMNS if name.startswith("mass") else CALC_COLUMNS)
        assert table, name
        kind = "Mass" if name.startswith("mass") else "Calc"
        split = "Training" if "_train_" in name else "Test"
        for r in table:
            assert re.fullmatch(
                rf"{kind}-{split}_P_\d{{5}}_(LEFT|RIGHT)_(CC|MLO)", r["image file path"].split("/")[0]
            )
            assert r["image file path"].endswith("/000000.dcm") and r["pathology"] in {
                "MALIGNANT",
                "BENIGN",
                "BENIGN_WITHOUT_CALLBACK",
            }
            assert r["abnormality type"] == ("mass" if kind == "Mass" else "calcification")
    meta = _rows(root / "metadata.csv")
    assert all((root / m["File Location"].removeprefix("./") / "1-1.dcm").is_file() for m in meta)
    assert all(
        re.fullmatch(r"\d\d-\d\d-\d{4}-DDSM-\d{5}", Path(m["File Location"]).parent.name) for m in meta
    )
    train_patients = {r["patient_id"] for n, t in rows.items() if "_train_" in n for r in t}
    test_patients = {r["patient_id"] for n, t in rows.items() if "_test_" in n for r in t}
    assert train_patients and test_patients and not train_patients & test_patients
    datasets = _headers(root / "CBIS-DDSM", "1-1.dcm")
    _assert_phi_and_encodings(datasets)
    assert {ds.Modality for ds in datasets} == {"MG"} and {ds.ViewPosition for ds in datasets} == {
        "CC",
        "MLO",
    }


def test_cbis_catalog_reads_the_copy(cbis):
    root, _ = cbis
    items = list(CBISDDSM().index(root))
    assert all(isinstance(i, RawRecord) for i in items) and len(items) == N
    assert {i.split for i in items} == {None, "test"}
    classes = Counter(int(np.argmax(i.target)) for i in items)
    assert len(classes) >= 4  # BI-RADS spread over the classes
    img, props = CBISDDSM().decode(root, items[0])
    assert img.dtype == np.uint8 and img.shape[0] > img.shape[1] and props["meta"]["modality"] == "MG"


def test_shuffled_copies_keep_images_and_permute_labels(vindr, cbis):
    for (true, shuffled), suffix in ((vindr, ".dicom"), (cbis, ".dcm")):
        assert _hashes(true, suffix) == _hashes(shuffled, suffix)
    t = _rows(vindr[0] / "annotations/image_labels_test.csv")
    s = _rows(vindr[1] / "annotations/image_labels_test.csv")
    assert [r["image_id"] for r in t] == [r["image_id"] for r in s] and t != s

    def labels(root: Path) -> list[tuple[str, str]]:
        return [(r["assessment"], r["pathology"]) for n, _ in DESCRIPTION_CSVS for r in _rows(root / n)]

    assert sorted(labels(cbis[0])) == sorted(labels(cbis[1])) and labels(cbis[0]) != labels(cbis[1])


# ---------------------------------------------------------------------------------------- class structure
def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    ranks = rankdata(scores)
    pos = labels == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _heart_width(img: np.ndarray) -> float:
    """Width of the bright band through the image centre at the heart's level (lungs are dark)."""
    h, w = img.shape
    smooth = ndimage.uniform_filter(img.astype(np.float32), 5)
    core = smooth[int(0.15 * h) : int(0.75 * h), int(0.15 * w) : int(0.85 * w)]
    dark = smooth < np.percentile(core, 45)
    widths = []
    for y in range(int(0.55 * h), int(0.68 * h)):
        bright = ~dark[y]
        if not bright[w // 2]:
            continue
        lab, _ = ndimage.label(bright)
        widths.append((lab == lab[w // 2]).sum() / w)
    return float(np.median(widths)) if widths else 0.0


def test_vindr_cardiomegaly_widens_the_heart(vindr):
    aucs = []
    for root in vindr:
        spec = VinDrCXR()
        records = [r for r in spec.index(root) if isinstance(r, RawRecord)]  # shuffled: readers may disagree
        widths = np.array([_heart_width(spec.decode(root, r)[0]) for r in records])
        labels = np.array([r.target[LABELS.index("Cardiomegaly")] for r in records])
        aucs.append(_auc(labels, widths))
    assert aucs[0] > 0.8, aucs
    assert abs(aucs[1] - 0.5) < 0.25, aucs


def _blob_area(img: np.ndarray) -> float:
    """Area of the brightest blob that a 31 px opening removes (a mass; film label rows excluded)."""
    img = img[: int(0.9 * img.shape[0])].astype(np.float32)
    tophat = img - ndimage.grey_opening(ndimage.gaussian_filter(img, 1), size=(31, 31))
    lab, _ = ndimage.label(tophat > 0.5 * tophat.max())
    return float((lab == lab.flat[np.argmax(tophat)]).sum() / img.size)


def _speck_area(img: np.ndarray) -> float:
    """Pixels of small bright specks (calcifications) that a 9 px opening removes."""
    img = img.astype(np.float32)
    return float(((img - ndimage.grey_opening(img, size=(9, 9))) > 40).sum())


def test_cbis_lesions_follow_birads(cbis):
    rhos = []
    for root in cbis:
        spec = CBISDDSM()
        rows = []
        for rec in spec.index(root):
            assert isinstance(rec, RawRecord)
            img = spec.decode(root, rec)[0]
            rows.append((int(np.argmax(rec.target)) + 1, rec.meta["abnormality_types"], img))
        masses = [(b, _blob_area(img)) for b, kinds, img in rows if kinds == ["mass"]]
        calcs = [(b, _speck_area(img)) for b, kinds, img in rows if kinds == ["calcification"]]
        rhos.append([spearmanr(*zip(*group, strict=True))[0] for group in (masses, calcs)])
    (mass, calc), (mass_shuffled, calc_shuffled) = rhos
    # larger, spiculated masses and more numerous calcifications at higher BI-RADS
    assert mass > 0.45 and calc > 0.45, rhos
    assert abs(mass_shuffled) < 0.3 and abs(calc_shuffled) < 0.3, rhos
