"""MIMIC-IV (+ CXR + ECG) sample writer: real layout, determinism, outcome structure, leakage traps unused."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from climbflow.catalog.base import RawRecord, Rejected
from climbflow.catalog.mimic4 import (
    ADMISSIONS,
    CHARTEVENTS,
    CXR_METADATA,
    ECG_RECORDS,
    LABEVENTS,
    MIMIC4,
    MIMIC4CXR,
    MIMIC4ECG,
    Mimic4Options,
    build_features,
)
from climbflow.modalities.ehr import FEATURES, standardize_ehr
from climbflow.sampledata.mimic4 import MIMIC_LEADS, write_mimic4, write_wfdb_mimic


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def linked(tmp_path_factory) -> Path:
    return write_mimic4(tmp_path_factory.mktemp("m4") / "mimic", 16, seed=3)


def test_layout_and_linked_modalities(linked):
    for rel in (
        "mimiciv/2.2/hosp/patients.csv.gz",
        "mimiciv/2.2/hosp/admissions.csv.gz",
        "mimiciv/2.2/hosp/labevents.csv.gz",
        "mimiciv/2.2/hosp/d_labitems.csv.gz",
        "mimiciv/2.2/hosp/diagnoses_icd.csv.gz",
        "mimiciv/2.2/icu/icustays.csv.gz",
        "mimiciv/2.2/icu/chartevents.csv.gz",
        "mimiciv/2.2/icu/d_items.csv.gz",
        "mimiciv/2.2/note/discharge.csv.gz",
        CXR_METADATA,
        ECG_RECORDS,
        "mimic-cxr-jpg/2.0.0/mimic-cxr-2.0.0-chexpert.csv.gz",
        "mimic-cxr-jpg/2.0.0/mimic-cxr-2.0.0-split.csv.gz",
    ):
        assert (linked / rel).is_file(), rel
    adm = pd.read_csv(linked / ADMISSIONS)
    assert len(adm) == 16 and adm["hadm_id"].is_unique
    assert {"admittime", "dischtime", "deathtime", "hospital_expire_flag", "edregtime"} <= set(adm.columns)
    ecg = pd.read_csv(linked / ECG_RECORDS)
    assert list(ecg.columns) == ["subject_id", "study_id", "file_name", "ecg_time", "path"]
    assert ecg["path"].str.match(r"^files/p\d{4}/p\d{8}/s\d{8}/\d{8}$").all()
    cxr = pd.read_csv(linked / CXR_METADATA)
    assert cxr["StudyDate"].astype(str).str.match(r"^2\d{7}$").all()
    ehr = [r for r in MIMIC4().index(linked) if isinstance(r, RawRecord)]
    cxr_recs = [r for r in MIMIC4CXR().index(linked) if isinstance(r, RawRecord)]
    ecg_recs = [r for r in MIMIC4ECG().index(linked) if isinstance(r, RawRecord)]
    assert 0 < len(cxr_recs) < len(ehr) and 0 < len(ecg_recs) < len(ehr), "some admissions lack a CXR/ECG"
    signal, props = MIMIC4ECG().decode(linked, ecg_recs[0])
    assert signal.shape == (5000, 12) and props["lead_names"] == list(MIMIC_LEADS)
    assert 0.3 < np.abs(signal).max() < 10, "mV-scale ECG"
    img, _ = MIMIC4CXR().decode(linked, cxr_recs[0])
    assert img.ndim == 2 and min(img.shape) >= 256


def test_deterministic(linked, tmp_path):
    again = write_mimic4(tmp_path / "again", 16, seed=3)
    assert _digest(linked) == _digest(again)
    other = write_mimic4(tmp_path / "other", 16, seed=4, linked=False)
    assert (other / ADMISSIONS).read_bytes() != (linked / ADMISSIONS).read_bytes()


def test_ecg_files_are_what_wfdb_writes(tmp_path):
    import wfdb

    x = np.random.default_rng(0).normal(0, 0.6, (5000, 12))
    when = datetime(2180, 7, 23, 8, 44)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_wfdb_mimic(tmp_path / "a", 40689238, x, when)
    wfdb.wrsamp(
        "40689238",
        fs=500,
        units=["mV"] * 12,
        sig_name=list(MIMIC_LEADS),
        p_signal=x,
        fmt=["16"] * 12,
        adc_gain=[200.0] * 12,
        baseline=[0] * 12,
        base_time=when.time(),
        base_date=when.date(),
        write_dir=str(tmp_path / "b"),
    )
    for ext in ("hea", "dat"):
        assert (tmp_path / "a" / f"40689238.{ext}").read_bytes() == (
            tmp_path / "b" / f"40689238.{ext}"
        ).read_bytes()


def _features(root: Path, options: Mimic4Options | None = None, leaky: bool = False):
    spec = MIMIC4(options)
    items = list(spec.index(root))
    records = [r for r in items if isinstance(r, RawRecord)]
    tables = spec.tables(root)
    rows = []
    for r in records:
        vec, _ = spec.decode(root, r)
        if leaky:  # a builder that looks until discharge
            a = tables["admissions"][int(r.record_id)]
            labs, charts = (
                tables["labs"].get(a.subject_id, tables["empty"]),
                tables["charts"].get(a.hadm_id, tables["empty"]),
            )
            vec, _ = build_features(dataclasses.replace(a, prediction_time=a.dischtime), labs, charts, [])
        rows.append(standardize_ehr(vec, 5.0))
    y = np.array([r.target[0] for r in records])
    n_rejected = sum(isinstance(r, Rejected) for r in items)
    return np.array(rows), y, n_rejected


def _severity(x: np.ndarray) -> np.ndarray:
    f = FEATURES.index
    return (
        x[:, f("lactate_max")]
        + x[:, f("creatinine_max")]
        + x[:, f("bun_last")]
        - x[:, f("bicarbonate_min")]
        + x[:, f("age")]
    )


@pytest.fixture(scope="module")
def ehr_only(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("m4ehr")
    return (
        write_mimic4(base / "true", 120, seed=0, linked=False),
        write_mimic4(base / "shuffled", 120, seed=0, shuffle_labels=True, linked=False),
    )


def test_mortality_follows_physiology_and_shuffle_destroys_it(ehr_only):
    true_root, shuffled_root = ehr_only
    x, y, n_rejected = _features(true_root)
    assert 0.08 < y.mean() < 0.3 and n_rejected < 0.15 * 120, "IHM prevalence and cohort size as in MIMIC"
    assert roc_auc_score(y, _severity(x)) > 0.7
    xs, ys, _ = _features(shuffled_root)
    np.testing.assert_array_equal(xs, x)  # same admissions, same data: only the outcomes move
    assert sorted(ys) == sorted(y) and roc_auc_score(ys, _severity(xs)) < 0.6


def test_length_of_stay_grows_with_severity(ehr_only):
    x, los, _ = _features(ehr_only[0], Mimic4Options(target="los"))
    assert (los > 2.0).all() and np.corrcoef(_severity(x), np.log(los))[0, 1] > 0.3


def test_leakage_traps_exist_and_are_not_used(ehr_only):
    root = ehr_only[0]
    x, y, _ = _features(root)
    leak, _, _ = _features(root, leaky=True)
    f = FEATURES.index
    honest = roc_auc_score(y, x[:, f("lactate_last")] + x[:, f("creatinine_last")])
    leaky = roc_auc_score(y, leak[:, f("lactate_last")] + leak[:, f("creatinine_last")])
    assert leaky > 0.95 and honest < leaky - 0.1, (
        "post-prediction labs reveal the outcome; the reader skips them"
    )
    labs = pd.read_csv(root / LABEVENTS, parse_dates=["charttime", "storetime"])
    adm = pd.read_csv(root / ADMISSIONS, parse_dates=["admittime"]).set_index("hadm_id")
    pred = labs["hadm_id"].map(adm["admittime"]) + pd.Timedelta(hours=48)
    late_result = (labs["charttime"] < pred) & (labs["storetime"] >= pred)
    assert late_result.sum() >= 50, "labs charted before but resulted after the prediction time"
    charts = pd.read_csv(root / CHARTEVENTS, parse_dates=["charttime"])
    assert (charts["itemid"] == 223761).any() and (charts["valuenum"] == 0).any()
