"""CBIS-DDSM catalog entry: description csvs + NBIA DICOM tree, per-image BI-RADS as CLIMB, rejections."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.cbis_ddsm import BIRADS_CLASSES, CBISDDSM, CBISDDSMOptions
from climbflow.catalog.dicom import SALT_ENV

MASS = [
    "patient_id",
    "breast_density",
    "left or right breast",
    "image view",
    "abnormality id",
    "abnormality type",
    "mass shape",
    "mass margins",
    "assessment",
    "pathology",
    "subtlety",
    "image file path",
    "cropped image file path",
    "ROI mask file path",
]
CALC = [c.replace("breast_density", "breast density").replace("mass ", "calc ") for c in MASS]
CALC = [c.replace("calc margins", "calc distribution").replace("calc shape", "calc type") for c in CALC]
UID = "1.3.6.1.4.1.9590.100.1.2."


def _path(subject: str, n: int) -> str:
    return f"{subject}/{UID}{n}1/{UID}{n}2/000000.dcm"


def _row(patient, side, view, abn_id, kind, assessment, pathology, subject, n, density="3") -> list[str]:
    crop = f"{subject}_{abn_id}/a/b/000000.dcm"
    roi = f"{subject}_{abn_id}/a/b/000001.dcm"
    return [patient, density, side, view, str(abn_id), kind, "X", "Y", str(assessment), pathology, "3",
            _path(subject, n), crop, roi]  # fmt: skip


MASS_TRAIN = [
    _row("P_00001", "LEFT", "CC", 1, "mass", 3, "BENIGN", "Mass-Training_P_00001_LEFT_CC", 1),
    _row("P_00001", "LEFT", "MLO", 1, "mass", 4, "BENIGN", "Mass-Training_P_00001_LEFT_MLO", 2),
    _row("P_00001", "LEFT", "MLO", 2, "mass", 2, "BENIGN", "Mass-Training_P_00001_LEFT_MLO", 2),
]
CALC_TRAIN = [
    _row(
        "P_00001", "LEFT", "CC", 1, "calcification", 5, "MALIGNANT", "Calc-Training_P_00001_LEFT_CC", 3, "2"
    ),
]
MASS_TEST = [
    _row("P_00002", "RIGHT", "CC", 1, "mass", 0, "BENIGN", "Mass-Test_P_00002_RIGHT_CC", 4),
]
CALC_TEST = [
    _row("P_00003", "RIGHT", "MLO", 1, "calcification", 0, "MALIGNANT", "Calc-Test_P_00003_RIGHT_MLO", 5),
    _row(
        "P_00003",
        "RIGHT",
        "MLO",
        2,
        "calcification",
        2,
        "BENIGN_WITHOUT_CALLBACK",
        "Calc-Test_P_00003_RIGHT_MLO",
        5,
    ),
]
SERIES = {  # subject -> (n, study folder, series folder)
    "Mass-Training_P_00001_LEFT_CC": (1, "07-20-2016-DDSM-74994", "1.000000-full mammogram images-24515"),
    "Mass-Training_P_00001_LEFT_MLO": (2, "07-20-2016-DDSM-90988", "1.000000-full mammogram images-80834"),
    "Calc-Training_P_00001_LEFT_CC": (3, "08-07-2016-DDSM-12345", "1.000000-full mammogram images-23456"),
    "Mass-Test_P_00002_RIGHT_CC": (4, "09-01-2016-DDSM-55555", "1.000000-full mammogram images-66666"),
    "Calc-Test_P_00003_RIGHT_MLO": (5, "09-02-2016-DDSM-77777", "1.000000-full mammogram images-88888"),
}


@pytest.fixture(autouse=True)
def _salt(monkeypatch):
    monkeypatch.setenv(SALT_ENV, "cbis-test-salt")


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _dicom(path: Path, value: int) -> None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", f"1.2.3.{value}"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality, ds.ImageLaterality, ds.ViewPosition = "MG", "L", "CC"
    ds.PatientID, ds.PatientName, ds.StudyDate = "MRN5550001", "HOLLOWAY^MARGARET", "20180303"
    ds.set_pixel_data(
        (np.arange(56 * 36).reshape(56, 36) + value * 100).astype(np.uint16),
        "MONOCHROME2",
        16,
        generate_instance_uid=False,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def make_copy(root: Path, csv_dir: str = "", metadata: bool = True, **tables) -> Path:
    rows = {
        "mass_train": MASS_TRAIN,
        "calc_train": CALC_TRAIN,
        "mass_test": MASS_TEST,
        "calc_test": CALC_TEST,
    }
    rows.update(tables)
    for key, value in rows.items():
        kind, split = key.split("_")
        _write_csv(
            root / csv_dir / f"{kind}_case_description_{split}_set.csv",
            MASS if kind == "mass" else CALC,
            value,
        )
    meta_rows = []
    for subject, (n, study, series) in SERIES.items():
        _dicom(root / "CBIS-DDSM" / subject / study / series / "1-1.dcm", n)
        meta_rows.append([f"{UID}{n}2", subject, f"{UID}{n}1", f"./CBIS-DDSM/{subject}/{study}/{series}"])
    if metadata:
        _write_csv(
            root / "metadata.csv", ["Series UID", "Subject ID", "Study UID", "File Location"], meta_rows
        )
    return root


def _index(root: Path) -> tuple[dict[str, RawRecord], list[Rejected]]:
    items = list(CBISDDSM().index(root))
    return {i.record_id: i for i in items if isinstance(i, RawRecord)}, [
        i for i in items if isinstance(i, Rejected)
    ]


def _birads(record: RawRecord) -> str:
    (i,) = [k for k, v in enumerate(record.target) if v == 1.0]
    return BIRADS_CLASSES[i]


def test_registered_as_climb_birads_task():
    spec = catalog.get("cbis_ddsm")
    assert spec is CBISDDSM
    assert (spec.modality, spec.task, spec.official_split) == ("image2d", "multiclass", True)
    assert spec.classes == ("BIRAD 1", "BIRAD 2", "BIRAD 3", "BIRAD 4", "BIRAD 5")
    with pytest.raises(ValidationError):
        CBISDDSMOptions(task="pathology")


@pytest.mark.parametrize("metadata", [True, False])
def test_one_record_per_image_with_highest_birads(tmp_path, metadata):
    records, rejected = _index(make_copy(tmp_path, metadata=metadata))
    assert sorted(records) == [
        "Calc-Test_P_00003_RIGHT_MLO",
        "Calc-Training_P_00001_LEFT_CC",  # mass 3 + calc 5 on the same image: the calc row wins
        "Mass-Training_P_00001_LEFT_MLO",  # two masses 4 and 2 -> 4
    ]
    cc = records["Calc-Training_P_00001_LEFT_CC"]
    assert _birads(cc) == "BIRAD 5" and sum(cc.target) == 1.0
    assert cc.files == ("CBIS-DDSM/Calc-Training_P_00001_LEFT_CC/08-07-2016-DDSM-12345/"
                        "1.000000-full mammogram images-23456/1-1.dcm",)  # fmt: skip
    assert cc.meta["pathology"] == "MALIGNANT" and cc.meta["abnormality_types"] == ["calcification", "mass"]
    assert cc.meta["series"] == ["Calc-Training_P_00001_LEFT_CC", "Mass-Training_P_00001_LEFT_CC"]
    assert (cc.meta["breast"], cc.meta["view"], cc.meta["breast_density"]) == ("LEFT", "CC", "3")
    assert [a["assessment"] for a in json.loads(cc.source_labels)] == [3, 5]
    mlo = records["Mass-Training_P_00001_LEFT_MLO"]
    assert (
        _birads(mlo) == "BIRAD 4" and mlo.meta["pathology"] == "BENIGN" and mlo.meta["n_abnormalities"] == 2
    )
    test = records["Calc-Test_P_00003_RIGHT_MLO"]
    assert _birads(test) == "BIRAD 2" and test.split == "test"  # the BI-RADS 0 row is ignored
    assert test.meta["pathology"] == "MALIGNANT"  # pathology aggregates every abnormality
    assert cc.split is None and mlo.split is None  # train: hash-split into train/val later
    assert cc.patient_id == mlo.patient_id == "P_00001"
    (rej,) = rejected
    assert (rej.rule, rej.record_id) == ("inconclusive_assessment", "Mass-Test_P_00002_RIGHT_CC")
    assert rej.source == "mass_case_description_test_set.csv" and "line 2" in rej.message


def test_csvs_in_csv_folder_and_detect(tmp_path):
    make_copy(tmp_path, csv_dir="csv")
    assert CBISDDSM().detect(tmp_path) and not CBISDDSM().detect(tmp_path / "CBIS-DDSM")
    records, _ = _index(tmp_path)
    assert len(records) == 3


def test_row_rejections_are_named(tmp_path):
    mass_train = [
        *MASS_TRAIN,
        _row("P_00009", "LEFT", "CC", 1, "mass", 4, "UNKNOWN", "Mass-Training_P_00009_LEFT_CC", 9),
        _row("P_00010", "LEFT", "CC", 1, "mass", 7, "BENIGN", "Mass-Training_P_00010_LEFT_CC", 10),
        _row("P_00011", "LEFT", "XCC", 1, "mass", 4, "BENIGN", "Mass-Training_P_00011_LEFT_XCC", 11),
        _row("P_00012", "LEFT", "CC", 1, "mass", 4, "BENIGN", "Mass-Training_P_00012_LEFT_CC", 12),  # no file
    ]
    records, rejected = _index(make_copy(tmp_path, mass_train=mass_train))
    by_rule = {r.rule: r for r in rejected}
    assert sorted(by_rule) == [
        "bad_label_value",
        "bad_row",
        "inconclusive_assessment",
        "missing_file",
        "unknown_label",
    ]
    assert by_rule["unknown_label"].record_id == "Mass-Training_P_00009_LEFT_CC"
    assert "'UNKNOWN'" in by_rule["unknown_label"].message and "line 5" in by_rule["unknown_label"].message
    assert "'7'" in by_rule["bad_label_value"].message
    assert "Mass-Training_P_00012_LEFT_CC" in by_rule["missing_file"].message
    assert len(records) == 3


def test_an_abnormality_row_rejected_rejects_its_image(tmp_path):
    mass_train = [
        *MASS_TRAIN[:2],
        _row("P_00001", "LEFT", "MLO", 2, "mass", 9, "BENIGN", "Mass-Training_P_00001_LEFT_MLO", 2),
    ]
    records, rejected = _index(make_copy(tmp_path, mass_train=mass_train))
    assert "Mass-Training_P_00001_LEFT_MLO" not in records
    rules = sorted(r.rule for r in rejected if r.record_id == "Mass-Training_P_00001_LEFT_MLO")
    assert rules == ["bad_abnormality_row", "bad_label_value"]


def test_ambiguous_series_without_metadata(tmp_path):
    make_copy(tmp_path, metadata=False)
    extra = (
        tmp_path / "CBIS-DDSM/Mass-Training_P_00001_LEFT_MLO/07-20-2016-DDSM-90988/1.000000-other-1/1-1.dcm"
    )
    _dicom(extra, 2)
    records, _ = _index(tmp_path)
    assert len(records) == 3  # the full-mammogram series is preferred
    assert "full mammogram" in records["Mass-Training_P_00001_LEFT_MLO"].files[0]
    renamed = extra.parent.with_name("1.000000-full mammogram images-2")
    extra.parent.rename(renamed)
    _, rejected = _index(tmp_path)
    assert [r.rule for r in rejected if r.record_id == "Mass-Training_P_00001_LEFT_MLO"] == ["ambiguous_file"]


def test_missing_csv_and_columns(tmp_path):
    make_copy(tmp_path)
    _write_csv(tmp_path / "calc_case_description_train_set.csv", [c for c in CALC if c != "pathology"], [])
    with pytest.raises(CatalogError, match="'pathology' missing"):
        list(CBISDDSM().index(tmp_path))
    (tmp_path / "calc_case_description_test_set.csv").unlink()
    with pytest.raises(CatalogError, match="calc_case_description_test_set.csv"):
        list(CBISDDSM().index(tmp_path))
    with pytest.raises(CatalogError, match="no CBIS-DDSM description csvs"):
        list(CBISDDSM().index(tmp_path / "nowhere"))


def test_decode_returns_deidentified_mammogram(tmp_path):
    records, _ = _index(make_copy(tmp_path))
    rec = records["Mass-Training_P_00001_LEFT_MLO"]
    img, props = CBISDDSM().decode(tmp_path, rec)
    assert img.shape == (56, 36) and img.dtype == np.uint8 and img[0, 0] == 0 and img[-1, -1] == 255
    meta = props["meta"]
    assert (meta["modality"], meta["laterality"], meta["view_position"]) == ("MG", "L", "CC")
    assert meta["patient_pseudonym"].startswith("anon-") and meta["study_date_shifted"] != "20180303"
    text = json.dumps(props["meta"])
    assert "MRN5550001" not in text and "HOLLOWAY" not in text and "20180303" not in text
    (tmp_path / rec.files[0]).write_bytes(b"DICM but not really")
    with pytest.raises(RecordError) as err:
        CBISDDSM().decode(tmp_path, rec)
    assert err.value.rule == "corrupt_dicom"
