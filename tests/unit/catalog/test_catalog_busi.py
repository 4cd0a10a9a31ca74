"""BUSI catalog entry: class folders with images and their masks; masks are never samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.busi import BUSI

DATA = "Dataset_BUSI_with_GT"


def _png(path: Path, mode: str = "RGB", value: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((40, 56), value, np.uint8)
    Image.fromarray(arr).convert(mode).save(path)


def make_copy(root: Path) -> Path:
    for cls, n in (("benign", 3), ("malignant", 2), ("normal", 1)):
        for i in range(1, n + 1):
            _png(root / DATA / cls / f"{cls} ({i}).png", "RGB" if i != 2 else "L")
            _png(root / DATA / cls / f"{cls} ({i})_mask.png", "L", 0)
    _png(root / DATA / "benign" / "benign (1)_mask_1.png", "L", 0)  # a second lesion's mask
    _png(root / DATA / "malignant" / "malignant (9)_mask.png", "L", 0)  # a mask whose image is missing
    (root / DATA / "normal" / "Thumbs.db").write_bytes(b"x")
    return root


def _index(root: Path) -> tuple[list[RawRecord], list[Rejected]]:
    items = list(BUSI().index(root))
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, Rejected)]


def test_registered_three_classes():
    spec = catalog.get("busi")
    assert spec is BUSI and spec.task == "multiclass" and spec.classes == ("Normal", "Benign", "Malignant")


def test_index_skips_masks_and_labels_by_folder(tmp_path):
    records, rejected = _index(make_copy(tmp_path))
    assert rejected == []
    assert sorted(r.record_id for r in records) == [
        "benign/benign (1)",
        "benign/benign (2)",
        "benign/benign (3)",
        "malignant/malignant (1)",
        "malignant/malignant (2)",
        "normal/normal (1)",
    ]
    by_id = {r.record_id: r for r in records}
    assert by_id["benign/benign (1)"].target == (0.0, 1.0, 0.0)
    assert by_id["malignant/malignant (2)"].target == (0.0, 0.0, 1.0)
    assert by_id["normal/normal (1)"].target == (1.0, 0.0, 0.0)
    assert by_id["benign/benign (1)"].files == (f"{DATA}/benign/benign (1).png",)
    assert by_id["benign/benign (1)"].meta == {"n_masks": 2} and by_id["benign/benign (2)"].meta == {
        "n_masks": 1
    }
    assert all(r.patient_id == r.record_id and r.split is None for r in records)


def test_root_may_be_the_data_folder(tmp_path):
    make_copy(tmp_path)
    assert BUSI().detect(tmp_path) and BUSI().detect(tmp_path / DATA)
    records, _ = _index(tmp_path / DATA)
    assert {r.files[0].split("/")[0] for r in records} == {"benign", "malignant", "normal"}


def test_image_in_the_wrong_folder_is_rejected(tmp_path):
    make_copy(tmp_path)
    _png(tmp_path / DATA / "normal" / "malignant (7).png")
    records, rejected = _index(tmp_path)
    assert len(records) == 6
    assert [(r.rule, r.record_id) for r in rejected] == [("label_conflict", "normal/malignant (7)")]
    assert "normal" in rejected[0].message and "malignant" in rejected[0].message


def test_layout_errors(tmp_path):
    assert not BUSI().detect(tmp_path)
    make_copy(tmp_path)
    for p in (tmp_path / DATA / "normal").iterdir():
        p.unlink()
    (tmp_path / DATA / "normal").rmdir()
    assert not BUSI().detect(tmp_path)
    with pytest.raises(CatalogError, match=DATA):
        list(BUSI().index(tmp_path))


def test_decode_keeps_gray_or_rgb(tmp_path):
    make_copy(tmp_path)
    by_id = {r.record_id: r for r in _index(tmp_path)[0]}
    rgb, props = BUSI().decode(tmp_path, by_id["benign/benign (1)"])
    gray, _ = BUSI().decode(tmp_path, by_id["benign/benign (2)"])
    assert rgb.shape == (40, 56, 3) and gray.shape == (40, 56) and gray.dtype == np.uint8
    assert props["meta"] == {"orig_size": [40, 56]}
    path = tmp_path / by_id["benign/benign (3)"].files[0]
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(RecordError) as err:
        BUSI().decode(tmp_path, by_id["benign/benign (3)"])
    assert err.value.rule == "corrupt_image" and "benign (3).png" in err.value.message
