"""A small deterministic MIMIC-IV v2.2 copy with linked MIMIC-CXR-JPG and MIMIC-IV-ECG subsets (real layouts).

Each admission has a latent severity ``s`` (older and emergency patients are sicker) and a deterioration ``d``
(how the first 48 h evolve). Labs and ICU vitals are drawn from them with measurement noise: lactate,
creatinine, urea, WBC, glucose and potassium rise and bicarbonate, hemoglobin, platelets and blood pressure fall
with ``s``; heart and respiratory rate climb and SpO2 falls over the first 48 h with ``d``. In-hospital death
follows ``s``, ``d`` and age (logistic, ~15% of the cohort); the length of stay grows with ``s`` and ``d``.
Lactate is measured more often in sick patients (informative missingness); vitals exist only for ICU stays
(more likely when sick); a few charted values are implausible (dropped by the reader); temperatures are in
Celsius or Fahrenheit.

Leakage traps: labs keep being drawn after the prediction time (admission + 48 h) and there they reveal the
outcome (lactate and creatinine soar before a death, normalize before a discharge), one lab per admission is
charted just before the prediction time but stored (resulted) after it, and discharge notes and ICD codes
(written at discharge) state the outcome. A reader that uses any of them scores far too well.

About 7% of the admissions end (discharge or death) within 48 h and fall outside the IHM cohort. About 70%
have chest X-rays (drawn by :func:`climbflow.sampledata.mimic_cxr.write_cxr_studies`: oedema, effusion,
opacity with severity, support devices in the ICU) and 65% ECGs (beats from the real pydicom ECG via
:mod:`climbflow.sampledata.ptbxl`: tachycardia, atrial fibrillation and ST depression with severity), taken at
times that fall before or after the prediction time. ``shuffle_labels`` permutes the outcomes (death, length
of stay) across the admissions that stay more than 48 h (negative control).
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from climbflow.catalog.mimic4 import (
    ADMISSIONS,
    CHARTEVENTS,
    CXR,
    D_LABITEMS,
    ECG,
    ECG_RECORDS,
    ICUSTAYS,
    LABEVENTS,
    PATIENTS,
)
from climbflow.modalities.ehr import MEASUREMENTS, Measurement

if TYPE_CHECKING:
    from climbflow.sampledata.mimic_cxr import CxrStudy

logger = logging.getLogger(__name__)

TIME = "%Y-%m-%d %H:%M:%S"
OBSERVATION_H = 48.0
EARLY_EXIT = 0.07  # admissions ending before 48 h (outside the IHM cohort)
CXR_FRACTION, ECG_FRACTION, TWO_ADMISSIONS = 0.7, 0.65, 0.2
ADMISSION_TYPES = (
    ("EW EMER.", 0.5),
    ("URGENT", 0.13),
    ("ELECTIVE", 0.1),
    ("OBSERVATION ADMIT", 0.1),
    ("DIRECT EMER.", 0.07),
    ("SURGICAL SAME DAY ADMISSION", 0.05),
    ("EU OBSERVATION", 0.05),
)
EMERGENCY = {"EW EMER.", "DIRECT EMER.", "URGENT", "EU OBSERVATION"}
LAB_ITEMS: dict[int, tuple[str, str, str]] = {  # d_labitems: itemid -> label, fluid, category
    50813: ("Lactate", "Blood", "Blood Gas"),
    50912: ("Creatinine", "Blood", "Chemistry"),
    51006: ("Urea Nitrogen", "Blood", "Chemistry"),
    50971: ("Potassium", "Blood", "Chemistry"),
    50983: ("Sodium", "Blood", "Chemistry"),
    50882: ("Bicarbonate", "Blood", "Chemistry"),
    50931: ("Glucose", "Blood", "Chemistry"),
    51301: ("White Blood Cells", "Blood", "Hematology"),
    51222: ("Hemoglobin", "Blood", "Hematology"),
    51265: ("Platelet Count", "Blood", "Hematology"),
    50861: ("Alanine Aminotransferase (ALT)", "Blood", "Chemistry"),  # not a feature
}
CHART_ITEMS: dict[int, tuple[str, str, str]] = {  # d_items: itemid -> label, abbreviation, unit
    220045: ("Heart Rate", "HR", "bpm"),
    220050: ("Arterial Blood Pressure systolic", "ABPs", "mmHg"),
    220179: ("Non Invasive Blood Pressure systolic", "NBPs", "mmHg"),
    220210: ("Respiratory Rate", "RR", "insp/min"),
    220277: ("O2 saturation pulseoxymetry", "SpO2", "%"),
    223761: ("Temperature Fahrenheit", "Temperature F", "°F"),
    223762: ("Temperature Celsius", "Temperature C", "°C"),
}
ICD_CODES = {
    "severe": ["A419", "R6521", "J9601", "N179"],
    "any": ["I10", "E119", "J189", "I509", "K219", "E785"],
}
ICUSTAY_COLUMNS = (
    "subject_id",
    "hadm_id",
    "stay_id",
    "first_careunit",
    "last_careunit",
    "intime",
    "outtime",
    "los",
)
MIMIC_LEADS = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
_PTBXL_TO_MIMIC = [0, 1, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11]  # ptbxl order I II III AVR AVL AVF V1..V6


@dataclass
class _Admission:
    subject: int
    hadm: int
    admit: datetime
    age: float
    kind: str
    sev: float
    det: float
    died: bool
    los_h: float
    ed: datetime | None = None
    icu_in: datetime | None = None
    extra: dict = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.admit + timedelta(hours=self.los_h)

    @property
    def start(self) -> datetime:
        return self.ed or self.admit


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _physiology(m: Measurement, a: _Admission, hours: float, rng: np.random.Generator, base: float) -> float:
    """One observed value of ``m`` ``hours`` after admission (``base``: the patient's own offset)."""
    s, d = a.sev, a.det
    frac = min(hours, OBSERVATION_H) / OBSERVATION_H
    after = max(0.0, hours - OBSERVATION_H) / 24.0  # days after the prediction time: the outcome shows
    doom = (1.0 if a.died else -0.6) * min(after, 2.0)
    noise = rng.normal()
    match m.name:
        case "lactate":
            return 1.1 * np.exp(0.45 * s + 0.25 * d * frac + 0.45 * doom + base + 0.12 * noise)
        case "creatinine":
            return 0.9 * np.exp(0.35 * s + 0.1 * d * frac + 0.3 * doom + base + 0.08 * noise)
        case "bun":
            return 15.0 * np.exp(0.4 * s + 0.25 * doom + base + 0.1 * noise)
        case "potassium":
            return 4.2 + 0.2 * s + 0.3 * base + 0.2 * noise
        case "sodium":
            return 139.0 - 1.0 * s + 3.0 * base + 1.5 * noise
        case "bicarbonate":
            return 24.0 - 2.0 * s - 1.0 * d * frac - 2.0 * doom + 2.0 * base + noise
        case "glucose":
            return 120.0 * np.exp(0.2 * s + base + 0.15 * noise)
        case "wbc":
            return 8.0 * np.exp(0.3 * s + base + 0.1 * noise)
        case "hemoglobin":
            return 12.0 - 0.6 * s + 1.5 * base + 0.4 * noise
        case "platelets":
            return 220.0 * np.exp(-0.2 * s + base + 0.08 * noise)
        case "heart_rate":
            return 80.0 + 9.0 * s + 10.0 * d * frac + 12.0 * doom + 8.0 * base + 5.0 * noise
        case "sbp":
            return 122.0 - 8.0 * s - 4.0 * d * frac - 10 * doom + 12.0 * base + 8.0 * noise
        case "resp_rate":
            return 16.0 + 2.5 * s + 2.5 * d * frac + 3 * doom + 2.0 * base + 2.0 * noise
        case "spo2":
            return float(np.clip(97.0 - 1.0 * s - 2.0 * d * frac - 3 * doom + base + 0.8 * noise, 70, 100))
        case "temperature":
            return 37.0 + 0.3 * s + 0.3 * base + 0.25 * noise
    raise KeyError(m.name)


def _fmt(t: datetime) -> str:
    return t.strftime(TIME)


def _write_gz(path: Path, frame: pd.DataFrame) -> None:
    """CSV.gz as PhysioNet ships it; no timestamp in the gzip header, so the bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.to_csv(index=False, lineterminator="\n")
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(text.encode("utf-8"))


def _admissions(rng: np.random.Generator, n: int) -> tuple[list[dict], list[_Admission]]:
    patients: list[dict] = []
    admissions: list[_Admission] = []
    subjects = rng.choice(np.arange(10_000_000, 19_999_999), size=n, replace=False)
    hadms = rng.choice(np.arange(20_000_000, 29_999_999), size=n, replace=False)
    kinds, probs = zip(*ADMISSION_TYPES, strict=True)
    i = 0
    while len(admissions) < n:
        subject = int(subjects[i])
        i += 1
        anchor_year, anchor_age = int(rng.integers(2110, 2190)), int(np.clip(rng.normal(64, 17), 18, 91))
        patient = {
            "subject_id": subject,
            "gender": "F" if rng.random() < 0.47 else "M",
            "anchor_age": anchor_age,
            "anchor_year": anchor_year,
            "anchor_year_group": str(
                rng.choice(["2008 - 2010", "2011 - 2013", "2014 - 2016", "2017 - 2019"])
            ),
            "dod": "",
        }
        patients.append(patient)
        t = datetime(anchor_year, 1, 1) + timedelta(minutes=int(rng.integers(0, 2 * 365 * 24 * 60)))
        for _ in range(2 if rng.random() < TWO_ADMISSIONS and len(admissions) + 1 < n else 1):
            age = anchor_age + t.year - anchor_year
            kind = str(rng.choice(kinds, p=probs))
            sev = float(rng.normal() + 0.025 * (age - 64) + (0.35 if kind in EMERGENCY else -0.3))
            det = float(rng.normal())
            died = rng.random() < _sigmoid(-2.6 + 1.1 * sev + 0.9 * det + 0.02 * (age - 64))
            if rng.random() < EARLY_EXIT:
                los_h = float(rng.uniform(6, 46))
                died = died and rng.random() < 0.3
            elif died:
                los_h = OBSERVATION_H + float(rng.gamma(2.0, 48.0)) + 1.0
            else:
                los_h = 24.0 * (2.05 + float(np.exp(0.6 + 0.45 * sev + 0.25 * det + rng.normal(0, 0.35))))
            a = _Admission(
                subject, int(hadms[len(admissions)]), t, float(age), kind, sev, det, bool(died), los_h
            )
            if kind in EMERGENCY:
                a.ed = t - timedelta(minutes=int(rng.integers(90, 480)))
            if rng.random() < _sigmoid(1.3 * sev - 0.4):
                a.icu_in = t + timedelta(minutes=int(rng.integers(0, 18 * 60)))
            admissions.append(a)
            if a.died:
                patient["dod"] = (a.end).strftime("%Y-%m-%d")
                break
            t = a.end + timedelta(days=int(rng.integers(20, 400)))
    return patients, admissions


def _labs(rng: np.random.Generator, a: _Admission, rows: list[dict]) -> None:
    """Lab draws every 8-16 h from the ED/admission to discharge (at most 3 days past the prediction time)."""
    stop = min(a.end, a.admit + timedelta(hours=OBSERVATION_H + 72))
    base = {m.name: rng.normal(0, 0.15) for m in MEASUREMENTS}
    has_lactate = rng.random() < 0.3 + 0.6 * _sigmoid(1.5 * a.sev - 0.5)
    t = a.start + timedelta(minutes=int(rng.integers(10, 120)))
    prediction = a.admit + timedelta(hours=OBSERVATION_H)
    draws = []
    while t < stop:
        draws.append(t)
        t += timedelta(minutes=int(rng.integers(8 * 60, 16 * 60)))
    trap = prediction - timedelta(minutes=int(rng.integers(10, 50)))
    for k, when in enumerate([*draws, trap] if trap < stop and trap > a.start else draws):
        late_result = when == trap and k == len(draws)
        specimen = int(rng.integers(1, 99_999_999))
        for m in MEASUREMENTS:
            if m.source != "lab" or (m.name == "lactate" and not has_lactate) or rng.random() < 0.05:
                continue
            hours = (when - a.admit).total_seconds() / 3600
            value = _physiology(m, a, hours + (72.0 if late_result else 0.0), rng, base[m.name])
            itemid = next(iter(m.itemids))
            stored = when + timedelta(minutes=int(rng.integers(30, 180)))
            if late_result:
                stored = prediction + timedelta(minutes=int(rng.integers(20, 120)))
            rows.append(_lab_row(a, when, stored, itemid, value, specimen, m.unit, hadm=when >= a.admit))
        if rng.random() < 0.3:  # a lab that is not a feature
            rows.append(
                _lab_row(a, when, when + timedelta(hours=1), 50861, rng.uniform(10, 80), specimen, "IU/L")
            )


def _lab_row(
    a: _Admission,
    when: datetime,
    stored: datetime,
    itemid: int,
    value: float,
    specimen: int,
    unit: str,
    hadm: bool = True,
) -> dict:
    v = round(float(value), 1 if value >= 10 else 2)
    return {
        "subject_id": a.subject,
        "hadm_id": a.hadm if hadm else None,  # ED draws before admission carry no hadm_id
        "specimen_id": specimen,
        "itemid": itemid,
        "order_provider_id": "",
        "charttime": _fmt(when),
        "storetime": _fmt(stored),
        "value": f"{v:g}",
        "valuenum": v,
        "valueuom": unit,
        "ref_range_lower": None,
        "ref_range_upper": None,
        "flag": "",
        "priority": "STAT" if a.kind in EMERGENCY else "ROUTINE",
        "comments": "",
    }


def _vitals(rng: np.random.Generator, a: _Admission, stay_id: int, rows: list[dict]) -> datetime:
    """ICU vitals every 2 h (temperature every 4 h) to ICU discharge; returns the ICU out time."""
    assert a.icu_in is not None
    out = min(a.end, a.icu_in + timedelta(hours=float(rng.uniform(30, 150))))
    stop = min(out, a.admit + timedelta(hours=OBSERVATION_H + 24))
    base = {m.name: rng.normal(0, 0.15) for m in MEASUREMENTS}
    arterial, fahrenheit = rng.random() < 0.3, rng.random() < 0.6
    t, k = a.icu_in + timedelta(minutes=int(rng.integers(5, 60))), 0
    while t < stop:
        hours = (t - a.admit).total_seconds() / 3600
        for m in MEASUREMENTS:
            if m.source != "vital" or (m.name == "temperature" and k % 2) or rng.random() < 0.04:
                continue
            value = _physiology(m, a, hours, rng, base[m.name])
            itemid = next(iter(m.itemids))
            if m.name == "sbp" and arterial:
                itemid = 220050
            if m.name == "temperature" and fahrenheit:
                itemid, value = 223761, value * 9 / 5 + 32
            if m.name == "heart_rate" and rng.random() < 0.01:
                value = 0.0  # lead off: an implausible value the reader drops
            v = round(float(value), 1)
            rows.append(
                {
                    "subject_id": a.subject,
                    "hadm_id": a.hadm,
                    "stay_id": stay_id,
                    "caregiver_id": int(rng.integers(1000, 99999)),
                    "charttime": _fmt(t),
                    "storetime": _fmt(t + timedelta(minutes=int(rng.integers(1, 40)))),
                    "itemid": itemid,
                    "value": f"{v:g}",
                    "valuenum": v,
                    "valueuom": CHART_ITEMS[itemid][2],
                    "warning": 0,
                }
            )
        t += timedelta(hours=2)
        k += 1
    return out


def _cxr_studies(rng: np.random.Generator, a: _Admission) -> list[tuple[datetime, frozenset[str]]]:
    if rng.random() >= CXR_FRACTION:
        return []
    stop = min(a.end, a.admit + timedelta(hours=OBSERVATION_H + 48))
    times = [a.start + timedelta(minutes=int(rng.integers(20, 20 * 60)))]
    for _ in range(int(rng.integers(0, 3))):
        times.append(a.start + (stop - a.start) * float(rng.random()))
    out = []
    for t in sorted(x for x in times if x < stop):
        hours = (t - a.admit).total_seconds() / 3600
        worse = a.sev + a.det * min(hours, OBSERVATION_H) / OBSERVATION_H
        found = set()
        for name, shift in (
            ("Edema", 1.2),
            ("Pleural Effusion", 1.0),
            ("Lung Opacity", 0.5),
            ("Consolidation", 1.5),
        ):
            if rng.random() < _sigmoid(1.4 * worse - shift - 1.0):
                found.add(name)
        if a.icu_in is not None and t > a.icu_in and rng.random() < 0.75:
            found.add("Support Devices")
        if rng.random() < 0.1 + 0.1 * (a.age > 70):
            found.add("Cardiomegaly")
        out.append((t, frozenset(found)))
    return out


def _ecgs(rng: np.random.Generator, a: _Admission) -> list[tuple[datetime, set[str]]]:
    if rng.random() >= ECG_FRACTION:
        return []
    stop = min(a.end, a.admit + timedelta(hours=OBSERVATION_H + 48))
    times = [a.start + timedelta(minutes=int(rng.integers(5, 12 * 60)))]
    if rng.random() < 0.5:
        times.append(a.start + (stop - a.start) * float(rng.random()))
    out = []
    for t in sorted(x for x in times if x < stop):
        frac = min((t - a.admit).total_seconds() / 3600, OBSERVATION_H) / OBSERVATION_H
        worse = a.sev + a.det * frac
        codes = {"SR"}
        if rng.random() < _sigmoid(1.5 * worse - 2.0):
            codes = {"AFIB"} if rng.random() < 0.35 else {"STACH"}
        if rng.random() < _sigmoid(1.2 * worse - 1.8):
            codes.add("ISC_")
        out.append((t, codes if codes - {"SR"} else {"NORM", "SR"}))
    return out


def write_wfdb_mimic(directory: Path, study: int, signal: np.ndarray, when: datetime) -> None:
    """(5000, 12) mV in :data:`MIMIC_LEADS` order -> ``<study>.{hea,dat}``: the bytes ``wfdb.wrsamp`` writes
    with ``fmt=['16']*12, adc_gain=[200.]*12, baseline=[0]*12`` and the base time/date (checked by the tests)
    without its per-call overhead."""
    digital = np.clip(np.round(signal * 200.0), -32767, 32767).astype("<i2")
    checksums = digital.astype(np.int64).sum(axis=0) % 65536
    lines = [f"{study} 12 500 {digital.shape[0]} {when:%H:%M:%S} {when:%d/%m/%Y}"]
    lines += [
        f"{study}.dat 16 200.0(0)/mV 16 0 {digital[0, ch]} {checksums[ch]} 0 {name}"
        for ch, name in enumerate(MIMIC_LEADS)
    ]
    (directory / f"{study}.hea").write_text("\n".join(lines) + "\n", encoding="ascii")
    (directory / f"{study}.dat").write_bytes(digital.tobytes())


def _write_ecgs(root: Path, seed: int, jobs: list[tuple[_Admission, int, datetime, set[str]]]) -> list[dict]:
    from climbflow.sampledata import ptbxl

    rows, templates = [], {}
    for a, study, when, codes in jobs:
        if a.subject not in templates:
            patient = ptbxl.new_patient(np.random.default_rng([seed, 60, a.subject]), a.subject)
            templates[a.subject] = (ptbxl.patient_template(patient), patient.early_repol)
        parts, early_repol = templates[a.subject]
        x = ptbxl.synthesize(np.random.default_rng([seed, 61, study]), parts, codes, early_repol)
        sub = str(a.subject)
        rel = f"files/p{sub[:4]}/p{sub}/s{study}"
        directory = root / ECG / rel
        directory.mkdir(parents=True, exist_ok=True)
        write_wfdb_mimic(directory, study, x[_PTBXL_TO_MIMIC].T, when)
        rows.append(
            {
                "subject_id": a.subject,
                "study_id": study,
                "file_name": str(study),
                "ecg_time": _fmt(when),
                "path": f"{rel}/{study}",
            }
        )
    return rows


def _note(a: _Admission, sex: str) -> str:
    outcome = "Expired" if a.died else "Home With Service"
    condition = "Deceased." if a.died else "Mental Status: Clear and coherent. Activity Status: Ambulatory."
    return (
        "Name:  ___                     Unit No:   ___\n \nAdmission Date:  ___              Discharge Date:   ___\n"
        f" \nDate of Birth:  ___             Sex:   {sex}\n \nService: MEDICINE\n \nAllergies: \nNo Known Allergies\n"
        " \nAttending: ___.\n \nChief Complaint:\ndyspnea\n \nBrief Hospital Course:\n"
        f"Mr./Ms. ___ was admitted ({a.kind}) and treated. \n \nDischarge Disposition:\n{outcome}\n \n"
        f"Discharge Condition:\n{condition}\n \nFollowup Instructions:\n___\n"
    )


CHART_COLUMNS = [
    "subject_id",
    "hadm_id",
    "stay_id",
    "caregiver_id",
    "charttime",
    "storetime",
    "itemid",
    "value",
    "valuenum",
    "valueuom",
    "warning",
]
D_ITEMS_COLUMNS = [
    "itemid",
    "label",
    "abbreviation",
    "linksto",
    "category",
    "unitname",
    "param_type",
    "lownormalvalue",
    "highnormalvalue",
]
NOTE_COLUMNS = ["note_id", "subject_id", "hadm_id", "note_type", "note_seq", "charttime", "storetime", "text"]
ECG_RECORD_COLUMNS = ["subject_id", "study_id", "file_name", "ecg_time", "path"]


@dataclass
class _Tables:
    """Rows drawn for all admissions, written out at the end."""

    patients: list[dict]
    labs: list[dict] = field(default_factory=list)
    charts: list[dict] = field(default_factory=list)
    stays: list[list] = field(default_factory=list)
    admissions: list[dict] = field(default_factory=list)
    notes: list[list] = field(default_factory=list)
    dx: list[list] = field(default_factory=list)
    cxr_studies: list[CxrStudy] = field(default_factory=list)
    ecg_jobs: list[tuple[_Admission, int, datetime, set[str]]] = field(default_factory=list)


def write_mimic4(
    root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False, linked: bool = True
) -> Path:
    """Write ``n_records`` admissions (MIMIC-IV tables + linked CXR and ECG subsets) under ``root``.

    ``linked=False`` writes the MIMIC-IV tables only (the same tables; faster, for EHR-only tests).
    Same arguments -> byte-identical files. Returns ``root``.
    """
    if n_records < 2:
        raise ValueError(f"n_records must be >= 2, got {n_records}")
    root = Path(root)
    rng = np.random.default_rng([seed, 0])
    patients, admissions = _admissions(rng, n_records)
    if shuffle_labels:
        _shuffle_outcomes(admissions, seed)
    tables = _Tables(patients)
    sex_of = {p["subject_id"]: p["gender"] for p in patients}
    study_ids = iter(rng.choice(np.arange(50_000_000, 59_999_999), size=4 * n_records, replace=False))
    ecg_ids = iter(rng.choice(np.arange(40_000_000, 49_999_999), size=2 * n_records, replace=False))
    for a in admissions:
        _draw_admission(
            np.random.default_rng([seed, 1, a.hadm]), a, sex_of[a.subject], study_ids, ecg_ids, tables
        )
    _write_hosp(root, tables)
    _write_icu(root, tables)
    _write_gz(root / "mimiciv/2.2/note/discharge.csv.gz", pd.DataFrame(tables.notes, columns=NOTE_COLUMNS))
    if not linked:
        logger.info("wrote %d MIMIC-IV admissions (tables only) to %s", n_records, root)
        return root
    n_ecgs = _write_linked(root, seed, tables)
    logger.info(
        "wrote %d MIMIC-IV admissions (%d CXR studies, %d ECGs) to %s",
        n_records,
        len(tables.cxr_studies),
        n_ecgs,
        root,
    )
    return root


def _shuffle_outcomes(admissions: list[_Admission], seed: int) -> None:
    """Permute outcomes among the admissions that outlast the observation window (``extra["shuffled"]``)."""
    long = [a for a in admissions if a.los_h > OBSERVATION_H]
    outcomes = [(a.died, a.los_h) for a in long]
    order = np.random.default_rng([seed, 9]).permutation(len(long))
    for a, k in zip(long, order, strict=True):
        a.extra["shuffled"] = outcomes[k]


def _draw_admission(
    arng: np.random.Generator,
    a: _Admission,
    sex: str,
    study_ids: Iterator[int],
    ecg_ids: Iterator[int],
    tables: _Tables,
) -> None:
    """All rows of one admission: labs, ICU stay and vitals, CXR studies, ECGs, admission, note, diagnoses."""
    from climbflow.sampledata.mimic_cxr import CxrStudy

    _labs(arng, a, tables.labs)
    if a.icu_in is not None and a.icu_in < a.end:
        tables.stays.append(_icu_stay(arng, a, tables.charts))
    for when, found in _cxr_studies(arng, a):
        split = str(arng.choice(["train", "validate", "test"], p=[0.96, 0.02, 0.02]))
        tables.cxr_studies.append(CxrStudy(a.subject, int(next(study_ids)), when, split, found, False))
    for when, codes in _ecgs(arng, a):
        tables.ecg_jobs.append((a, int(next(ecg_ids)), when, codes))
    died, los_h = a.extra.get("shuffled", (a.died, a.los_h))
    end = a.admit + timedelta(hours=los_h)
    tables.admissions.append(_admission_row(arng, a, died, end))
    tables.notes.append(_note_row(arng, a, end, sex))
    tables.dx += _diagnoses(arng, a)


def _icu_stay(arng: np.random.Generator, a: _Admission, charts: list[dict]) -> list:
    """Draw the ICU vitals into ``charts``; returns the icustays row."""
    assert a.icu_in is not None
    stay_id = 30_000_000 + a.hadm % 10_000_000
    out = _vitals(arng, a, stay_id, charts)
    unit = str(arng.choice(["Medical Intensive Care Unit (MICU)", "Surgical Intensive Care Unit (SICU)"]))
    los = (out - a.icu_in).total_seconds() / 86400
    return [a.subject, a.hadm, stay_id, unit, unit, _fmt(a.icu_in), _fmt(out), round(los, 6)]


def _admission_row(arng: np.random.Generator, a: _Admission, died: bool, end: datetime) -> dict:
    return {
        "subject_id": a.subject,
        "hadm_id": a.hadm,
        "admittime": _fmt(a.admit),
        "dischtime": _fmt(end),
        "deathtime": _fmt(end) if died else "",
        "admission_type": a.kind,
        "admit_provider_id": f"P{int(arng.integers(10000, 99999))}",
        "admission_location": "EMERGENCY ROOM" if a.ed else "PHYSICIAN REFERRAL",
        "discharge_location": "DIED"
        if died
        else str(arng.choice(["HOME", "HOME HEALTH CARE", "SKILLED NURSING FACILITY"])),
        "insurance": str(arng.choice(["Medicare", "Medicaid", "Other"])),
        "language": "ENGLISH",
        "marital_status": str(arng.choice(["MARRIED", "SINGLE", "WIDOWED", "DIVORCED"])),
        "race": str(
            arng.choice(["WHITE", "BLACK/AFRICAN AMERICAN", "HISPANIC/LATINO - PUERTO RICAN", "ASIAN"])
        ),
        "edregtime": _fmt(a.ed) if a.ed else "",
        "edouttime": _fmt(a.admit) if a.ed else "",
        "hospital_expire_flag": int(died),
    }


def _note_row(arng: np.random.Generator, a: _Admission, end: datetime, sex: str) -> list:
    """The discharge note, charted at discharge and stored 1-30 h later."""
    seq = int(arng.integers(10, 40))
    stored = end + timedelta(hours=float(arng.uniform(1, 30)))
    return [f"{a.subject}-DS-{seq}", a.subject, a.hadm, "DS", seq, _fmt(end), _fmt(stored), _note(a, sex)]


def _diagnoses(arng: np.random.Generator, a: _Admission) -> list[list]:
    """1-3 ICD-10 codes, led by a severe one for sick or dying patients."""
    codes = list(arng.choice(ICD_CODES["any"], size=int(arng.integers(1, 4)), replace=False))
    if a.sev > 1.0 or a.died:
        codes.insert(0, str(arng.choice(ICD_CODES["severe"])))
    return [[a.subject, a.hadm, k + 1, c, 10] for k, c in enumerate(codes)]


def _write_hosp(root: Path, tables: _Tables) -> None:
    _write_gz(root / PATIENTS, pd.DataFrame(tables.patients))
    _write_gz(root / ADMISSIONS, pd.DataFrame(tables.admissions))
    lab_frame = pd.DataFrame(tables.labs)
    lab_frame.insert(0, "labevent_id", np.arange(1, len(lab_frame) + 1))
    lab_frame["hadm_id"] = lab_frame["hadm_id"].astype("Int64")
    _write_gz(root / LABEVENTS, lab_frame)
    labitems = [[k, *v] for k, v in LAB_ITEMS.items()]
    _write_gz(root / D_LABITEMS, pd.DataFrame(labitems, columns=["itemid", "label", "fluid", "category"]))
    _write_gz(
        root / "mimiciv/2.2/hosp/diagnoses_icd.csv.gz",
        pd.DataFrame(tables.dx, columns=["subject_id", "hadm_id", "seq_num", "icd_code", "icd_version"]),
    )


def _write_icu(root: Path, tables: _Tables) -> None:
    _write_gz(root / ICUSTAYS, pd.DataFrame(tables.stays, columns=list(ICUSTAY_COLUMNS)))
    _write_gz(root / CHARTEVENTS, pd.DataFrame(tables.charts, columns=CHART_COLUMNS))
    items = [
        [k, label, abbr, "chartevents", "Routine Vital Signs", unit, "Numeric", None, None]
        for k, (label, abbr, unit) in CHART_ITEMS.items()
    ]
    _write_gz(root / "mimiciv/2.2/icu/d_items.csv.gz", pd.DataFrame(items, columns=D_ITEMS_COLUMNS))


def _write_linked(root: Path, seed: int, tables: _Tables) -> int:
    """The linked MIMIC-CXR-JPG and MIMIC-IV-ECG subsets; returns the number of ECGs."""
    from climbflow.sampledata.mimic_cxr import write_cxr_studies

    write_cxr_studies(root / CXR, tables.cxr_studies, seed=seed)
    ecg_rows = _write_ecgs(root, seed, tables.ecg_jobs)
    (root / ECG_RECORDS).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(ecg_rows, columns=ECG_RECORD_COLUMNS).to_csv(
        root / ECG_RECORDS, index=False, lineterminator="\n"
    )
    return len(ecg_rows)
