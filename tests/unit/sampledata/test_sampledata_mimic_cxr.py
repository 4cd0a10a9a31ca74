"""MIMIC-CXR sample copy: real layout (csv.gz tables, files/pXX tree), determinism, images drawn from the study's
labels (the CheXpert painters), the linked-writer entry point, and shuffle_labels."""

from __future__ import annotations

import csv
import gzip
import hashlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from climbflow.catalog.base import RawRecord
from climbflow.catalog.chexpert import LABELS
from climbflow.catalog.mimic_cxr import CHEXPERT, METADATA, MIMICCXR, SPLIT
from climbflow.sampledata.chexpert import render_frontal
from climbflow.sampledata.mimic_cxr import CxrStudy, write_cxr_studies, write_mimic_cxr


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _table(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def test_deterministic_and_seed_dependent(tmp_path):
    a = _hashes(write_mimic_cxr(tmp_path / "a", 10, seed=3))
    assert a == _hashes(write_mimic_cxr(tmp_path / "b", 10, seed=3))
    assert len([k for k in a if k.endswith(".jpg")]) == 10 and len(a) == 13
    assert a != _hashes(write_mimic_cxr(tmp_path / "c", 10, seed=4))


def test_real_layout_read_by_the_catalog(tmp_path):
    root = write_mimic_cxr(tmp_path, 30, seed=0)
    meta = _table(root / METADATA)
    assert list(meta[0])[:9] == ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription",
                                 "ViewPosition", "Rows", "Columns", "StudyDate", "StudyTime"]  # fmt: skip
    assert list(_table(root / CHEXPERT)[0]) == ["subject_id", "study_id", *sorted(LABELS)]
    assert {r["split"] for r in _table(root / SPLIT)} == {"train", "validate", "test"}
    assert {r["ViewPosition"] for r in meta} == {"PA", "AP", "LATERAL"}
    assert all(10_000_000 <= int(r["subject_id"]) < 20_000_000 and len(r["StudyDate"]) == 8 for r in meta)
    items = list(MIMICCXR().index(root))
    assert len(items) == 30 and all(isinstance(i, RawRecord) for i in items)
    assert {i.split for i in items} == {"train", "val", "test"}
    splits_by_patient = {}
    for rec in items:
        splits_by_patient.setdefault(rec.patient_id, set()).add(rec.split)
        assert (
            rec.files[0]
            == f"files/p{rec.patient_id[:2]}/p{rec.patient_id}/s{rec.meta['study_id']}/{rec.record_id}.jpg"
        )
    assert max(len(s) for s in splits_by_patient.values()) == 1  # the official split is by subject
    cells = {r[c] for r in _table(root / CHEXPERT) for c in LABELS}
    assert {"1.0", ""} <= cells and cells <= {"1.0", "0.0", "-1.0", ""}
    img, props = MIMICCXR().decode(root, items[0])
    row = next(r for r in meta if r["dicom_id"] == items[0].record_id)
    assert img.shape == (int(row["Rows"]), int(row["Columns"])) and props["meta"]["orig_size"] == list(
        img.shape
    )


def test_linked_studies_keep_given_ids_dates_and_findings(tmp_path):
    studies = [
        CxrStudy(
            12345678,
            51111111,
            datetime(2150, 3, 4, 5, 6, 7, 891000),
            "train",
            frozenset({"Cardiomegaly"}),
            False,
        ),
        CxrStudy(12345678, 52222222, datetime(2150, 3, 9, 23, 0, 0), "train", frozenset(), True),
        CxrStudy(17654321, 53333333, datetime(2160, 1, 1), "test", frozenset({"Pleural Effusion", "Edema"})),
    ]
    images = write_cxr_studies(tmp_path, studies, seed=1)
    assert [(i.subject_id, i.study_id) for i in images][:3] == [
        (12345678, 51111111),
        (12345678, 52222222),
        (12345678, 52222222),
    ]
    assert images[2].view == "LATERAL" and images[0].findings == frozenset({"Cardiomegaly"})
    meta = {r["dicom_id"]: r for r in _table(tmp_path / METADATA)}
    first = meta[images[0].dicom_id]
    assert (first["StudyDate"], first["StudyTime"]) == ("21500304", "050607.891")
    records = {r.record_id: r for r in MIMICCXR().index(tmp_path)}
    for image in images:
        rec = records[image.dicom_id]
        assert rec.files == (image.path,) and rec.patient_id == str(image.subject_id)
        positives = {c for c, v in zip(LABELS, rec.target, strict=True) if v == 1.0}
        assert positives - {"No Finding"} <= image.findings  # uncertain labels read as 0 by default
    assert records[images[-1].dicom_id].split == "test"
    with pytest.raises(ValueError, match="unknown split"):
        write_cxr_studies(tmp_path / "x", [CxrStudy(1, 2, datetime(2150, 1, 1), "valid")])
    with pytest.raises(ValueError, match="unique"):
        write_cxr_studies(tmp_path / "y", [studies[0], studies[0]])


def test_images_are_drawn_from_the_findings(tmp_path):
    """A frontal JPG is the CheXpert painter's image of the study's findings, and only those findings."""

    def write(root: Path, found: frozenset[str]) -> tuple[np.ndarray, str]:
        study = CxrStudy(10000032, 50414267, datetime(2180, 5, 6), "train", found, lateral=False)
        (image,) = write_cxr_studies(root, [study], seed=2)
        rec = next(iter(MIMICCXR().index(root)))
        return MIMICCXR().decode(root, rec)[0].astype(int), image.view

    plain, view = write(tmp_path / "a", frozenset())
    cardio, _ = write(tmp_path / "b", frozenset({"Cardiomegaly", "Pleural Effusion"}))
    rng = np.random.default_rng([2, 51, 0, 0])  # the image stream of study 0, view 0
    h, w = int(rng.integers(320, 353)), int(rng.integers(288, 321))
    painted = render_frontal(rng, frozenset({"Cardiomegaly", "Pleural Effusion"}), h, w, ap=view == "AP")
    assert cardio.shape == painted.shape == plain.shape
    assert np.abs(cardio - painted).mean() < 3  # JPEG round trip only
    assert (np.abs(cardio - painted) > 25).mean() < 0.002
    assert (np.abs(cardio - plain) > 25).mean() > 0.02  # the findings change the image
    lower = slice(int(0.55 * h), h)
    assert cardio[lower].mean() > plain[lower].mean()  # a wider heart and fluid brighten the lower zones


def test_shuffle_labels_permutes_study_rows_only(tmp_path):
    true = write_mimic_cxr(tmp_path / "t", 16, seed=0)
    shuffled = write_mimic_cxr(tmp_path / "s", 16, seed=0, shuffle_labels=True)
    ht, hs = _hashes(true), _hashes(shuffled)
    assert {k: v for k, v in ht.items() if k.endswith(".jpg")} == {
        k: v for k, v in hs.items() if k.endswith(".jpg")
    }
    rows_t, rows_s = _table(true / CHEXPERT), _table(shuffled / CHEXPERT)
    assert [(r["subject_id"], r["study_id"]) for r in rows_t] == [
        (r["subject_id"], r["study_id"]) for r in rows_s
    ]
    labels = [tuple(r[c] for c in LABELS) for r in rows_t]
    assert sorted(labels) == sorted(tuple(r[c] for c in LABELS) for r in rows_s)
    assert labels != [tuple(r[c] for c in LABELS) for r in rows_s]
