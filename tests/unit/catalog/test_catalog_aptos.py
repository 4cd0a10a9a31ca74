"""APTOS 2019 catalog entry: train.csv + train_images PNGs, 5 DR grades, one image = one patient."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climbflow import catalog
from climbflow.catalog.aptos import APTOS, CLASSES
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected

ROWS = [
    ("000c1434d8d7", "2"),
    ("001639a390f0", "4"),
    ("0024cdab0c1e", "1"),
    ("002c21358ce6", "0"),
    ("005b95c28852", "3"),
]


def make_copy(root: Path, rows=ROWS, header: str = "id_code,diagnosis") -> Path:
    (root / "train.csv").write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))
    (root / "train_images").mkdir(exist_ok=True)
    for code, _ in rows:
        Image.fromarray(np.full((48, 64, 3), (120, 60, 20), np.uint8)).save(
            root / "train_images" / f"{code}.png"
        )
    (root / "test.csv").write_text("id_code\n0005cfc8afb6\n")  # unlabelled: never read
    return root


def _index(root: Path) -> tuple[list[RawRecord], list[Rejected]]:
    items = list(APTOS().index(root))
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, Rejected)]


def test_registered_multiclass_grades():
    spec = catalog.get("aptos")
    assert spec is APTOS and spec.task == "multiclass" and spec.modality == "image2d"
    assert spec.classes == ("No DR", "Mild DR", "Moderate DR", "Severe DR", "Proliferative DR")


def test_index_one_hot_grades(tmp_path):
    records, rejected = _index(make_copy(tmp_path))
    assert rejected == [] and [r.record_id for r in records] == [c for c, _ in ROWS]
    for rec, (code, grade) in zip(records, ROWS, strict=True):
        assert rec.target == tuple(1.0 if i == int(grade) else 0.0 for i in range(5))
        assert rec.patient_id == code and rec.files == (f"train_images/{code}.png",) and rec.split is None
    assert CLASSES[int(np.argmax(records[1].target))] == "Proliferative DR"
    assert APTOS().detect(tmp_path)


def test_rejections_are_named(tmp_path):
    make_copy(tmp_path, [*ROWS, ("0083ee8054ee", "5"), ("0097f532ac9f", ""), ROWS[0]])
    (tmp_path / "train_images" / "0097f532ac9f.png").unlink(missing_ok=True)
    (tmp_path / "train_images" / "001639a390f0.png").unlink()
    records, rejected = _index(tmp_path)
    assert len(records) == 4
    assert [(r.rule, r.record_id) for r in rejected] == [
        ("missing_file", "001639a390f0"),
        ("unknown_label", "0083ee8054ee"),
        ("unknown_label", "0097f532ac9f"),
        ("duplicate_record", "000c1434d8d7"),
    ]
    assert "'5'" in rejected[1].message and "line 7" in rejected[1].message


def test_layout_errors(tmp_path):
    assert not APTOS().detect(tmp_path)
    with pytest.raises(CatalogError, match="train.csv"):
        list(APTOS().index(tmp_path))
    make_copy(tmp_path, header="id_code,level")
    assert not APTOS().detect(tmp_path)
    with pytest.raises(CatalogError, match="'diagnosis'"):
        list(APTOS().index(tmp_path))


def test_decode_rgb_and_empty(tmp_path):
    make_copy(tmp_path)
    records, _ = _index(tmp_path)
    img, props = APTOS().decode(tmp_path, records[0])
    assert img.shape == (48, 64, 3) and tuple(img[0, 0]) == (120, 60, 20)
    assert props == {"sampling_rate": None, "meta": {"orig_size": [48, 64]}}
    (tmp_path / records[0].files[0]).write_bytes(b"")
    with pytest.raises(RecordError) as err:
        APTOS().decode(tmp_path, records[0])
    assert err.value.rule == "empty_file"
