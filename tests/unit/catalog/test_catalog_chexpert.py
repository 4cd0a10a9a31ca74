"""CheXpert catalog entry: real csv layout, CLIMB uncertain/blank policy, official split, named rejections."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.chexpert import LABELS, META_COLUMNS, CheXpert, CheXpertOptions

DATA = "CheXpert-v1.0-small"
HEADER = [*META_COLUMNS, *LABELS]


def _labels(**values: str) -> list[str]:
    """14 label cells, blank unless given (keys use the label name with spaces as underscores)."""
    given = {k.replace("_", " "): v for k, v in values.items()}
    return [given.get(name, "") for name in LABELS]


TRAIN_ROWS = [
    # Path, Sex, Age, Frontal/Lateral, AP/PA, labels
    (
        f"{DATA}/train/patient00001/study1/view1_frontal.jpg",
        "Female",
        "68",
        "Frontal",
        "AP",
        _labels(Cardiomegaly="1.0", Edema="-1.0", Pleural_Effusion="0.0"),
    ),
    (
        f"{DATA}/train/patient00001/study1/view2_lateral.jpg",
        "Female",
        "68",
        "Lateral",
        "",
        _labels(Cardiomegaly="1.0", Edema="-1.0", Pleural_Effusion="0.0"),
    ),
    (
        f"{DATA}/train/patient00002/study2/view1_frontal.jpg",
        "Male",
        "41",
        "Frontal",
        "PA",
        _labels(No_Finding="1.0"),
    ),
]
VALID_ROWS = [
    (
        f"{DATA}/valid/patient64541/study1/view1_frontal.jpg",
        "Male",
        "73",
        "Frontal",
        "AP",
        ["0.0"] * 3 + ["1.0"] + ["0.0"] * 10,
    ),
]


def _write_csv(path: Path, rows: list[tuple], header: list[str] = HEADER) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([*row[:5], *row[5]])


def _jpg(path: Path, h: int = 40, w: int = 48, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = (np.add.outer(np.arange(h), np.arange(w)) * 2 + value).astype(np.uint8)
    Image.fromarray(arr).save(path, format="JPEG", quality=90)


def make_copy(root: Path, train_rows: list[tuple] = TRAIN_ROWS, valid_rows: list[tuple] = VALID_ROWS) -> Path:
    """A tiny CheXpert copy in the real layout under ``root`` (the folder containing CheXpert-v1.0-small)."""
    (root / DATA).mkdir(parents=True, exist_ok=True)
    _write_csv(root / DATA / "train.csv", train_rows)
    _write_csv(root / DATA / "valid.csv", valid_rows)
    for row in [*train_rows, *valid_rows]:
        _jpg(root / row[0])
    return root


def _index(root: Path, **options) -> tuple[list[RawRecord], list[Rejected]]:
    items = list(CheXpert(CheXpertOptions(**options)).index(root))
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, Rejected)]


def test_registered_with_class_attributes():
    spec = catalog.get("chexpert")
    assert spec is CheXpert
    assert (spec.name, spec.modality, spec.task, spec.official_split) == (
        "chexpert",
        "image2d",
        "multilabel",
        True,
    )
    assert spec.classes == LABELS and len(LABELS) == 14 and spec.Options is CheXpertOptions
    assert spec.classes[0] == "No Finding" and spec.classes[-1] == "Support Devices"


def test_options_forbid_unknown_keys_and_values():
    with pytest.raises(ValidationError):
        CheXpertOptions(uncertain="maybe")
    with pytest.raises(ValidationError):
        CheXpertOptions(frontal=True)


def test_index_records_meta_and_official_split(tmp_path):
    records, rejected = _index(make_copy(tmp_path))
    assert rejected == []
    by_id = {r.record_id: r for r in records}
    assert sorted(by_id) == [
        "train/patient00001/study1/view1_frontal",
        "train/patient00001/study1/view2_lateral",
        "train/patient00002/study2/view1_frontal",
        "valid/patient64541/study1/view1_frontal",
    ]
    first = by_id["train/patient00001/study1/view1_frontal"]
    assert first.patient_id == "patient00001"
    assert first.files == (f"{DATA}/train/patient00001/study1/view1_frontal.jpg",)
    assert first.meta == {"age": 68, "sex": "F", "view": "Frontal", "ap_pa": "AP"}
    assert by_id["train/patient00001/study1/view2_lateral"].meta["ap_pa"] is None
    assert '"Cardiomegaly": "1.0"' in first.source_labels and '"Edema": "-1.0"' in first.source_labels
    # valid.csv is CLIMB's evaluation set -> test; train.csv is hash-split later -> None
    assert by_id["valid/patient64541/study1/view1_frontal"].split == "test"
    assert {r.split for r in records if r.record_id.startswith("train/")} == {None}
    assert by_id["valid/patient64541/study1/view1_frontal"].target == tuple([0.0] * 3 + [1.0] + [0.0] * 10)


@pytest.mark.parametrize("policy, expected", [("zeros", 0.0), ("ones", 1.0), ("ignore", math.nan)])
def test_uncertain_policy_and_blank_is_zero(tmp_path, policy, expected):
    records, _ = _index(make_copy(tmp_path), uncertain=policy)
    target = dict(
        zip(
            LABELS,
            next(r for r in records if r.record_id.endswith("01/study1/view1_frontal")).target,
            strict=True,
        )
    )
    assert target["Cardiomegaly"] == 1.0
    assert target["Pleural Effusion"] == 0.0  # explicit 0.0
    assert target["Pneumonia"] == 0.0  # blank -> 0, as CLIMB
    if math.isnan(expected):
        assert math.isnan(target["Edema"])
    else:
        assert target["Edema"] == expected


def test_frontal_only_drops_laterals(tmp_path):
    records, _ = _index(make_copy(tmp_path), frontal_only=True)
    assert len(records) == 3 and all(r.meta["view"] == "Frontal" for r in records)


def test_root_may_be_the_data_folder_itself(tmp_path):
    make_copy(tmp_path)
    spec = CheXpert()
    assert spec.detect(tmp_path) and spec.detect(tmp_path / DATA)
    records = [r for r in spec.index(tmp_path / DATA) if isinstance(r, RawRecord)]
    assert len(records) == 4
    assert records[0].files == ("train/patient00001/study1/view1_frontal.jpg",)
    img, props = spec.decode(tmp_path / DATA, records[0])
    assert img.shape == (40, 48) and props["orig_size"] == (40, 48)


def test_detect_false_elsewhere(tmp_path):
    assert not CheXpert().detect(tmp_path)
    (tmp_path / "train.csv").write_text("ecg_id,patient_id\n1,2\n")
    assert not CheXpert().detect(tmp_path)


def test_missing_csv_names_the_file(tmp_path):
    make_copy(tmp_path)
    (tmp_path / DATA / "valid.csv").unlink()
    with pytest.raises(CatalogError, match="valid.csv"):
        list(CheXpert().index(tmp_path))
    with pytest.raises(CatalogError, match="CheXpert-v1.0-small"):
        list(CheXpert().index(tmp_path / "nowhere"))


@pytest.mark.parametrize("column", ["Path", "Frontal/Lateral", "Pleural Effusion"])
def test_missing_column_names_file_and_column(tmp_path, column):
    make_copy(tmp_path)
    header = [c for c in HEADER if c != column]
    keep = [i for i, c in enumerate(HEADER) if c != column]
    with (tmp_path / DATA / "train.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in TRAIN_ROWS:
            cells = [*row[:5], *row[5]]
            writer.writerow([cells[i] for i in keep])
    with pytest.raises(CatalogError) as err:
        list(CheXpert().index(tmp_path))
    assert "train.csv" in str(err.value) and repr(column) in str(err.value)


def test_bad_label_value_is_rejected_with_column_value_and_line(tmp_path):
    rows = [*TRAIN_ROWS]
    rows[2] = (*rows[2][:5], _labels(No_Finding="1.0", Fracture="2.0"))
    make_copy(tmp_path, train_rows=rows)
    records, rejected = _index(tmp_path)
    assert len(records) == 3
    (rej,) = rejected
    assert rej.rule == "bad_label_value" and rej.record_id == "train/patient00002/study2/view1_frontal"
    assert rej.source == f"{DATA}/train.csv"
    assert "'Fracture'" in rej.message and "'2.0'" in rej.message and "line 4" in rej.message


def test_missing_jpg_is_rejected(tmp_path):
    make_copy(tmp_path)
    (tmp_path / TRAIN_ROWS[2][0]).unlink()
    records, rejected = _index(tmp_path)
    assert len(records) == 3
    assert [(r.rule, r.record_id) for r in rejected] == [
        ("missing_file", "train/patient00002/study2/view1_frontal")
    ]
    assert "view1_frontal.jpg" in rejected[0].message


def test_path_without_patient_and_duplicates_are_rejected(tmp_path):
    rows = [
        *TRAIN_ROWS,
        TRAIN_ROWS[0],
        (f"{DATA}/train/p1/study1/view1_frontal.jpg", "Male", "50", "Frontal", "AP", _labels()),
    ]
    make_copy(tmp_path, train_rows=rows)
    _, rejected = _index(tmp_path)
    assert sorted(r.rule for r in rejected) == ["bad_path", "duplicate_record"]


def test_decode_grayscale_uint8(tmp_path):
    make_copy(tmp_path)
    records, _ = _index(tmp_path)
    img, props = CheXpert().decode(tmp_path, records[0])
    assert img.dtype == np.uint8 and img.shape == (40, 48)
    assert props == {"sampling_rate": None, "orig_size": (40, 48), "meta": {"orig_size": [40, 48]}}
    # an RGB JPG (some copies are re-encoded in colour) decodes to one channel
    Image.fromarray(np.full((30, 20, 3), (200, 100, 50), np.uint8)).save(
        tmp_path / records[0].files[0], "JPEG"
    )
    img, props = CheXpert().decode(tmp_path, records[0])
    assert img.shape == (30, 20) and props["orig_size"] == (30, 20)
    assert abs(int(img.mean()) - round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)) <= 2


def test_decode_zero_byte_truncated_and_non_image(tmp_path):
    make_copy(tmp_path)
    records, _ = _index(tmp_path)
    spec = CheXpert()
    path = tmp_path / records[0].files[0]
    _jpg(path, 200, 200)
    full = path.read_bytes()

    path.write_bytes(b"")
    with pytest.raises(RecordError) as err:
        spec.decode(tmp_path, records[0])
    assert err.value.rule == "empty_file" and "view1_frontal.jpg" in err.value.message

    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(RecordError) as err:
        spec.decode(tmp_path, records[0])
    assert err.value.rule == "corrupt_image" and str(path) in err.value.message

    path.write_text("Path,Sex\nnot an image\n")
    with pytest.raises(RecordError) as err:
        spec.decode(tmp_path, records[0])
    assert err.value.rule == "corrupt_image" and str(path) in err.value.message

    path.unlink()
    with pytest.raises(RecordError) as err:
        spec.decode(tmp_path, records[0])
    assert err.value.rule == "missing_file"


def test_decode_guards_decompression_bombs(tmp_path):
    make_copy(tmp_path)
    records, _ = _index(tmp_path)

    class Tiny(CheXpert):
        max_pixels = 100

    with pytest.raises(RecordError) as err:
        Tiny().decode(tmp_path, records[0])
    assert err.value.rule == "image_too_large" and "48x40" in err.value.message
