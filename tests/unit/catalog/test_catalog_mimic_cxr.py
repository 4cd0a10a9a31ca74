"""MIMIC-CXR-JPG catalog entry: the three csv.gz tables + files/pXX tree, CheXpert labels, official split."""

from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.chexpert import LABELS
from climbflow.catalog.mimic_cxr import MIMICCXR, MIMICCXROptions, image_path

META_HEADER = ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition",
               "Rows", "Columns", "StudyDate", "StudyTime"]  # fmt: skip
LABEL_ORDER = sorted(LABELS)
D1, D2, D3, D4 = (f"{k}aa804e-bde0afdd-112c0b34-7bc16630-4e38401{k}" for k in range(4))
META = [
    [D1, "10000032", "50414267", "CHEST (PA AND LAT)", "PA", "40", "32", "21800506", "213014.531"],
    [D2, "10000032", "50414267", "CHEST (PA AND LAT)", "LATERAL", "40", "32", "21800506", "213014.531"],
    [D3, "10000764", "57375967", "CHEST (PORTABLE AP)", "AP", "40", "32", "21321015", "074501.984"],
    [D4, "10000898", "50771383", "CHEST (PA)", "PA", "40", "32", "21321016", "101541.2"],
]
SPLITS = {D1: "train", D2: "train", D3: "validate", D4: "test"}


def _labels(**given: str) -> list[str]:
    cells = {k.replace("_", " "): v for k, v in given.items()}
    return [cells.get(name, "") for name in LABEL_ORDER]


LABEL_ROWS = [
    ["10000032", "50414267", *_labels(Cardiomegaly="1.0", Edema="-1.0", Pleural_Effusion="0.0")],
    ["10000764", "57375967", *_labels(No_Finding="1.0")],
    ["10000898", "50771383", *_labels(Pneumonia="-1.0", Support_Devices="1.0")],
]


def _gz(path: Path, header: list[str], rows: list[list[str]], compress: bool = True) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if compress:
        path.write_bytes(gzip.compress(text.getvalue().encode()))
    else:
        path.with_suffix("").write_text(text.getvalue())


def make_copy(root: Path, meta=META, labels=LABEL_ROWS, splits=SPLITS, compress: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _gz(root / "mimic-cxr-2.0.0-metadata.csv.gz", META_HEADER, meta, compress)
    _gz(root / "mimic-cxr-2.0.0-chexpert.csv.gz", ["subject_id", "study_id", *LABEL_ORDER], labels, compress)
    split_rows = [[d, s, p, splits[d]] for d, p, s, *_ in meta if d in splits]
    _gz(
        root / "mimic-cxr-2.0.0-split.csv.gz",
        ["dicom_id", "study_id", "subject_id", "split"],
        split_rows,
        compress,
    )
    for d, p, s, *_ in meta:
        path = root / image_path(p, s, d)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.add.outer(np.arange(40), np.arange(32)).astype(np.uint8) * 3).save(path, "JPEG")
    return root


def _index(root: Path, **options) -> tuple[list[RawRecord], list[Rejected]]:
    items = list(MIMICCXR(MIMICCXROptions(**options)).index(root))
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, Rejected)]


def test_registered_with_chexpert_vocabulary():
    spec = catalog.get("mimic_cxr")
    assert spec is MIMICCXR and spec.classes == LABELS  # same names, same order: the vocabularies merge
    assert (spec.task, spec.modality, spec.official_split) == ("multilabel", "image2d", True)
    with pytest.raises(ValidationError):
        MIMICCXROptions(uncertain="maybe")


def test_index_paths_patients_and_official_split(tmp_path):
    records, rejected = _index(make_copy(tmp_path))
    assert rejected == []
    by_id = {r.record_id: r for r in records}
    assert by_id[D1].files == (f"files/p10/p10000032/s50414267/{D1}.jpg",)
    assert by_id[D1].patient_id == by_id[D2].patient_id == "10000032"  # subject_id: the key MIMIC-IV shares
    assert [by_id[d].split for d in (D1, D2, D3, D4)] == ["train", "train", "val", "test"]
    assert by_id[D2].meta == {"study_id": "50414267", "view": "LATERAL"}
    assert by_id[D1].target == by_id[D2].target  # labels are per study
    target = dict(zip(LABELS, by_id[D3].target, strict=True))
    assert target["No Finding"] == 1.0 and sum(by_id[D3].target) == 1.0
    assert '"Support Devices": "1.0"' in by_id[D4].source_labels


@pytest.mark.parametrize("policy, expected", [("zeros", 0.0), ("ones", 1.0), ("ignore", math.nan)])
def test_uncertain_policy_and_blank_is_zero(tmp_path, policy, expected):
    records, _ = _index(make_copy(tmp_path), uncertain=policy)
    target = dict(zip(LABELS, next(r for r in records if r.record_id == D1).target, strict=True))
    assert target["Cardiomegaly"] == 1.0 and target["Pleural Effusion"] == 0.0 and target["Fracture"] == 0.0
    assert math.isnan(target["Edema"]) if math.isnan(expected) else target["Edema"] == expected


def test_frontal_only_and_decompressed_tables(tmp_path):
    make_copy(tmp_path, compress=False)  # CLIMB's loader leaves the .csv files decompressed
    assert MIMICCXR().detect(tmp_path)
    records, _ = _index(tmp_path, frontal_only=True)
    assert sorted(r.record_id for r in records) == sorted([D1, D3, D4])


def test_rejections_are_named(tmp_path):
    extra = [
        [
            "ee-1",
            "10000999",
            "59999999",
            "CHEST (PA)",
            "PA",
            "40",
            "32",
            "21500101",
            "1.0",
        ],  # no chexpert row
        ["ee-2", "10000032", "50414267", "CHEST (PA)", "PA", "40", "32", "21500101", "1.0"],  # not in split
        ["ee-3", "10000032", "50414267", "CHEST (PA)", "PA", "40", "32", "21500101", "1.0"],  # bad split
        META[0],  # repeated dicom_id
        ["ee-4", "x1", "50414267", "CHEST (PA)", "PA", "40", "32", "21500101", "1.0"],
    ]
    labels = [*LABEL_ROWS]
    labels[2] = ["10000898", "50771383", *_labels(Fracture="2.0")]
    make_copy(tmp_path, META + extra, labels, {**SPLITS, "ee-1": "train", "ee-3": "holdout", "ee-4": "train"})
    (tmp_path / image_path("10000764", "57375967", D3)).unlink()
    records, rejected = _index(tmp_path)
    assert sorted(r.record_id for r in records) == sorted([D1, D2])
    got = {(r.rule, r.record_id) for r in rejected}
    assert got == {
        ("missing_file", D3),
        ("bad_label_value", D4),
        ("unlabeled_study", "ee-1"),
        ("missing_split", "ee-2"),
        ("bad_split", "ee-3"),
        ("duplicate_record", D1),
        ("bad_id", "ee-4"),
    }
    bad = next(r for r in rejected if r.rule == "bad_label_value")
    assert (
        "'Fracture'" in bad.message
        and "'2.0'" in bad.message
        and bad.source == "mimic-cxr-2.0.0-chexpert.csv.gz"
    )


def test_layout_errors(tmp_path):
    assert not MIMICCXR().detect(tmp_path)
    with pytest.raises(CatalogError, match="metadata"):
        list(MIMICCXR().index(tmp_path))
    make_copy(tmp_path)
    (tmp_path / "mimic-cxr-2.0.0-split.csv.gz").unlink()
    with pytest.raises(CatalogError, match="split"):
        list(MIMICCXR().index(tmp_path))
    make_copy(tmp_path)
    _gz(tmp_path / "mimic-cxr-2.0.0-chexpert.csv.gz", ["subject_id", "study_id", *LABEL_ORDER[:-1]], [])
    with pytest.raises(CatalogError, match="'Support Devices'"):
        list(MIMICCXR().index(tmp_path))
    (tmp_path / "mimic-cxr-2.0.0-chexpert.csv.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(CatalogError, match="cannot be read"):
        list(MIMICCXR().index(tmp_path))


def test_physionet_download_folder_is_found(tmp_path):
    make_copy(tmp_path / "mimic-cxr-jpg" / "2.0.0")
    records, _ = _index(tmp_path)
    assert records[0].files[0].startswith("mimic-cxr-jpg/2.0.0/files/p10/")
    img, _ = MIMICCXR().decode(tmp_path, records[0])
    assert img.shape == (40, 32)


def test_decode_grayscale(tmp_path):
    make_copy(tmp_path)
    records, _ = _index(tmp_path)
    img, props = MIMICCXR().decode(tmp_path, records[0])
    assert img.dtype == np.uint8 and img.shape == (40, 32)
    assert props == {"sampling_rate": None, "meta": {"orig_size": [40, 32]}}
    (tmp_path / records[0].files[0]).write_bytes(b"")
    with pytest.raises(RecordError) as err:
        MIMICCXR().decode(tmp_path, records[0])
    assert err.value.rule == "empty_file" and records[0].files[0] in err.value.message
