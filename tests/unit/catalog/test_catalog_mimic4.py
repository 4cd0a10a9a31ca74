"""MIMIC-IV + linked CXR/ECG catalog entries on a tiny fixture in the real layout."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pydantic import ValidationError

from climbflow.catalog import get
from climbflow.catalog.base import RawRecord, RecordError, Rejected
from climbflow.catalog.mimic4 import (
    ADMISSIONS,
    CHARTEVENTS,
    CXR,
    CXR_METADATA,
    ECG,
    ECG_RECORDS,
    ICUSTAYS,
    LABEVENTS,
    MIMIC4,
    MIMIC4CXR,
    MIMIC4ECG,
    PATIENTS,
    Mimic4Options,
    cohort,
)
from climbflow.modalities.ehr import FEATURES
from climbflow.sampledata.mimic4 import write_wfdb_mimic

A, B, C, D, F, G, H = 20000001, 20000002, 20000003, 20000004, 20000006, 20000007, 20000008
S1, S2, S3 = 10000001, 10000002, 10000003


def _adm(subject, hadm, admit, disch, kind="EW EMER.", died=False, ed=""):
    return {
        "subject_id": subject,
        "hadm_id": hadm,
        "admittime": admit,
        "dischtime": disch,
        "deathtime": disch if died else "",
        "admission_type": kind,
        "admission_location": "EMERGENCY ROOM",
        "discharge_location": "DIED" if died else "HOME",
        "edregtime": ed,
        "edouttime": admit if ed else "",
        "hospital_expire_flag": int(died),
    }


def _lab(subject, hadm, itemid, chart, store, value):
    return {
        "labevent_id": 0,
        "subject_id": subject,
        "hadm_id": hadm,
        "specimen_id": 1,
        "itemid": itemid,
        "charttime": chart,
        "storetime": store,
        "value": str(value),
        "valuenum": value,
        "valueuom": "",
        "flag": "",
        "priority": "STAT",
        "comments": "",
    }


def _chart(hadm, itemid, chart, value):
    return {
        "subject_id": S1,
        "hadm_id": hadm,
        "stay_id": 30000001,
        "caregiver_id": 1,
        "charttime": chart,
        "storetime": chart,
        "itemid": itemid,
        "value": str(value),
        "valuenum": value,
        "valueuom": "",
        "warning": 0,
    }


def write_fixture(root: Path) -> Path:
    """Admission A (S1) died after 5 days with labs, vitals, CXRs and ECGs around the prediction time;
    B, C end before it; D is a minor; F has an unknown type; G (S3) has only data after it; H no patient."""
    gz = {"compression": "gzip", "index": False}
    (root / "mimiciv/2.2/hosp").mkdir(parents=True)
    (root / "mimiciv/2.2/icu").mkdir(parents=True)
    pd.DataFrame(
        [
            [S1, "M", 70, 2180, "2014 - 2016", ""],
            [S2, "F", 16, 2180, "2014 - 2016", ""],
            [S3, "F", 50, 2178, "2011 - 2013", ""],
        ],
        columns=["subject_id", "gender", "anchor_age", "anchor_year", "anchor_year_group", "dod"],
    ).to_csv(root / PATIENTS, **gz)
    rows = [
        _adm(S1, A, "2180-01-01 08:00:00", "2180-01-06 08:00:00", died=True, ed="2180-01-01 05:00:00"),
        _adm(S3, B, "2180-03-01 10:00:00", "2180-03-02 16:00:00", kind="ELECTIVE"),
        _adm(S3, C, "2180-04-01 10:00:00", "2180-04-03 02:00:00", died=True),
        _adm(S2, D, "2180-02-01 10:00:00", "2180-02-06 10:00:00"),
        _adm(S3, F, "2180-05-01 10:00:00", "2180-05-05 10:00:00", kind="MYSTERY"),
        _adm(S3, G, "2180-06-01 12:00:00", "2180-06-04 12:00:00", kind="URGENT"),
        _adm(S3, G, "2180-06-01 12:00:00", "2180-06-04 12:00:00", kind="URGENT"),
        _adm(10000099, H, "2180-06-01 12:00:00", "2180-06-09 12:00:00"),
    ]
    pd.DataFrame(rows).to_csv(root / ADMISSIONS, **gz)
    labs = [
        _lab(S1, None, 50813, "2180-01-01 06:00:00", "2180-01-01 06:30:00", 2.0),  # ED, before admission
        _lab(S1, A, 50813, "2180-01-01 20:00:00", "2180-01-01 21:00:00", 3.0),
        _lab(S1, A, 50912, "2180-01-01 20:00:00", "2180-01-01 21:00:00", 1.5),
        _lab(S1, A, 50813, "2180-01-03 07:30:00", "2180-01-03 09:00:00", 9.0),  # resulted after prediction
        _lab(S1, A, 50813, "2180-01-04 07:30:00", "2180-01-04 08:00:00", 12.0),  # after prediction
        _lab(S1, A, 50912, "2180-01-05 07:30:00", "2180-01-05 08:00:00", 6.0),  # after prediction
        _lab(S3, G, 50983, "2180-06-01 14:00:00", "2180-06-01 15:00:00", 140.0),
    ]
    pd.DataFrame(labs).to_csv(root / LABEVENTS, **gz)
    pd.DataFrame(
        [[50813, "Lactate", "Blood", "Blood Gas"]], columns=["itemid", "label", "fluid", "category"]
    ).to_csv(root / "mimiciv/2.2/hosp/d_labitems.csv.gz", **gz)
    charts = [
        _chart(A, 220045, "2180-01-01 10:00:00", 100.0),
        _chart(A, 220045, "2180-01-01 12:00:00", 0.0),  # implausible: dropped
        _chart(A, 220045, "2180-01-03 10:00:00", 150.0),  # after prediction
        _chart(A, 223761, "2180-01-01 10:00:00", 98.6),  # Fahrenheit
    ]
    pd.DataFrame(charts).to_csv(root / CHARTEVENTS, **gz)
    pd.DataFrame(
        [[S1, A, 30000001, "MICU", "MICU", "2180-01-01 09:00:00", "2180-01-03 09:00:00", 2.0]],
        columns=[
            "subject_id",
            "hadm_id",
            "stay_id",
            "first_careunit",
            "last_careunit",
            "intime",
            "outtime",
            "los",
        ],
    ).to_csv(root / ICUSTAYS, **gz)
    cxr = [  # dicom, subject, study, view, date, time
        ("d1-pa", S1, 50000001, "PA", "21800101", "90000.000"),
        ("d1-lat", S1, 50000001, "LATERAL", "21800101", "90040.000"),
        ("d2-ap", S1, 50000002, "AP", "21800102", "150000.123"),
        ("d3-ap", S1, 50000003, "AP", "21800104", "80000.000"),  # after prediction
        ("d4-ap", S3, 50000004, "AP", "21800605", "80000.000"),  # G: after prediction
    ]
    meta = pd.DataFrame(
        cxr, columns=["dicom_id", "subject_id", "study_id", "ViewPosition", "StudyDate", "StudyTime"]
    )
    meta.insert(3, "PerformedProcedureStepDescription", "CHEST (PORTABLE AP)")
    (root / CXR).mkdir(parents=True)
    meta.to_csv(root / CXR_METADATA, **gz)
    for dicom, subject, study, *_ in cxr:
        path = root / CXR / f"files/p{str(subject)[:2]}/p{subject}/s{study}/{dicom}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((48, 40), 100 + len(dicom), np.uint8)).save(path)
    ecg_rows = []
    for study, when in (
        (40000001, "2180-01-01 07:00:00"),
        (40000002, "2180-01-02 20:00:00"),
        (40000003, "2180-01-03 12:00:00"),
    ):
        rel = f"files/p{str(S1)[:4]}/p{S1}/s{study}"
        (root / ECG / rel).mkdir(parents=True)
        signal = np.sin(np.arange(5000)[:, None] / 50.0 + np.arange(12)) * (study % 10)
        write_wfdb_mimic(root / ECG / rel, study, signal, datetime.strptime(when, "%Y-%m-%d %H:%M:%S"))
        ecg_rows.append([S1, study, str(study), when, f"{rel}/{study}"])
    pd.DataFrame(ecg_rows, columns=["subject_id", "study_id", "file_name", "ecg_time", "path"]).to_csv(
        root / ECG_RECORDS, index=False
    )
    return root


@pytest.fixture
def root(tmp_path) -> Path:
    return write_fixture(tmp_path / "mimic")


def _split(items):
    items = list(items)
    records = {r.record_id: r for r in items if isinstance(r, RawRecord)}
    rejected = {r.record_id: r for r in items if isinstance(r, Rejected)}
    return records, rejected


def test_registry_options_and_targets():
    assert get("mimic4") is MIMIC4 and get("mimic4_cxr") is MIMIC4CXR and get("mimic4_ecg") is MIMIC4ECG
    assert (MIMIC4.modality, MIMIC4CXR.modality, MIMIC4ECG.modality) == ("ehr", "image2d", "ecg")
    assert MIMIC4.task == "binary" and MIMIC4.classes == ("in_hospital_mortality_48h",)
    los = MIMIC4(Mimic4Options(target="los"))
    assert los.task == "regression" and los.classes == ("length_of_stay_days",)
    assert MIMIC4CXR(Mimic4Options(target="los")).task == "regression"
    assert MIMIC4.task == "binary", "an instance's option must not change the class"
    with pytest.raises(ValidationError):
        Mimic4Options(target="mortality")
    with pytest.raises(ValidationError):
        Mimic4Options.model_validate({"target": "los", "hours": 24})


def test_cohort_rules_and_targets(root):
    records, rejected = _split(MIMIC4().index(root))
    assert set(records) == {str(A), str(G)}
    rules = {k: r.rule for k, r in rejected.items()}
    assert rules == {
        str(B): "ended_before_prediction",
        str(C): "ended_before_prediction",
        str(D): "under_18",
        str(F): "unknown_admission_type",
        str(G): "duplicate_record",
        str(H): "unknown_patient",
    }
    assert "was discharged 30.0 h" in rejected[str(B)].message
    assert "died 40.0 h" in rejected[str(C)].message and "48 h" in rejected[str(C)].message
    assert records[str(A)].target == (1.0,) and records[str(G)].target == (0.0,)
    assert records[str(A)].patient_id == str(S1) and records[str(A)].split is None
    assert records[str(A)].files[0] == f"{ADMISSIONS}#hadm_id={A}" and LABEVENTS in records[str(A)].files
    assert records[str(A)].meta["age"] == 70.0 and records[str(G)].meta["age"] == 52.0
    los, _ = _split(MIMIC4(Mimic4Options(target="los")).index(root))
    assert los[str(A)].target == (5.0,) and los[str(G)].target == (3.0,)
    # a shorter observation window admits B (30 h) but not C (died at 40 h) with 42 h
    short = {
        a.hadm_id for a in cohort(root, Mimic4Options(observation_hours=24)) if not isinstance(a, Rejected)
    }
    assert {A, B, C, G} <= short
    assert C not in {
        a.hadm_id for a in cohort(root, Mimic4Options(observation_hours=42)) if not isinstance(a, Rejected)
    }


def test_features_use_only_data_available_before_prediction(root):
    spec = MIMIC4()
    records, _ = _split(spec.index(root))
    vec, props = spec.decode(root, records[str(A)])
    f = dict(zip(FEATURES, vec, strict=True))
    assert vec.shape == (len(FEATURES),) and np.isfinite(vec).all()
    # lactate: ED 2.0 (before admission, no hadm_id) + 3.0; not the late-resulted 9.0 nor the 12.0 after
    assert (f["lactate_last"], f["lactate_mean"], f["lactate_min"], f["lactate_max"]) == (3.0, 2.5, 2.0, 3.0)
    assert f["creatinine_last"] == 1.5 and f["creatinine_max"] == 1.5
    assert f["heart_rate_max"] == 100.0 and f["heart_rate_missing"] == 0.0  # 0 bpm dropped, 150 is after
    assert f["temperature_last"] == pytest.approx(37.0)
    assert f["glucose_missing"] == 1.0 and f["glucose_last"] == 110.0  # imputed normal value
    assert f["age"] == 70.0 and f["female"] == 0.0 and f["admission_emergency"] == 1.0 and f["icu"] == 1.0
    assert props["meta"]["n_implausible_dropped"] == 1

    # rewriting every row charted or resulted after the prediction time does not change the features ...
    labs = pd.read_csv(root / LABEVENTS)
    late = (pd.to_datetime(labs["storetime"]) >= pd.Timestamp("2180-01-03 08:00:00")) & (
        labs["subject_id"] == S1
    )
    assert late.sum() == 3
    labs.loc[late, "valuenum"] = 25.0
    labs.to_csv(root / LABEVENTS, index=False, compression="gzip")
    charts = pd.read_csv(root / CHARTEVENTS)
    charts.loc[pd.to_datetime(charts["charttime"]) >= pd.Timestamp("2180-01-03 08:00:00"), "valuenum"] = 250.0
    charts.to_csv(root / CHARTEVENTS, index=False, compression="gzip")
    again, _ = MIMIC4().decode(root, records[str(A)])
    np.testing.assert_array_equal(again, vec)
    # ... while a row before it does
    labs.loc[len(labs)] = labs.iloc[1].to_dict() | {
        "charttime": "2180-01-02 10:00:00",
        "storetime": "2180-01-02 11:00:00",
        "valuenum": 7.0,
    }
    labs.to_csv(root / LABEVENTS, index=False, compression="gzip")
    changed, _ = MIMIC4().decode(root, records[str(A)])
    assert dict(zip(FEATURES, changed, strict=True))["lactate_last"] == 7.0


def test_text_summary_is_phi_free(root):
    spec = MIMIC4()
    records, _ = _split(spec.index(root))
    text = spec.decode(root, records[str(A)])[1]["meta"]["text"]
    parts = text.split(" | ")
    assert [p.split(":")[0] for p in parts] == ["demographics", "admission", "latest labs", "latest vitals"]
    assert (
        "70-year-old male" in parts[0] and "lactate 3 mmol/L" in parts[2] and "heart rate 100 bpm" in parts[3]
    )
    assert not re.search(r"\d{4}-\d{2}-\d{2}|2180|Expired|DIED|" + str(S1), text)
    g_text = spec.decode(root, records[str(G)])[1]["meta"]["text"]
    assert "ICU: no" in g_text and "sodium 140 mEq/L" in g_text and "latest vitals: none" in g_text


def test_cxr_entry_picks_last_frontal_before_prediction(root):
    spec = MIMIC4CXR()
    records, rejected = _split(spec.index(root))
    assert set(records) == {str(A)}, "G has only a CXR after the prediction time: not a record, not an error"
    assert str(G) not in rejected or rejected[str(G)].rule == "duplicate_record"
    rec = records[str(A)]
    assert rec.files == (f"{CXR}/files/p10/p{S1}/s50000002/d2-ap.jpg",)
    assert rec.meta["view"] == "AP" and rec.meta["hours_before_prediction"] == pytest.approx(17.0, abs=0.01)
    img, props = spec.decode(root, rec)
    assert img.shape == (48, 40) and img.dtype == np.uint8 and props["sampling_rate"] is None
    (root / rec.files[0]).unlink()
    _, rejected = _split(spec.index(root))
    assert rejected[str(A)].rule == "missing_file" and "d2-ap.jpg" in rejected[str(A)].message


def test_cxr_entry_prefers_frontal_view_of_the_study(root):
    meta = pd.read_csv(root / CXR_METADATA)
    meta = meta[~meta["dicom_id"].isin(["d2-ap"])]  # last study before prediction is now PA + lateral
    meta.to_csv(root / CXR_METADATA, index=False, compression="gzip")
    records, _ = _split(MIMIC4CXR().index(root))
    assert records[str(A)].files[0].endswith("s50000001/d1-pa.jpg")


def test_ecg_entry_picks_last_before_prediction_and_reports_bad_files(root):
    spec = MIMIC4ECG()
    records, _ = _split(spec.index(root))
    assert set(records) == {str(A)}
    rec = records[str(A)]
    assert rec.files == (
        f"{ECG}/files/p1000/p{S1}/s40000002/40000002.hea",
        f"{ECG}/files/p1000/p{S1}/s40000002/40000002.dat",
    )
    sig, props = spec.decode(root, rec)
    assert sig.shape == (5000, 12) and props["sampling_rate"] == 500.0
    assert props["lead_names"][3:6] == ["aVR", "aVF", "aVL"]
    np.testing.assert_allclose(sig[:, 0], np.sin(np.arange(5000) / 50.0) * 2, atol=0.005)
    dat = root / rec.files[1]
    dat.write_bytes(dat.read_bytes()[:100])
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "corrupt_wfdb"


def test_three_entries_join_on_hadm_id(root):
    ehr, _ = _split(MIMIC4().index(root))
    for spec in (MIMIC4CXR(), MIMIC4ECG()):
        other, _ = _split(spec.index(root))
        assert other and set(other) <= set(ehr)
        for rid, rec in other.items():
            assert (rec.patient_id, rec.target, rec.split) == (
                ehr[rid].patient_id,
                ehr[rid].target,
                ehr[rid].split,
            )


def test_decode_rejects_admission_outside_cohort(root):
    spec = MIMIC4()
    records, _ = _split(spec.index(root))
    ghost = RawRecord(str(B), str(S3), records[str(A)].files, (0.0,), "")
    with pytest.raises(RecordError) as err:
        spec.decode(root, ghost)
    assert err.value.rule == "unknown_admission"
