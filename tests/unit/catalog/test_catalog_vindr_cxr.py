"""VinDr-CXR catalog entry: csv + DICOM layout, CLIMB's CheXpert mapping, reader aggregation, pseudonyms."""

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
from climbflow.catalog.chexpert import LABELS
from climbflow.catalog.dicom import SALT_ENV, Deidentifier
from climbflow.catalog.vindr_cxr import MAPPING, VINDR_LABELS, VinDrCXR, VinDrCXROptions, aggregate

SALT = "vindr-test-salt"
IDS = {  # image_id -> (split, PatientID in the DICOM header)
    "0a1b2c3d4e5f60718293a4b5c6d7e8f9": ("train", "MRN1001"),
    "1b2c3d4e5f60718293a4b5c6d7e8f90a": ("train", "MRN1001"),
    "2c3d4e5f60718293a4b5c6d7e8f90a1b": ("train", "MRN2002"),
    "3d4e5f60718293a4b5c6d7e8f90a1b2c": ("test", "MRN3003"),
    "4e5f60718293a4b5c6d7e8f90a1b2c3d": ("test", ""),
}
A, B, C, T1, T2 = IDS


@pytest.fixture(autouse=True)
def _salt(monkeypatch):
    monkeypatch.setenv(SALT_ENV, SALT)


def _row(image_id: str, rad: str | None, *positive: str) -> list[str]:
    cells = ["1" if name in (positive or ("No finding",)) else "0" for name in VINDR_LABELS]
    return [image_id, *([rad] if rad is not None else []), *cells]


TRAIN_ROWS = [
    _row(A, "R1", "Cardiomegaly", "Pleural effusion"),
    _row(A, "R2", "Cardiomegaly"),
    _row(A, "R3", "Cardiomegaly", "Aortic enlargement", "Tuberculosis"),
    _row(B, "R4"),
    _row(B, "R5"),
    _row(B, "R6", "Nodule/Mass"),
    _row(C, "R1", "Nodule/Mass", "Lung tumor"),
    _row(C, "R2", "Lung tumor"),
    _row(C, "R3", "Other lesion", "Infiltration"),
]
TEST_ROWS = [_row(T1, None, "Pneumothorax", "Rib fracture"), _row(T2, None)]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _dicom(path: Path, patient_id: str, study_date: str = "20200102") -> None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.1.1", "1.2.3." + str(int(path.stem[:8], 16))
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality, ds.ViewPosition = "DX", "PA"
    if patient_id:
        ds.PatientID, ds.PatientName = patient_id, "NGUYEN^VAN AN"
    ds.InstitutionName, ds.StudyDate = "Red River General Hospital", study_date
    ds.set_pixel_data(
        (np.add.outer(np.arange(48), np.arange(40)) * 40).astype(np.uint16),
        "MONOCHROME1",
        12,
        generate_instance_uid=False,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def make_copy(root: Path, train_rows=TRAIN_ROWS, test_rows=TEST_ROWS, test_rad: bool = False) -> Path:
    _write_csv(root / "annotations/image_labels_train.csv", ["image_id", "rad_ID", *VINDR_LABELS], train_rows)
    test_header = ["image_id", *(["rad_ID"] if test_rad else []), *VINDR_LABELS]
    rows = [[r[0], "R_cons", *r[1:]] for r in test_rows] if test_rad else test_rows
    _write_csv(root / "annotations/image_labels_test.csv", test_header, rows)
    for image_id, (split, patient) in IDS.items():
        _dicom(root / split / f"{image_id}.dicom", patient)
    return root


def _index(root: Path, **options) -> tuple[dict[str, RawRecord], list[Rejected]]:
    items = list(VinDrCXR(VinDrCXROptions(**options)).index(root))
    return {i.record_id: i for i in items if isinstance(i, RawRecord)}, [
        i for i in items if isinstance(i, Rejected)
    ]


def _positives(record: RawRecord) -> set[str]:
    return {name for name, v in zip(LABELS, record.target, strict=True) if v == 1.0}


def test_registered_with_chexpert_vocabulary():
    spec = catalog.get("vindr_cxr")
    assert spec is VinDrCXR
    assert (spec.modality, spec.task, spec.official_split) == ("image2d", "multilabel", True)
    assert spec.classes == LABELS  # merges with CheXpert's vocabulary
    assert len(VINDR_LABELS) == 28 and set(MAPPING) == set(VINDR_LABELS)
    assert {v for v in MAPPING.values() if v is not None} <= set(LABELS)
    assert [k for k, v in MAPPING.items() if v is None] == [
        "Calcification",
        "Emphysema",
        "ILD",
        "Mediastinal shift",
        "Pulmonary fibrosis",
        "COPD",
        "Tuberculosis",
        "Other diseases",
    ]
    with pytest.raises(ValidationError):
        VinDrCXROptions(aggregate="mean")
    with pytest.raises(ValidationError):
        VinDrCXROptions(readers=3)


def test_majority_vote_after_mapping():
    assert _set(aggregate([{"Cardiomegaly"}, {"Cardiomegaly"}, set()], "majority")) == {"Cardiomegaly"}
    # two readers say "lesion" with different VinDr words: the CheXpert class has a majority
    assert _set(aggregate([{"Nodule/Mass"}, {"Lung tumor"}, {"No finding"}], "majority")) == {"Lung Lesion"}
    assert _set(aggregate([{"Edema"}, {"No finding"}, {"No finding"}], "majority")) == {"No Finding"}
    assert _set(aggregate([{"Edema"}, {"No finding"}, {"No finding"}], "any")) == {"Edema", "Lung Opacity"}
    assert _set(aggregate([{"Tuberculosis"}], "majority")) == set()


def _set(target: tuple[float, ...]) -> set[str]:
    return {name for name, v in zip(LABELS, target, strict=True) if v}


def test_index_aggregates_readers_and_keeps_official_test(tmp_path):
    records, rejected = _index(make_copy(tmp_path))
    assert rejected == [] and sorted(records) == sorted(IDS)
    assert _positives(records[A]) == {"Cardiomegaly"}  # effusion 1/3, aortic 1/3, TB dropped
    assert _positives(records[B]) == {"No Finding"}
    assert _positives(records[C]) == {"Lung Lesion"}  # 3/3 readers once mapped; Infiltration 1/3
    assert _positives(records[T1]) == {"Pneumothorax", "Fracture"}
    assert _positives(records[T2]) == {"No Finding"}
    assert {records[i].split for i in (A, B, C)} == {None} and {records[i].split for i in (T1, T2)} == {
        "test"
    }
    assert records[A].files == (f"train/{A}.dicom",) and records[T1].files == (f"test/{T1}.dicom",)
    assert records[A].meta == {"n_readers": 3, "aggregate": "majority"}
    assert json.loads(records[A].source_labels)["R2"] == ["Cardiomegaly"]
    anyone, _ = _index(tmp_path, aggregate="any")
    assert _positives(anyone[A]) == {"Cardiomegaly", "Pleural Effusion", "Enlarged Cardiomediastinum"}
    assert _positives(anyone[B]) == {"Lung Lesion"}


def test_patient_id_is_a_keyed_pseudonym_of_the_header(tmp_path):
    records, _ = _index(make_copy(tmp_path))
    assert records[A].patient_id == records[B].patient_id != records[C].patient_id  # same MRN1001
    assert all(r.patient_id.startswith("anon-") and "MRN" not in r.patient_id for r in records.values())
    header = Dataset()
    header.PatientID = "MRN1001"
    assert records[A].patient_id == Deidentifier(SALT.encode()).patient_pseudonym(header, A)
    assert records[T2].patient_id == Deidentifier(SALT.encode()).pseudonym(f"record:{T2}")  # no PatientID


def test_test_csv_with_reader_column_and_detect(tmp_path):
    make_copy(tmp_path, test_rad=True)
    records, rejected = _index(tmp_path)
    assert rejected == [] and records[T1].split == "test" and _positives(records[T2]) == {"No Finding"}
    assert VinDrCXR().detect(tmp_path)
    assert not VinDrCXR().detect(tmp_path / "annotations")


def test_rejections_are_named(tmp_path):
    train = [
        *TRAIN_ROWS[:6],
        [C, "R1", *["2" if n == "Edema" else "0" for n in VINDR_LABELS]],  # bad value
        _row(C, "R2", "Edema"),
        _row(C, "R3", "Edema"),
        _row("5f60718293a4b5c6d7e8f90a1b2c3d4e", "R1", "COPD"),  # only dropped labels
        _row("60718293a4b5c6d7e8f90a1b2c3d4e5f", "R1", "Edema"),  # readers disagree
        _row("60718293a4b5c6d7e8f90a1b2c3d4e5f", "R2", "Atelectasis"),
        _row("60718293a4b5c6d7e8f90a1b2c3d4e5f", "R3", "Pleural effusion"),  # (Pneumonia: 2/3 Lung Opacity)
        _row("718293a4b5c6d7e8f90a1b2c3d4e5f60", "R1", "Edema"),  # no DICOM file
    ]
    test = [*TEST_ROWS, _row(A, None, "Edema")]  # also listed in train
    records, rejected = _index(make_copy(tmp_path, train_rows=train, test_rows=test))
    by_rule = {r.rule: r for r in rejected}
    assert sorted(by_rule) == [
        "bad_label_value",
        "duplicate_record",
        "missing_file",
        "no_majority",
        "no_mappable_label",
    ]
    assert by_rule["bad_label_value"].record_id == C and "'Edema'" in by_rule["bad_label_value"].message
    assert "line 8" in by_rule["bad_label_value"].message
    assert by_rule["duplicate_record"].source == "annotations/image_labels_test.csv"
    assert "COPD" in by_rule["no_mappable_label"].message
    assert "train/718293a4b5c6d7e8f90a1b2c3d4e5f60.dicom" in by_rule["missing_file"].message
    assert sorted(records) == sorted([A, B, T1, T2])


def test_missing_files_and_columns(tmp_path):
    make_copy(tmp_path)
    with pytest.raises(CatalogError, match="unknown label column 'Fibrosis'"):
        header = ["image_id", "rad_ID", *VINDR_LABELS[:-1], "Fibrosis"]
        _write_csv(tmp_path / "annotations/image_labels_train.csv", header, TRAIN_ROWS)
        list(VinDrCXR().index(tmp_path))
    with pytest.raises(CatalogError, match="'No finding' missing"):
        _write_csv(
            tmp_path / "annotations/image_labels_train.csv", ["image_id", "rad_ID", *VINDR_LABELS[:-1]], []
        )
        list(VinDrCXR().index(tmp_path))
    (tmp_path / "annotations/image_labels_test.csv").unlink()
    with pytest.raises(CatalogError, match="image_labels_test.csv"):
        list(VinDrCXR().index(tmp_path))


def test_decode_deidentifies_and_inverts_monochrome1(tmp_path):
    records, _ = _index(make_copy(tmp_path))
    img, props = VinDrCXR().decode(tmp_path, records[A])
    assert img.dtype == np.uint8 and img.shape == (48, 40) and props["orig_size"] == (48, 40)
    assert img[0, 0] == 255 and img[-1, -1] == 0  # MONOCHROME1: low stored values are white
    meta = props["meta"]
    assert meta["photometric"] == "MONOCHROME1" and meta["view_position"] == "PA"
    assert meta["patient_pseudonym"] == records[A].patient_id and meta["study_date_shifted"] != "20200102"
    text = json.dumps(meta)
    assert (
        "MRN1001" not in text and "NGUYEN" not in text and "Red River" not in text and "20200102" not in text
    )


def test_decode_bad_files(tmp_path):
    records, _ = _index(make_copy(tmp_path))
    path = tmp_path / records[A].files[0]
    path.write_bytes(path.read_bytes()[:-1500])
    with pytest.raises(RecordError) as err:
        VinDrCXR().decode(tmp_path, records[A])
    assert err.value.rule == "corrupt_dicom" and A in err.value.message
    path.write_bytes(b"")
    with pytest.raises(RecordError, match="empty_file"):
        VinDrCXR().decode(tmp_path, records[A])


def test_burned_in_option(tmp_path):
    records, _ = _index(make_copy(tmp_path))
    import pydicom

    path = tmp_path / records[B].files[0]
    ds = pydicom.dcmread(path)
    ds.BurnedInAnnotation = "YES"
    ds.save_as(path, enforce_file_format=True)
    assert VinDrCXR().decode(tmp_path, records[B])[1]["meta"]["burned_in_annotation"] is True
    with pytest.raises(RecordError) as err:
        VinDrCXR(VinDrCXROptions(burned_in="reject")).decode(tmp_path, records[B])
    assert err.value.rule == "burned_in_annotation"
