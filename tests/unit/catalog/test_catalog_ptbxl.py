"""PTB-XL catalog entry: real layout, CLIMB superclasses kept multi-label, official split, named rejections."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.ptbxl import CLASSES, PTBXL

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")  # pandas 3 vs wfdb internals

LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
# rows copied from the real scp_statements.csv (first, unnamed column = SCP code)
SCP_STATEMENTS = """\
,description,diagnostic,form,rhythm,diagnostic_class,diagnostic_subclass,Statement Category
NDT,non-diagnostic T abnormalities,1.0,1.0,,STTC,STTC,other ST-T descriptive statements
NORM,normal ECG,1.0,,,NORM,NORM,Normal/abnormal
IMI,inferior myocardial infarction,1.0,,,MI,IMI,Myocardial Infarction
LVH,left ventricular hypertrophy,1.0,,,HYP,LVH,Hypertrophie
CRBBB,complete right bundle branch block,1.0,,,CD,CRBBB,Intraventricular and intra-atrial Conduction disturbances
AMI,anterior myocardial infarction,1.0,,,MI,AMI,Myocardial Infarction
LVOLT,low QRS voltages in the frontal and horizontal leads,,1.0,,,,other
SR,sinus rhythm,,,1.0,,,Statements related to impulse formation (abnormalities)
AFIB,atrial fibrillation,,,1.0,,,Statements related to impulse formation (abnormalities)
STACH,sinus tachycardia,,,1.0,,,Statements related to impulse formation (abnormalities)
AFLT,atrial flutter,,,1.0,,,Statements related to impulse formation (abnormalities)
PACE,normal functioning artificial pacemaker,,,1.0,,,Statements related to impulse formation (abnormalities)
"""
COLUMNS = [
    "ecg_id",
    "patient_id",
    "age",
    "sex",
    "height",
    "weight",
    "scp_codes",
    "strat_fold",
    "filename_lr",
    "filename_hr",
]
# (ecg_id, patient_id, age, sex, scp_codes, strat_fold)
ROWS = [
    (1, "15709.0", "56.0", "1", "{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}", "3"),
    (2, "13243.0", "19.0", "0", "{'NORM': 80.0, 'SR': 0.0}", "2"),
    (3, "20372.0", "37.0", "1", "{'IMI': 100.0, 'LVH': 50.0, 'SR': 0.0}", "9"),
    (4, "17014.0", "24.0", "0", "{'CRBBB': 100.0, 'AFIB': 0.0}", "10"),
    (5, "17448.0", "300.0", "1", "{'AFLT': 0.0}", "8"),
    (6, "19005.0", "18.0", "0", "{'NDT': 100.0, 'STACH': 0.0}", "1"),
    (7, "16193.0", "", "", "{'AMI': 100.0, 'PACE': 0.0}", "5"),
]
EXPECTED = {
    "1": {"OTHER"},  # LVOLT (low voltage) -> OTHER, so not NORM (NORM only when alone); SR -> nothing
    "2": {"NORM"},
    "3": {"MI", "HYP"},
    "4": {"CD", "AFIB"},
    "5": {"AFIB"},
    "6": {"STTC", "OTHER"},
    "7": {"MI", "OTHER"},
}


def _stem(ecg_id: int) -> str:
    return f"records500/00000/{ecg_id:05d}_hr"


def _signal(ecg_id: int) -> np.ndarray:
    t = np.arange(5000) / 500.0
    return np.stack([(k + 1) * 0.1 * np.sin(2 * np.pi * (1 + ecg_id) * t) for k in range(12)], axis=1)


def write_copy(root: Path, rows: list[tuple] = ROWS, records: bool = True) -> Path:
    """A tiny PTB-XL copy: real CSV formats + (optionally) WFDB records written with wfdb.wrsamp."""
    (root / "records500" / "00000").mkdir(parents=True, exist_ok=True)
    (root / "scp_statements.csv").write_text(SCP_STATEMENTS)
    with (root / "ptbxl_database.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for ecg_id, patient, age, sex, codes, fold in rows:
            writer.writerow(
                [
                    ecg_id,
                    patient,
                    age,
                    sex,
                    "",
                    "",
                    codes,
                    fold,
                    f"records100/00000/{ecg_id:05d}_lr",
                    _stem(ecg_id),
                ]
            )
            if not records:
                continue
            wfdb.wrsamp(
                f"{ecg_id:05d}_hr",
                fs=500,
                units=["mV"] * 12,
                sig_name=LEADS,
                p_signal=_signal(ecg_id),
                fmt=["16"] * 12,
                adc_gain=[1000.0] * 12,
                baseline=[0] * 12,
                write_dir=str(root / "records500" / "00000"),
            )
    return root


def _index(root: Path) -> tuple[dict[str, RawRecord], dict[str, Rejected]]:
    items = list(PTBXL().index(root))
    return (
        {r.record_id: r for r in items if isinstance(r, RawRecord)},
        {r.record_id: r for r in items if isinstance(r, Rejected)},
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_copy(tmp_path_factory.mktemp("ptbxl"))


@pytest.fixture()
def copy(pristine: Path, tmp_path: Path) -> Path:
    """A fresh, modifiable copy of the fixture dataset."""
    return Path(shutil.copytree(pristine, tmp_path / "ptbxl"))


def test_registered_and_class_attributes() -> None:
    assert catalog.get("ptbxl") is PTBXL
    assert PTBXL.classes == ("NORM", "CD", "HYP", "MI", "STTC", "AFIB", "OTHER")
    assert PTBXL.task == "multilabel" and PTBXL.modality == "ecg" and PTBXL.official_split
    assert PTBXL.license and PTBXL.layout and PTBXL.title


def test_detect(copy: Path, tmp_path: Path) -> None:
    assert PTBXL().detect(copy)
    assert not PTBXL().detect(tmp_path / "elsewhere")


def test_superclass_mapping_is_multilabel(copy: Path) -> None:
    records, rejected = _index(copy)
    assert not rejected
    for record_id, classes in EXPECTED.items():
        target = records[record_id].target
        assert {CLASSES[i] for i, v in enumerate(target) if v == 1.0} == classes, record_id
        assert all(v in (0.0, 1.0) for v in target)
    assert sum(1 for r in records.values() if sum(r.target) > 1) == 4  # never flattened to one label


def test_official_split_from_strat_fold(copy: Path) -> None:
    records, _ = _index(copy)
    splits = {rid: r.split for rid, r in records.items()}
    assert splits == {
        "1": "train",
        "2": "train",
        "3": "val",
        "4": "test",
        "5": "train",
        "6": "train",
        "7": "train",
    }


def test_record_fields(copy: Path) -> None:
    records, _ = _index(copy)
    r1, r2, r5, r7 = records["1"], records["2"], records["5"], records["7"]
    assert r1.patient_id == "15709"
    assert r1.files == ("records500/00000/00001_hr.hea", "records500/00000/00001_hr.dat")
    assert r1.source_labels == "{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}"
    assert r1.meta["sex"] == "F" and r2.meta["sex"] == "M"  # PTB-XL: 0 = male, 1 = female
    assert r1.meta["age"] == 56.0 and r1.meta["sampling_rate"] == 500
    assert r5.meta["age"] == 90.0  # PTB-XL writes ages > 89 as 300
    assert r7.meta["age"] is None and r7.meta["sex"] is None


def test_unknown_scp_code_rejected_with_row(copy: Path) -> None:
    rows = [*ROWS, (8, "1.0", "50", "0", "{'XYZ': 100.0, 'SR': 0.0}", "4")]
    records, rejected = _index(write_copy(copy, rows, records=False))
    assert set(records) == set(EXPECTED)
    bad = rejected["8"]
    assert bad.rule == "unknown_scp_code" and bad.source == "ptbxl_database.csv"
    assert "'XYZ'" in bad.message and "row 8" in bad.message and "ecg_id 8" in bad.message


@pytest.mark.parametrize(
    ("codes", "fold", "rule"),
    [
        ("{'SR': 0.0}", "3", "no_label"),
        ("{}", "3", "no_label"),
        ("NORM, SR", "3", "bad_scp_codes"),
        ("{'NORM': 100.0", "3", "bad_scp_codes"),
        ("{'NORM': 100.0}", "11", "bad_strat_fold"),
        ("{'NORM': 100.0}", "", "bad_strat_fold"),
    ],
)
def test_bad_rows_rejected(copy: Path, codes: str, fold: str, rule: str) -> None:
    records, rejected = _index(write_copy(copy, [ROWS[0], (9, "3.0", "40", "1", codes, fold)], records=False))
    assert set(records) == {"1"}
    assert rejected["9"].rule == rule


def test_missing_record_files_rejected(copy: Path) -> None:
    (copy / "records500/00000/00002_hr.dat").unlink()
    (copy / "records500/00000/00003_hr.hea").unlink()
    records, rejected = _index(copy)
    assert set(rejected) == {"2", "3"} and len(records) == 5
    assert rejected["2"].rule == "missing_file" and rejected["2"].source == "records500/00000/00002_hr.dat"
    assert rejected["3"].rule == "missing_file" and rejected["3"].source == "records500/00000/00003_hr.hea"


@pytest.mark.parametrize("column", ["scp_codes", "strat_fold", "patient_id", "filename_hr", "ecg_id"])
def test_missing_database_column(copy: Path, column: str) -> None:
    path = copy / "ptbxl_database.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, [c for c in COLUMNS if c != column], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(CatalogError, match=rf"ptbxl_database\.csv.*'{column}'"):
        list(PTBXL().index(copy))


def test_missing_statement_column_or_file(copy: Path) -> None:
    (copy / "scp_statements.csv").write_text(SCP_STATEMENTS.replace("diagnostic_class", "klass"))
    with pytest.raises(CatalogError, match=r"scp_statements\.csv.*'diagnostic_class'"):
        list(PTBXL().index(copy))
    (copy / "scp_statements.csv").unlink()
    with pytest.raises(CatalogError, match=r"scp_statements\.csv"):
        list(PTBXL().index(copy))


def test_missing_database_file(tmp_path: Path) -> None:
    (tmp_path / "scp_statements.csv").write_text(SCP_STATEMENTS)
    with pytest.raises(CatalogError, match=r"ptbxl_database\.csv"):
        list(PTBXL().index(tmp_path))


def test_decode(copy: Path) -> None:
    records, _ = _index(copy)
    signal, props = PTBXL().decode(copy, records["3"])
    assert signal.dtype == np.float32 and signal.shape == (5000, 12)
    meta = {"source_unit": "mV", "unit_assumed": False}
    assert props == {"sampling_rate": 500.0, "lead_names": LEADS, "meta": meta}
    np.testing.assert_allclose(signal, _signal(3), atol=1e-3)


def test_truncated_dat_is_corrupt_wfdb(copy: Path) -> None:
    records, _ = _index(copy)
    dat = copy / "records500/00000/00004_hr.dat"
    dat.write_bytes(dat.read_bytes()[:1001])
    with pytest.raises(RecordError) as err:
        PTBXL().decode(copy, records["4"])
    assert err.value.rule == "corrupt_wfdb" and "records500/00000/00004_hr.dat" in err.value.message


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"00005_hr 12 500\n"])
def test_bad_header_is_corrupt_wfdb(copy: Path, content: bytes) -> None:
    records, _ = _index(copy)
    (copy / "records500/00000/00005_hr.hea").write_bytes(content)
    with pytest.raises(RecordError) as err:
        PTBXL().decode(copy, records["5"])
    assert err.value.rule == "corrupt_wfdb" and "records500/00000/00005_hr.hea" in err.value.message


def test_zero_byte_dat_is_corrupt_wfdb(copy: Path) -> None:
    records, _ = _index(copy)
    (copy / "records500/00000/00006_hr.dat").write_bytes(b"")
    with pytest.raises(RecordError) as err:
        PTBXL().decode(copy, records["6"])
    assert err.value.rule == "corrupt_wfdb" and "00006_hr.dat" in err.value.message


def test_file_removed_after_indexing(copy: Path) -> None:
    records, _ = _index(copy)
    (copy / "records500/00000/00007_hr.dat").unlink()
    with pytest.raises(RecordError) as err:
        PTBXL().decode(copy, records["7"])
    assert err.value.rule == "missing_file" and "00007_hr.dat" in err.value.message
