"""MIMIC-IV v2.2 admissions with the linked MIMIC-CXR-JPG and MIMIC-IV-ECG: three per-admission entries.

One root holds ``mimiciv/2.2/{hosp,icu,note}/*.csv.gz``, ``mimic-cxr-jpg/2.0.0/`` and ``mimic-iv-ecg/1.0/``.
The three entries share the cohort, the record id (``hadm_id``), the patient id (``subject_id``; the hash split
is by patient, so an admission lands in the same split in all three stores) and the target:

* ``mimic4`` (ehr): the admission's feature vector (:data:`climbflow.modalities.ehr.FEATURES`: age, sex,
  admission type, ICU, last/mean/min/max + missingness of fixed labs and vitals) and a PHI-free text summary
  ``demographics | admission | latest labs | latest vitals`` in ``meta["text"]``;
* ``mimic4_cxr`` (image2d): the admission's last chest X-ray (frontal view preferred) before the prediction time;
* ``mimic4_ecg`` (ecg): the admission's last 12-lead ECG before the prediction time.

Prediction time = ``admittime + observation_hours`` (option, default 48). Only data *available* before it is
used: lab/chart rows with ``charttime`` in [window start, prediction time) and ``storetime`` (when the result
was available) before it too; the window starts at ``edregtime`` when the patient came through the ED, else
``admittime``. Discharge notes and ICD diagnoses are written after discharge and never used.

Cohort (the standard in-hospital-mortality definition, per admission; it is the same for both targets so
the stores join): adults (age >= 18) whose admission did not end (discharge or death) before the prediction
time. Other admissions are rejected with the rule saying why (``ended_before_prediction``, ``under_18``, ...).
Targets (option ``target``): ``ihm48`` -> binary in-hospital death (``hospital_expire_flag``);
``los`` -> regression, length of stay in days (``dischtime - admittime``). An admission without a CXR (ECG)
before the prediction time is not a record of ``mimic4_cxr`` (``mimic4_ecg``): missing modality, not an
error; the index log counts them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from climbflow.catalog.base import (
    CatalogError,
    DatasetSpec,
    Excluded,
    RawRecord,
    RecordError,
    Rejected,
    TaskType,
    unsafe_path,
)
from climbflow.catalog.values import whole_number
from climbflow.modalities.ehr import FEATURES, MEASUREMENTS, STATIC, STATS, Measurement, admission_group

logger = logging.getLogger(__name__)

MIMICIV = "mimiciv/2.2"
HOSP, ICU, NOTE = f"{MIMICIV}/hosp", f"{MIMICIV}/icu", f"{MIMICIV}/note"
PATIENTS, ADMISSIONS = f"{HOSP}/patients.csv.gz", f"{HOSP}/admissions.csv.gz"
LABEVENTS, D_LABITEMS = f"{HOSP}/labevents.csv.gz", f"{HOSP}/d_labitems.csv.gz"
ICUSTAYS, CHARTEVENTS = f"{ICU}/icustays.csv.gz", f"{ICU}/chartevents.csv.gz"
CXR = "mimic-cxr-jpg/2.0.0"
CXR_METADATA = f"{CXR}/mimic-cxr-2.0.0-metadata.csv.gz"
ECG = "mimic-iv-ecg/1.0"
ECG_RECORDS = f"{ECG}/record_list.csv"
PATIENT_COLUMNS = ("subject_id", "gender", "anchor_age", "anchor_year")
ADMISSION_COLUMNS = (
    "subject_id",
    "hadm_id",
    "admittime",
    "dischtime",
    "deathtime",
    "admission_type",
    "edregtime",
    "hospital_expire_flag",
)
EVENT_COLUMNS = ("subject_id", "hadm_id", "itemid", "charttime", "storetime", "valuenum")
CXR_COLUMNS = ("dicom_id", "subject_id", "study_id", "ViewPosition", "StudyDate", "StudyTime")
ECG_COLUMNS = ("subject_id", "study_id", "file_name", "ecg_time")
FRONTAL = frozenset({"PA", "AP", "AP AXIAL", "PA LLD", "AP LLD", "AP RLD", "PA RLD"})
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ADULT_AGE = 18.0
ED_WINDOW = pd.Timedelta(hours=24)  # ED data count from edregtime, at most this long before admittime
CHUNK_ROWS = 2_000_000


class Mimic4Options(BaseModel):
    """``target``: ihm48 (binary in-hospital mortality) | los (length of stay, days);
    ``observation_hours``: the prediction time after admission (set it alike for the three entries)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: Literal["ihm48", "los"] = "ihm48"
    observation_hours: float = Field(48.0, gt=0, le=720)


def target_spec(options: Mimic4Options) -> tuple[TaskType, tuple[str, ...]]:
    """(task, classes) of an option set."""
    if options.target == "los":
        return "regression", ("length_of_stay_days",)
    return "binary", (f"in_hospital_mortality_{options.observation_hours:g}h",)


@dataclass(frozen=True)
class Admission:
    """One cohort admission (times as pandas Timestamps)."""

    hadm_id: int
    subject_id: int
    admittime: pd.Timestamp
    dischtime: pd.Timestamp
    start: pd.Timestamp  # window start: ED registration if earlier, else admittime
    prediction_time: pd.Timestamp
    age: float
    sex: str | None
    admission_type: str
    died: bool


# ----------------------------------------------------------------------------------------------- reading
def _read(root: Path, rel: str, columns: tuple[str, ...], **kwargs: Any) -> pd.DataFrame:
    path = root / rel
    if not path.is_file():
        raise CatalogError(f"{path}: table missing (MIMIC-IV needs {rel})")
    try:
        frame = pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise CatalogError(f"{path}: cannot be read as CSV: {exc}") from None
    for column in columns:
        if column not in frame.columns:
            raise CatalogError(f"{path}: required column {column!r} missing (columns: {list(frame.columns)})")
    return frame


def _times(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format=TIME_FORMAT, errors="coerce")


@dataclass(frozen=True)
class Events:
    """Lab or chart rows as arrays, in chart-time order (``available``: storetime, else charttime)."""

    itemid: np.ndarray
    time: np.ndarray  # datetime64[ns]
    available: np.ndarray  # datetime64[ns]
    hadm_id: np.ndarray  # float64, NaN = no hadm_id
    value: np.ndarray  # float64, NaN = no numeric value

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Events:
        frame = frame.sort_values("charttime", kind="stable")
        return cls(
            itemid=frame["itemid"].to_numpy(np.int64),
            time=frame["charttime"].to_numpy("datetime64[ns]"),
            available=frame["storetime"].fillna(frame["charttime"]).to_numpy("datetime64[ns]"),
            hadm_id=pd.to_numeric(frame["hadm_id"], errors="coerce").to_numpy(np.float64),
            value=frame["valuenum"].to_numpy(np.float64),
        )

    def take(self, mask: np.ndarray) -> Events:
        return Events(
            self.itemid[mask], self.time[mask], self.available[mask], self.hadm_id[mask], self.value[mask]
        )

    def __len__(self) -> int:
        return int(self.itemid.size)


def _read_events(root: Path, rel: str, itemids: set[int]) -> pd.DataFrame:
    """Rows of a (large) event table whose itemid is in ``itemids``, read in chunks; times parsed."""
    path = root / rel
    if not path.is_file():
        raise CatalogError(f"{path}: table missing")
    parts = []
    try:
        for chunk in pd.read_csv(path, usecols=lambda c: c in EVENT_COLUMNS, chunksize=CHUNK_ROWS):
            parts.append(chunk[chunk["itemid"].isin(itemids)])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, KeyError, OSError, EOFError) as exc:
        raise CatalogError(f"{path}: cannot be read: {exc}") from None
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(EVENT_COLUMNS))
    missing = [c for c in ("subject_id", "itemid", "charttime", "valuenum") if c not in frame.columns]
    if missing:
        raise CatalogError(f"{path}: required columns {missing} missing")
    frame["charttime"] = _times(frame["charttime"])
    frame["storetime"] = _times(frame["storetime"]) if "storetime" in frame else pd.NaT
    if "hadm_id" not in frame:
        frame["hadm_id"] = np.nan
    frame["valuenum"] = pd.to_numeric(frame["valuenum"], errors="coerce")
    return frame.dropna(subset=["charttime"])


def cohort(root: Path, options: Mimic4Options) -> Iterator[Admission | Rejected]:
    """The admissions of the cohort, or a Rejected naming the rule an admission breaks."""
    root = Path(root)
    patients = _read(root, PATIENTS, PATIENT_COLUMNS, dtype=str, keep_default_na=False)
    admissions = _read(root, ADMISSIONS, ADMISSION_COLUMNS, dtype=str, keep_default_na=False)
    by_subject = {whole_number(r["subject_id"]): r for r in patients.to_dict("records")}
    hours = pd.Timedelta(hours=options.observation_hours)
    for column in ("admittime", "dischtime", "deathtime", "edregtime"):
        admissions[f"_{column}"] = _times(admissions[column])
    seen: set[int] = set()
    for line, row in enumerate(admissions.to_dict("records"), start=2):
        where = f"{ADMISSIONS} line {line}"
        hadm, subject = whole_number(row["hadm_id"]), whole_number(row["subject_id"])
        if hadm is None or subject is None:
            message = f"{where}: hadm_id {row['hadm_id']!r} / subject_id {row['subject_id']!r} not numbers"
            yield Rejected(row["hadm_id"] or f"line{line}", ADMISSIONS, "bad_id", message)
            continue
        where = f"{where} (hadm_id {hadm})"
        if hadm in seen:
            yield Rejected(str(hadm), ADMISSIONS, "duplicate_record", f"{where}: hadm_id repeated")
            continue
        seen.add(hadm)
        patient = by_subject.get(subject)
        if patient is None:
            message = f"{where}: subject_id {subject} not in {PATIENTS}"
            yield Rejected(str(hadm), ADMISSIONS, "unknown_patient", message)
            continue
        admit, disch, death, ed = row["_admittime"], row["_dischtime"], row["_deathtime"], row["_edregtime"]
        if pd.isna(admit) or pd.isna(disch) or disch < admit:
            message = f"{where}: admittime {row['admittime']!r} / dischtime {row['dischtime']!r} unusable"
            yield Rejected(str(hadm), ADMISSIONS, "bad_times", message)
            continue
        anchor_age, anchor_year = whole_number(patient["anchor_age"]), whole_number(patient["anchor_year"])
        if anchor_age is None or anchor_year is None:
            message = f"{PATIENTS} subject {subject}: anchor_age/anchor_year not numbers"
            yield Rejected(str(hadm), PATIENTS, "bad_age", message)
            continue
        age = float(anchor_age + admit.year - anchor_year)
        if age < ADULT_AGE:
            message = f"{where}: age {age:g} at admission; the cohort is adults (>= {ADULT_AGE:g})"
            yield Excluded(str(hadm), ADMISSIONS, "under_18", message)
            continue
        prediction = admit + hours
        end = min(disch, death) if not pd.isna(death) else disch
        if end <= prediction:
            what = "died" if not pd.isna(death) and death <= disch else "was discharged"
            message = (
                f"{where}: {what} {(end - admit) / pd.Timedelta(hours=1):.1f} h after admission, before the "
                f"prediction time (admission + {options.observation_hours:g} h): the outcome is known before "
                "prediction, so the admission is outside the cohort"
            )
            yield Excluded(str(hadm), ADMISSIONS, "ended_before_prediction", message)
            continue
        flag = whole_number(row["hospital_expire_flag"])
        if flag not in (0, 1):
            message = f"{where}: hospital_expire_flag {row['hospital_expire_flag']!r}; allowed 0 or 1"
            yield Rejected(str(hadm), ADMISSIONS, "bad_label", message)
            continue
        kind = row["admission_type"].strip()
        if admission_group(kind) is None:
            message = f"{where}: admission_type {kind!r} is not a known MIMIC-IV admission type"
            yield Rejected(str(hadm), ADMISSIONS, "unknown_admission_type", message)
            continue
        yield Admission(
            hadm_id=hadm,
            subject_id=subject,
            admittime=admit,
            dischtime=disch,
            start=max(min(admit, ed), admit - ED_WINDOW) if not pd.isna(ed) else admit,
            prediction_time=prediction,
            age=age,
            sex={"M": "M", "F": "F"}.get(patient["gender"].strip().upper()),
            admission_type=kind,
            died=flag == 1,
        )


# ------------------------------------------------------------------------------------------- features
def window(events: Events, start: pd.Timestamp, prediction_time: pd.Timestamp) -> Events:
    """Rows charted in [start, prediction_time) whose result was available (storetime) before it too."""
    lo, hi = np.datetime64(start.to_datetime64(), "ns"), np.datetime64(prediction_time.to_datetime64(), "ns")
    return events.take((events.time >= lo) & (events.time < hi) & (events.available < hi))


def measurement_values(events: Events, m: Measurement) -> tuple[np.ndarray, int]:
    """Values of ``m`` in unit ``m.unit``, in chart-time order, and the number of implausible values dropped."""
    keep = np.isin(events.itemid, list(m.itemids)) & np.isfinite(events.value)
    ids, raw = events.itemid[keep], events.value[keep]
    mul = np.array([m.itemids[int(i)][0] for i in ids]) if ids.size else np.zeros(0)
    add = np.array([m.itemids[int(i)][1] for i in ids]) if ids.size else np.zeros(0)
    values = raw * mul + add
    ok = (values >= m.plausible[0]) & (values <= m.plausible[1])
    return values[ok], int((~ok).sum())


def build_features(
    adm: Admission, labs: Events, charts: Events, icu_intimes: list[pd.Timestamp]
) -> tuple[np.ndarray, dict[str, Any]]:
    """(F,) vector in :data:`FEATURES` order (missing stats imputed with the normal value) + text and counts.

    ``labs`` / ``charts`` may hold any rows of the patient: only the window before the prediction time is used
    (labs of other admissions are skipped by hadm_id; labs without one by the time window).
    """
    labs = window(labs, adm.start, adm.prediction_time)
    labs = labs.take(np.isnan(labs.hadm_id) | (labs.hadm_id == adm.hadm_id))
    charts = window(charts, adm.start, adm.prediction_time)
    icu = any(t < adm.prediction_time for t in icu_intimes)
    group = admission_group(adm.admission_type)
    values: dict[str, float] = {
        "age": adm.age,
        "female": 1.0 if adm.sex == "F" else 0.0,
        **{name: float(name == f"admission_{group}") for name in STATIC if name.startswith("admission_")},
        "icu": float(icu),
    }
    latest: dict[str, list[str]] = {"lab": [], "vital": []}
    unmeasured: dict[str, list[str]] = {"lab": [], "vital": []}
    dropped = n_obs = 0
    for m in MEASUREMENTS:
        x, bad = measurement_values(labs if m.source == "lab" else charts, m)
        dropped += bad
        n_obs += x.size
        stats = (x[-1], x.mean(), x.min(), x.max()) if x.size else (m.normal,) * 4
        values.update({f"{m.name}_{s}": float(v) for s, v in zip(STATS, stats, strict=True)})
        values[f"{m.name}_missing"] = 0.0 if x.size else 1.0
        if x.size:
            latest[m.source].append(f"{m.label} {x[-1]:.3g} {m.unit}")
        else:
            unmeasured[m.source].append(m.label)
    vector = np.array([values[name] for name in FEATURES], dtype=np.float64)
    age = f"{adm.age:.0f}-year-old" if adm.age < 90 else "90+ year-old"
    sex = {"M": "male", "F": "female"}.get(adm.sex or "", "patient")
    parts = [
        f"demographics: {age} {sex}",
        f"admission: {adm.admission_type.lower()} ({group}), ICU: {'yes' if icu else 'no'}",
    ]
    for source, title in (("lab", "latest labs"), ("vital", "latest vitals")):
        text = ", ".join(latest[source]) or "none"
        if unmeasured[source]:
            text += f" (not measured: {', '.join(unmeasured[source])})"
        parts.append(f"{title}: {text}")
    meta = {"text": " | ".join(parts), "n_observations": n_obs, "n_implausible_dropped": dropped}
    return vector, meta


# ------------------------------------------------------------------------------------------------ specs
class _Mimic4Base(DatasetSpec):
    """Shared cohort, options and targets of the three MIMIC-IV entries."""

    license: ClassVar[str] = (
        "PhysioNet Credentialed Health Data License 1.5.0 (credentialing + CITI training)"
    )
    official_split: ClassVar[bool] = False
    patient_namespace: ClassVar[str | None] = "mimic"  # subject_id, shared with MIMIC-CXR
    Options: ClassVar[type[BaseModel]] = Mimic4Options
    task: ClassVar[TaskType] = "binary"
    classes: ClassVar[tuple[str, ...]] = ("in_hospital_mortality_48h",)
    options: Mimic4Options

    def __init__(self, options: BaseModel | None = None):
        super().__init__(options)
        self.task, self.classes = target_spec(self.options)  # type: ignore[misc]

    def detect(self, root: Path) -> bool:
        return (Path(root) / ADMISSIONS).is_file()

    def _target(self, adm: Admission) -> tuple[tuple[float, ...], str]:
        los = (adm.dischtime - adm.admittime) / pd.Timedelta(days=1)
        if self.options.target == "los":
            return (round(float(los), 4),), f"dischtime-admittime={los:.3f} d"
        return (1.0 if adm.died else 0.0,), f"hospital_expire_flag={int(adm.died)}"

    def _record(self, adm: Admission, files: tuple[str, ...], meta: dict[str, Any]) -> RawRecord:
        target, source = self._target(adm)
        return RawRecord(
            record_id=str(adm.hadm_id),
            patient_id=str(adm.subject_id),
            files=files,
            target=target,
            source_labels=source,
            split=None,
            meta={
                "age": adm.age,
                "sex": adm.sex,
                "hadm_id": adm.hadm_id,
                "observation_hours": self.options.observation_hours,
                **meta,
            },
        )


class MIMIC4(_Mimic4Base):
    name: ClassVar[str] = "mimic4"
    title: ClassVar[str] = (
        "MIMIC-IV v2.2 admissions: EHR features at admission + 48 h (IHM or length of stay)"
    )
    modality: ClassVar[str] = "ehr"
    layout: ClassVar[str] = (
        f"<root>/{MIMICIV}/hosp/{{patients,admissions,labevents,d_labitems,diagnoses_icd}}.csv.gz + "
        f"<root>/{MIMICIV}/icu/{{icustays,chartevents,d_items}}.csv.gz (+ note/discharge.csv.gz, unused)"
    )

    def __init__(self, options: BaseModel | None = None):
        super().__init__(options)
        self._tables: dict[Path, dict[str, Any]] = {}

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        counts: dict[str, int] = {}
        tables = (PATIENTS, LABEVENTS, CHARTEVENTS, ICUSTAYS)
        for item in cohort(Path(root), self.options):
            if isinstance(item, Admission):
                # no file of its own: files[0] names the admission's row (so that no two records share it)
                files = (f"{ADMISSIONS}#hadm_id={item.hadm_id}", *tables)
                item = self._record(item, files, {"admission_type": item.admission_type})
            key = item.rule if isinstance(item, Rejected) else "ok"
            counts[key] = counts.get(key, 0) + 1
            yield item
        logger.info("mimic4 %s: %s", root, counts)

    def tables(self, root: Path) -> dict[str, Any]:
        """Cohort admissions, lab/chart rows of the feature items and ICU intimes (read once per root)."""
        key = Path(root).resolve()
        if key not in self._tables:
            labs = _read_events(
                key, LABEVENTS, {i for m in MEASUREMENTS if m.source == "lab" for i in m.itemids}
            )
            charts = _read_events(
                key, CHARTEVENTS, {i for m in MEASUREMENTS if m.source == "vital" for i in m.itemids}
            )
            stays = _read(key, ICUSTAYS, ("hadm_id", "intime"), dtype=str, keep_default_na=False)
            intimes: dict[int, list[pd.Timestamp]] = {}
            for hadm, t in zip(stays["hadm_id"], _times(stays["intime"]), strict=True):
                if whole_number(hadm) is not None and not pd.isna(t):
                    intimes.setdefault(whole_number(hadm), []).append(t)
            self._tables[key] = {
                "admissions": {a.hadm_id: a for a in cohort(key, self.options) if isinstance(a, Admission)},
                "labs": {int(s): Events.from_frame(g) for s, g in labs.groupby("subject_id")},
                "charts": {
                    int(h): Events.from_frame(g)
                    for h, g in charts.dropna(subset=["hadm_id"]).groupby("hadm_id")
                },
                "intimes": intimes,
                "empty": Events.from_frame(labs.iloc[:0]),
            }
        return self._tables[key]

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """float64 (F,) feature vector from data available before the prediction time; meta["text"]."""
        t = self.tables(root)
        adm = t["admissions"].get(whole_number(record.record_id))
        if adm is None:
            raise RecordError(
                "unknown_admission", f"hadm_id {record.record_id} is not in the cohort of {ADMISSIONS}"
            )
        labs = t["labs"].get(adm.subject_id, t["empty"])
        charts = t["charts"].get(adm.hadm_id, t["empty"])
        vector, meta = build_features(adm, labs, charts, t["intimes"].get(adm.hadm_id, []))
        return vector, {"sampling_rate": None, "meta": meta}


def _linked(
    root: Path,
    options: Mimic4Options,
    studies: pd.DataFrame,
    pick: Callable[[Path, Admission, pd.DataFrame | None], RawRecord | Rejected | None],
    what: str,
) -> Iterator[RawRecord | Rejected]:
    """The cohort's admissions joined to their last ``what`` study before the prediction time (``pick``);
    an admission without one is a missing modality, counted in the log, not a record."""
    by_subject = {int(s): g for s, g in studies.groupby("subject")}
    counts: dict[str, int] = {}
    for item in cohort(root, options):
        if isinstance(item, Admission):
            item = pick(root, item, by_subject.get(item.subject_id))
        key = (
            f"no_{what}_before_prediction"
            if item is None
            else item.rule
            if isinstance(item, Rejected)
            else "ok"
        )
        counts[key] = counts.get(key, 0) + 1
        if item is not None:
            yield item
    logger.info("mimic4_%s %s: %s (no %s = missing modality, not a record)", what, root, counts, what.upper())


class MIMIC4CXR(_Mimic4Base):
    name: ClassVar[str] = "mimic4_cxr"
    title: ClassVar[str] = "MIMIC-IV admissions: last chest X-ray (MIMIC-CXR-JPG) before admission + 48 h"
    modality: ClassVar[str] = "image2d"
    layout: ClassVar[str] = (
        f"<root>/{MIMICIV}/hosp/{{patients,admissions}}.csv.gz + <root>/{CXR_METADATA} (dicom_id, subject_id, "
        f"study_id, ViewPosition, StudyDate, StudyTime, ...) + <root>/{CXR}/files/pXX/pSUBJECT/sSTUDY/<dicom_id>.jpg"
    )

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        meta = _read(root, CXR_METADATA, CXR_COLUMNS, dtype=str, keep_default_na=False)
        meta["subject"] = meta["subject_id"].map(whole_number)
        meta["time"] = _study_times(meta["StudyDate"], meta["StudyTime"])
        meta["frontal"] = meta["ViewPosition"].str.strip().str.upper().isin(FRONTAL)
        meta = meta.dropna(subset=["subject", "time"])
        yield from _linked(root, self.options, meta, self._pick, "cxr")

    def _pick(self, root: Path, adm: Admission, images: pd.DataFrame | None) -> RawRecord | Rejected | None:
        if images is None:
            return None
        inside = images[(images["time"] >= adm.start) & (images["time"] < adm.prediction_time)]
        if inside.empty:
            return None
        best = inside.sort_values(["time", "frontal", "dicom_id"], kind="stable").iloc[-1]
        study = inside[inside["study_id"] == best["study_id"]]
        frontal = study[study["frontal"]]
        chosen = (frontal if not frontal.empty else study).sort_values("dicom_id").iloc[0]
        subject = str(adm.subject_id)
        problem = unsafe_path(str(chosen["dicom_id"]))
        if problem:
            return Rejected(
                str(adm.hadm_id), CXR_METADATA, "unsafe_path", f"{CXR_METADATA}: dicom_id {problem}"
            )
        rel = f"{CXR}/files/p{subject[:2]}/p{subject}/s{chosen['study_id']}/{chosen['dicom_id']}.jpg"
        if not (root / rel).is_file():
            message = f"{CXR_METADATA}: image {rel} of hadm_id {adm.hadm_id} not found"
            return Rejected(str(adm.hadm_id), rel, "missing_file", message)
        hours = (adm.prediction_time - chosen["time"]) / pd.Timedelta(hours=1)
        return self._record(
            adm,
            (rel,),
            {
                "study_id": whole_number(chosen["study_id"]),
                "dicom_id": chosen["dicom_id"],
                "view": chosen["ViewPosition"] or None,
                "hours_before_prediction": round(float(hours), 2),
            },
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """8-bit grayscale (H, W) array of the chosen JPG."""
        from climbflow.catalog.images import decode_image

        return decode_image(Path(root) / record.files[0], "gray", self.decode_size)


class MIMIC4ECG(_Mimic4Base):
    name: ClassVar[str] = "mimic4_ecg"
    title: ClassVar[str] = "MIMIC-IV admissions: last 12-lead ECG (MIMIC-IV-ECG) before admission + 48 h"
    modality: ClassVar[str] = "ecg"
    layout: ClassVar[str] = (
        f"<root>/{MIMICIV}/hosp/{{patients,admissions}}.csv.gz + <root>/{ECG_RECORDS} (subject_id, study_id, "
        f"file_name, ecg_time, path) + <root>/{ECG}/files/pNNNN/pSUBJECT/sSTUDY/STUDY.{{hea,dat}} (500 Hz, 10 s)"
    )

    def cache_token(self) -> str | None:
        from climbflow.catalog import units

        return units.SIGNAL_VERSION  # decoded by the PTB-XL WFDB reader: follows that reader's version

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        table = _read(root, ECG_RECORDS, ECG_COLUMNS, dtype=str, keep_default_na=False)
        table["subject"] = table["subject_id"].map(whole_number)
        table["time"] = _times(table["ecg_time"])
        table = table.dropna(subset=["subject", "time"])
        yield from _linked(root, self.options, table, self._pick, "ecg")

    def _pick(self, root: Path, adm: Admission, ecgs: pd.DataFrame | None) -> RawRecord | Rejected | None:
        if ecgs is None:
            return None
        inside = ecgs[(ecgs["time"] >= adm.start) & (ecgs["time"] < adm.prediction_time)]
        if inside.empty:
            return None
        chosen = inside.sort_values(["time", "study_id"], kind="stable").iloc[-1]
        subject, study = str(adm.subject_id), chosen["study_id"].strip()
        stem = (chosen.get("path") or "").strip() or f"files/p{subject[:4]}/p{subject}/s{study}/{study}"
        problem = unsafe_path(stem)
        if problem:
            return Rejected(str(adm.hadm_id), ECG_RECORDS, "unsafe_path", f"{ECG_RECORDS}: path {problem}")
        files = (f"{ECG}/{stem}.hea", f"{ECG}/{stem}.dat")
        for rel in files:
            if not (root / rel).is_file():
                message = f"{ECG_RECORDS}: record file {rel} of hadm_id {adm.hadm_id} not found"
                return Rejected(str(adm.hadm_id), rel, "missing_file", message)
        hours = (adm.prediction_time - chosen["time"]) / pd.Timedelta(hours=1)
        meta = {
            "study_id": whole_number(study),
            "hours_before_prediction": round(float(hours), 2),
            "sampling_rate": 500.0,
        }
        return self._record(adm, files, meta)

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """float32 (T, 12) signal in mV + ``sampling_rate`` and ``lead_names`` (RecordError on bad WFDB)."""
        from climbflow.catalog.ptbxl import PTBXL

        return PTBXL().decode(root, record)


def _study_times(dates: pd.Series, times: pd.Series) -> pd.Series:
    """MIMIC-CXR StudyDate (YYYYMMDD) + StudyTime (HHMMSS.fff, leading zeros dropped) -> Timestamps."""
    clock = times.str.strip().str.split(".").str[0].str.zfill(6)
    return pd.to_datetime(dates.str.strip() + clock, format="%Y%m%d%H%M%S", errors="coerce")
