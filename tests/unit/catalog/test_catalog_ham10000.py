"""HAM10000 catalog entry: metadata csv + two image folders, CLIMB's 5-class mapping, lesion = patient."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.ham10000 import CLASSES, COLUMNS, HAM10000
from climbflow.catalog.images import read_image

ROWS = [
    # lesion_id, image_id, dx, dx_type, age, sex, localization, folder
    ("HAM_0000118", "ISIC_0027419", "bkl", "histo", "80.0", "male", "scalp", 1),
    ("HAM_0000118", "ISIC_0025030", "bkl", "histo", "80.0", "male", "scalp", 1),
    ("HAM_0002730", "ISIC_0026769", "mel", "histo", "", "female", "back", 1),
    ("HAM_0001466", "ISIC_0031633", "nv", "follow_up", "75.0", "unknown", "ear", 2),
    ("HAM_0002761", "ISIC_0029176", "akiec", "histo", "60.0", "female", "face", 1),
    ("HAM_0005132", "ISIC_0025837", "vasc", "consensus", "55.0", "male", "trunk", 2),
]


def _jpg(path: Path, h: int = 45, w: int = 60, color=(180, 120, 90)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), color, np.uint8)).save(path, "JPEG", quality=95)


def make_copy(root: Path, rows=ROWS, header=COLUMNS) -> Path:
    with (root / "HAM10000_metadata.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([row[COLUMNS.index(c)] if c in COLUMNS else "" for c in header])
    for row in rows:
        _jpg(root / f"HAM10000_images_part_{row[-1]}" / f"{row[1]}.jpg")
    return root


def _index(root: Path) -> tuple[list[RawRecord], list[Rejected]]:
    items = list(HAM10000().index(root))
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, Rejected)]


def test_registered_as_climb_five_classes():
    spec = catalog.get("ham10000")
    assert spec is HAM10000 and spec.modality == "image2d" and spec.task == "multiclass"
    assert spec.classes == ("Melanoma", "Nevus", "Basal Cell Carcinoma", "AKIEC", "Other")
    assert not spec.official_split


def test_index_maps_dx_and_keeps_lesions_together(tmp_path):
    records, rejected = _index(make_copy(tmp_path))
    assert rejected == []
    by_id = {r.record_id: r for r in records}
    assert len(by_id) == 6
    label = {rid: CLASSES[int(np.argmax(r.target))] for rid, r in by_id.items()}
    assert label["ISIC_0027419"] == "Other" and label["ISIC_0025837"] == "Other"  # bkl, vasc -> Other
    assert label["ISIC_0026769"] == "Melanoma" and label["ISIC_0031633"] == "Nevus"
    assert label["ISIC_0029176"] == "AKIEC"
    assert all(sum(r.target) == 1.0 for r in records)
    assert by_id["ISIC_0027419"].patient_id == by_id["ISIC_0025030"].patient_id == "HAM_0000118"
    assert by_id["ISIC_0031633"].files == ("HAM10000_images_part_2/ISIC_0031633.jpg",)
    assert by_id["ISIC_0027419"].files == ("HAM10000_images_part_1/ISIC_0027419.jpg",)
    assert {r.split for r in records} == {None}
    assert by_id["ISIC_0027419"].meta == {"age": 80, "sex": "M", "localization": "scalp"}
    assert by_id["ISIC_0026769"].meta["age"] is None and by_id["ISIC_0031633"].meta["sex"] is None
    assert '"dx": "bkl"' in by_id["ISIC_0027419"].source_labels


def test_rejections_are_named(tmp_path):
    rows = [
        *ROWS,
        ("HAM_0009999", "ISIC_0030000", "scc", "histo", "50.0", "male", "back", 1),  # not a HAM dx
        ROWS[0],  # repeated image_id
        ("", "ISIC_0030001", "nv", "histo", "50.0", "male", "back", 1),
    ]
    make_copy(tmp_path, rows)
    (tmp_path / "HAM10000_images_part_2" / "ISIC_0025837.jpg").unlink()
    records, rejected = _index(tmp_path)
    assert len(records) == 5
    got = {(r.rule, r.record_id) for r in rejected}
    assert got == {
        ("unknown_label", "ISIC_0030000"),
        ("duplicate_record", "ISIC_0027419"),
        ("missing_patient_id", "ISIC_0030001"),
        ("missing_file", "ISIC_0025837"),
    }
    unknown = next(r for r in rejected if r.rule == "unknown_label")
    assert (
        "'scc'" in unknown.message
        and "line 8" in unknown.message
        and unknown.source == "HAM10000_metadata.csv"
    )


def test_layout_errors(tmp_path):
    assert not HAM10000().detect(tmp_path)
    with pytest.raises(CatalogError, match="HAM10000_metadata.csv"):
        list(HAM10000().index(tmp_path))
    make_copy(tmp_path, header=tuple(c for c in COLUMNS if c != "dx"))
    assert not HAM10000().detect(tmp_path)
    with pytest.raises(CatalogError, match="'dx'"):
        list(HAM10000().index(tmp_path))


def test_decode_rgb_and_bad_files(tmp_path):
    make_copy(tmp_path)
    records, _ = _index(tmp_path)
    rec = records[0]
    img, props = HAM10000().decode(tmp_path, rec)
    assert img.shape == (45, 60, 3) and img.dtype == np.uint8
    assert abs(int(img[..., 0].mean()) - 180) <= 3 and abs(int(img[..., 2].mean()) - 90) <= 3
    assert props == {"sampling_rate": None, "meta": {"orig_size": [45, 60]}}
    path = tmp_path / rec.files[0]
    Image.fromarray(np.full((30, 40), 77, np.uint8)).save(path, "JPEG")  # a grayscale JPG becomes RGB
    assert HAM10000().decode(tmp_path, rec)[0].shape == (30, 40, 3)
    _jpg(path, 200, 200)
    full = path.read_bytes()
    for content, rule in (
        (b"", "empty_file"),
        (full[: len(full) // 3], "corrupt_image"),
        (b"lesion_id,", "corrupt_image"),
    ):
        path.write_bytes(content)
        with pytest.raises(RecordError) as err:
            HAM10000().decode(tmp_path, rec)
        assert err.value.rule == rule and str(path) in err.value.message
    path.unlink()
    with pytest.raises(RecordError) as err:
        HAM10000().decode(tmp_path, rec)
    assert err.value.rule == "missing_file"


def test_read_image_modes_and_size_guard(tmp_path):
    gray, rgb, wide = tmp_path / "g.png", tmp_path / "c.png", tmp_path / "w.png"
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8)).save(gray)
    Image.fromarray(np.full((6, 8, 3), (10, 200, 30), np.uint8)).save(rgb)
    Image.fromarray(np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000).save(wide)
    assert read_image(gray, "keep").shape == (6, 8) and read_image(gray, "rgb").shape == (6, 8, 3)
    assert read_image(rgb, "keep").shape == (6, 8, 3) and read_image(rgb, "gray").shape == (6, 8)
    sixteen = read_image(wide, "gray")
    assert sixteen.dtype == np.uint8 and sixteen.min() == 0 and sixteen.max() == 255
    with pytest.raises(RecordError) as err:
        read_image(rgb, "rgb", max_pixels=10)
    assert err.value.rule == "image_too_large" and "8x6" in err.value.message
