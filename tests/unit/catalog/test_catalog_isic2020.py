"""ISIC 2020 catalog entry: ground-truth csv + train/ JPGs, binary malignant, patient ids kept."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.isic2020 import COLUMNS, ISIC2020

CSV = "ISIC_2020_Training_GroundTruth.csv"
ROWS = [
    ("ISIC_2637011", "IP_7279968", "male", "45.0", "head/neck", "unknown", "benign", "0"),
    ("ISIC_0015719", "IP_3075186", "female", "45.0", "upper extremity", "unknown", "benign", "0"),
    ("ISIC_0149568", "IP_0962375", "female", "55.0", "upper extremity", "melanoma", "malignant", "1"),
    ("ISIC_0188432", "IP_0962375", "female", "", "", "nevus", "benign", "0"),
]


def make_copy(root: Path, rows=ROWS, header=COLUMNS, folder: str = "train") -> Path:
    with (root / CSV).open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([row[COLUMNS.index(c)] for c in header])
    (root / folder).mkdir(exist_ok=True)
    for row in rows:
        Image.fromarray(np.full((40, 30, 3), (200, 150, 120), np.uint8)).save(root / folder / f"{row[0]}.jpg")
    return root


def _index(root: Path) -> tuple[list[RawRecord], list[Rejected]]:
    items = list(ISIC2020().index(root))
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, Rejected)]


def test_registered_binary():
    spec = catalog.get("isic2020")
    assert spec is ISIC2020 and spec.task == "binary" and spec.classes == ("Malignant",)
    assert spec.modality == "image2d" and not spec.official_split


def test_index_labels_patients_meta(tmp_path):
    records, rejected = _index(make_copy(tmp_path))
    assert rejected == []
    by_id = {r.record_id: r for r in records}
    assert [by_id[r[0]].target for r in ROWS] == [(0.0,), (0.0,), (1.0,), (0.0,)]
    assert by_id["ISIC_0149568"].patient_id == by_id["ISIC_0188432"].patient_id == "IP_0962375"
    assert by_id["ISIC_0149568"].files == ("train/ISIC_0149568.jpg",)
    assert by_id["ISIC_0149568"].meta == {"age": 55, "sex": "F", "site": "upper extremity"}
    assert by_id["ISIC_0188432"].meta == {"age": None, "sex": "F", "site": None}
    assert '"diagnosis": "melanoma"' in by_id["ISIC_0149568"].source_labels
    assert {r.split for r in records} == {None}


def test_challenge_jpeg_folder_name_is_accepted(tmp_path):
    records, _ = _index(make_copy(tmp_path, folder="ISIC_2020_Training_JPEG"))
    assert records[0].files[0].startswith("ISIC_2020_Training_JPEG/")


def test_rejections_are_named(tmp_path):
    rows = [
        *ROWS,
        ("ISIC_0000001", "IP_1", "male", "30.0", "torso", "unknown", "indeterminate", "0"),
        ("ISIC_0000002", "IP_1", "male", "30.0", "torso", "melanoma", "malignant", "0"),
        ("ISIC_0000003", "", "male", "30.0", "torso", "unknown", "benign", "0"),
        ROWS[1],
    ]
    make_copy(tmp_path, rows)
    (tmp_path / "train" / "ISIC_2637011.jpg").unlink()
    records, rejected = _index(tmp_path)
    assert len(records) == 3
    assert {(r.rule, r.record_id) for r in rejected} == {
        ("unknown_label", "ISIC_0000001"),
        ("label_conflict", "ISIC_0000002"),
        ("missing_patient_id", "ISIC_0000003"),
        ("duplicate_record", "ISIC_0015719"),
        ("missing_file", "ISIC_2637011"),
    }
    conflict = next(r for r in rejected if r.rule == "label_conflict")
    assert "line 7" in conflict.message and conflict.source == CSV


def test_layout_errors(tmp_path):
    assert not ISIC2020().detect(tmp_path)
    with pytest.raises(CatalogError, match=CSV):
        list(ISIC2020().index(tmp_path))
    make_copy(tmp_path, header=tuple(c for c in COLUMNS if c != "benign_malignant"))
    with pytest.raises(CatalogError, match="'benign_malignant'"):
        list(ISIC2020().index(tmp_path))
    make_copy(tmp_path)
    (tmp_path / "train" / "ISIC_2637011.jpg").unlink()
    for p in (tmp_path / "train").iterdir():
        p.unlink()
    (tmp_path / "train").rmdir()
    with pytest.raises(CatalogError, match="image folder"):
        list(ISIC2020().index(tmp_path))


def test_decode(tmp_path):
    make_copy(tmp_path)
    records, _ = _index(tmp_path)
    img, props = ISIC2020().decode(tmp_path, records[0])
    assert img.shape == (40, 30, 3) and img.dtype == np.uint8 and props["meta"]["orig_size"] == [40, 30]
    (tmp_path / records[0].files[0]).write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(RecordError) as err:
        ISIC2020().decode(tmp_path, records[0])
    assert err.value.rule == "corrupt_image" and records[0].files[0] in err.value.message
