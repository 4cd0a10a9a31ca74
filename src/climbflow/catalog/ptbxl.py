"""PTB-XL (PhysioNet) in its real layout: ``ptbxl_database.csv`` + ``scp_statements.csv`` + WFDB records.

Labels are CLIMB's 7 ECG superclasses, kept multi-label (CLIMB flattens them to one by a random
tie-break; we do not). Each SCP code of a record's ``scp_codes`` dict is mapped, whatever its likelihood
(as in PTB-XL's own example code):

* ``diagnostic_class`` in NORM/CD/HYP/MI/STTC (from ``scp_statements.csv``) -> that class;
* AFIB, AFLT -> AFIB;  SR (sinus rhythm) -> no label;
* form statements without a diagnostic class -> the class of their finding (:data:`FORM_CLASSES`, the
  class :mod:`climbflow.catalog.cinc2021` gives the equivalent SNOMED code): ST depression/elevation and
  T-wave changes (STD_, STE_, INVT, TAB_, NT_, LOWT) -> STTC, prolonged PR (LPR) -> CD, Q waves (QWAVE) -> MI,
  voltage criteria for LVH (VCLVH) -> HYP (PTB-XL's own superclass aggregation ignores form statements);
* any other code listed in ``scp_statements.csv`` (rhythms, ectopy, voltage, ...) -> OTHER;
* a code not listed there -> the record is rejected (``unknown_scp_code``).

One vocabulary policy for every ECG set, so that multi-task pretraining can merge them into one column per
class: a finding maps to the same class in this table and in CinC's SNOMED table, and **NORM only when nothing
abnormal is present** (:func:`norm_only_if_alone`): NORM ("normal ECG") is dropped when any other class is
positive, e.g. ``{'NORM': 100, 'LVOLT': 0}`` -> OTHER. :data:`LABELS_VERSION` is part of the validate and
standardize cache keys, so stores built with an older mapping are not reused.

The official split is ``strat_fold``: 1-8 train, 9 val, 10 test. Records are read at 500 Hz (``filename_hr``).
"""

from __future__ import annotations

import ast
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from climbflow.catalog import units
from climbflow.catalog.base import (
    CatalogError,
    DatasetSpec,
    RawRecord,
    RecordError,
    Rejected,
    Split,
    TaskType,
    unsafe_path,
)
from climbflow.catalog.values import whole_number
from climbflow.modalities import ecg

logger = logging.getLogger(__name__)

DATABASE = "ptbxl_database.csv"
STATEMENTS = "scp_statements.csv"
CLASSES: tuple[str, ...] = ("NORM", "CD", "HYP", "MI", "STTC", "AFIB", "OTHER")
DIAGNOSTIC_CLASSES = frozenset({"NORM", "CD", "HYP", "MI", "STTC"})
AFIB_CODES = frozenset({"AFIB", "AFLT"})
NO_LABEL_CODES = frozenset({"SR"})
# form statements without a diagnostic class -> the class of the same finding in CinC's SNOMED table
FORM_CLASSES: dict[str, str] = {
    "STD_": "STTC",  # non-specific ST depression (SNOMED 429622005)
    "STE_": "STTC",  # non-specific ST elevation (164931005)
    "INVT": "STTC",  # inverted T-waves (59931005)
    "TAB_": "STTC",  # T-wave abnormality (164934002)
    "NT_": "STTC",  # non-specific T-wave changes
    "LOWT": "STTC",  # low amplitude T-waves
    "LPR": "CD",  # prolonged PR interval (164947007)
    "QWAVE": "MI",  # Q waves present (164917005)
    "VCLVH": "HYP",  # voltage criteria (QRS) for left ventricular hypertrophy (55827005)
}
LABELS_VERSION = "ecg-labels-2"  # bump when an ECG label mapping changes (cache key of validate/standardize)
DATABASE_COLUMNS: tuple[str, ...] = (
    "ecg_id",
    "patient_id",
    "age",
    "sex",
    "scp_codes",
    "strat_fold",
    "filename_hr",
)
STATEMENT_COLUMNS: tuple[str, ...] = ("diagnostic_class",)
HR_SAMPLING_RATE = 500.0  # filename_hr records are 500 Hz
AGE_CENSORED = 300.0  # PTB-XL writes ages above 89 as 300 (HIPAA); read back as 90


def split_of_fold(fold: int) -> Split | None:
    """PTB-XL's recommended split: folds 1-8 train, 9 val, 10 test; anything else None."""
    if 1 <= fold <= 8:
        return "train"
    return {9: "val", 10: "test"}.get(fold)


def norm_only_if_alone(target: list[float]) -> list[float]:
    """The ECG NORM policy: NORM stays positive only when no other class is (PTB-XL's "normal ECG")."""
    norm = CLASSES.index("NORM")
    if any(v for i, v in enumerate(target) if i != norm):
        target = [0.0 if i == norm else v for i, v in enumerate(target)]
    return target


def _read_csv(path: Path, required: tuple[str, ...], **kwargs: Any) -> pd.DataFrame:
    if not path.is_file():
        raise CatalogError(f"{path}: metadata file missing (PTB-XL needs {DATABASE} and {STATEMENTS})")
    try:
        frame = pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot be parsed as CSV: {exc}") from None
    for column in required:
        if column not in frame.columns:
            raise CatalogError(f"{path}: required column {column!r} missing (columns: {list(frame.columns)})")
    return frame


def _present(value: Any) -> bool:
    return not (value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "")


class PTBXL(DatasetSpec):
    name: ClassVar[str] = "ptbxl"
    title: ClassVar[str] = "PTB-XL 12-lead ECG (PhysioNet v1.0.3), 7 CLIMB superclasses, multi-label"
    modality: ClassVar[str] = "ecg"
    task: ClassVar[TaskType] = "multilabel"
    classes: ClassVar[tuple[str, ...]] = CLASSES
    license: ClassVar[str] = "CC-BY-4.0 (PhysioNet open access)"
    layout: ClassVar[str] = (
        "<root>/ptbxl_database.csv (ecg_id, patient_id, age, sex, scp_codes, strat_fold, filename_hr, ...) + "
        "<root>/scp_statements.csv (SCP code index column, diagnostic_class, ...) + "
        "<root>/records500/NNNNN/NNNNN_hr.{hea,dat} (WFDB, 12 leads, 500 Hz, 10 s)"
    )
    official_split: ClassVar[bool] = True

    def detect(self, root: Path) -> bool:
        return (Path(root) / DATABASE).is_file()

    def cache_token(self) -> str | None:
        return f"{LABELS_VERSION}; {units.SIGNAL_VERSION}"

    def code_classes(self, root: Path) -> dict[str, str | None]:
        """SCP code -> CLIMB class (None = no label, e.g. SR) for every code of ``scp_statements.csv``."""
        table = _read_csv(Path(root) / STATEMENTS, STATEMENT_COLUMNS, index_col=0)
        mapping: dict[str, str | None] = {}
        for code, diagnostic_class in table["diagnostic_class"].items():
            code = str(code).strip()
            klass = str(diagnostic_class).strip() if _present(diagnostic_class) else ""
            if code in AFIB_CODES:
                mapping[code] = "AFIB"
            elif code in NO_LABEL_CODES:
                mapping[code] = None
            elif klass in DIAGNOSTIC_CLASSES:
                mapping[code] = klass
            elif code in FORM_CLASSES:
                mapping[code] = FORM_CLASSES[code]
            else:
                mapping[code] = "OTHER"
        return mapping

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        mapping = self.code_classes(root)
        table = _read_csv(root / DATABASE, DATABASE_COLUMNS, dtype=str, keep_default_na=False)
        counts: dict[str, int] = {}
        for row_no, row in enumerate(table.to_dict("records"), start=1):
            item = self._record(root, row_no, row, mapping)
            key = item.rule if isinstance(item, Rejected) else "ok"
            counts[key] = counts.get(key, 0) + 1
            yield item
        logger.info("ptbxl %s: %s", root, counts)

    def _record(
        self, root: Path, row_no: int, row: dict[str, str], mapping: dict[str, str | None]
    ) -> RawRecord | Rejected:
        where = f"{DATABASE} row {row_no}"
        raw_id = row["ecg_id"].strip()
        ecg_id = whole_number(raw_id)
        if ecg_id is None:
            message = f"{where}: ecg_id {raw_id!r} is not a number"
            return Rejected(raw_id or f"row{row_no}", DATABASE, "bad_ecg_id", message)
        record_id = str(ecg_id)
        where = f"{where} (ecg_id {record_id})"

        raw_codes = row["scp_codes"]
        try:
            codes = ast.literal_eval(raw_codes.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            codes = None
        if not isinstance(codes, dict) or not all(isinstance(k, str) for k in codes):
            message = f"{where}: scp_codes {raw_codes!r} is not a dict of codes"
            return Rejected(record_id, DATABASE, "bad_scp_codes", message)
        target = [0.0] * len(CLASSES)
        for code in codes:
            if code.strip() not in mapping:
                return Rejected(
                    record_id,
                    DATABASE,
                    "unknown_scp_code",
                    f"{where}: scp code {code!r} is not listed in {STATEMENTS} (scp_codes {raw_codes})",
                )
            klass = mapping[code.strip()]
            if klass is not None:
                target[CLASSES.index(klass)] = 1.0
        target = norm_only_if_alone(target)
        if not any(target):
            message = f"{where}: scp_codes {raw_codes} map to no class"
            return Rejected(record_id, DATABASE, "no_label", message)

        fold = whole_number(row["strat_fold"])
        split = split_of_fold(fold) if fold is not None else None
        if split is None:
            message = f"{where}: strat_fold {row['strat_fold']!r} not in 1-10"
            return Rejected(record_id, DATABASE, "bad_strat_fold", message)
        patient = whole_number(row["patient_id"])
        if patient is None:
            message = f"{where}: patient_id {row['patient_id']!r} is not a number"
            return Rejected(record_id, DATABASE, "bad_patient_id", message)

        stem = row["filename_hr"].strip()
        if not stem:
            return Rejected(record_id, DATABASE, "missing_file", f"{where}: filename_hr is empty")
        problem = unsafe_path(stem)
        if problem:
            return Rejected(record_id, DATABASE, "unsafe_path", f"{where}: filename_hr {problem}")
        files = (f"{stem}.hea", f"{stem}.dat")
        for rel in files:
            if not (root / rel).is_file():
                return Rejected(record_id, rel, "missing_file", f"{where}: record file {rel} not found")

        return RawRecord(
            record_id=record_id,
            patient_id=str(patient),
            files=files,
            target=tuple(target),
            source_labels=raw_codes,
            split=split,
            meta={
                "age": _age(row["age"]),
                "sex": _sex(row["sex"]),
                "sampling_rate": HR_SAMPLING_RATE,
                "strat_fold": fold,
            },
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """float32 (T, leads) signal in mV + ``sampling_rate``, ``lead_names`` and meta ``source_unit``.

        Header units are converted to mV (:mod:`climbflow.catalog.units`; ``bad_unit`` if not a voltage).

        Missing files -> ``RecordError("missing_file")``; any read failure (zero-byte or malformed header,
        truncated .dat, ...) -> ``RecordError("corrupt_wfdb")`` naming the bad file and the reason.
        """
        import wfdb

        hea, dat = record.files[0], record.files[1] if len(record.files) > 1 else record.files[0]
        base = str(Path(root) / hea)[: -len(".hea")] if hea.endswith(".hea") else str(Path(root) / hea)
        for rel in (hea, dat):
            if not (Path(root) / rel).is_file():
                raise RecordError("missing_file", f"{rel} not found under {root}")
        try:
            signal, fields = wfdb.rdsamp(base)
        except Exception as exc:  # wfdb raises IndexError/ValueError/HeaderSyntaxError/... on bad files
            raise RecordError("corrupt_wfdb", _diagnose(base, hea, dat, exc)) from None
        if signal is None or signal.ndim != 2 or signal.shape[0] == 0:
            shape = None if signal is None else signal.shape
            raise RecordError("corrupt_wfdb", f"{dat}: no samples (shape {shape})")
        names = list(fields["sig_name"])
        header_units = units.wfdb_header_units(Path(root) / hea, len(names))
        factors, unit_meta = units.conversion(header_units, names, ecg.UNIT, units.WFDB_DEFAULT_UNIT, hea)
        props = {"sampling_rate": float(fields["fs"]), "lead_names": names, "meta": unit_meta}
        return (signal * factors).astype(np.float32), props


def _diagnose(base: str, hea: str, dat: str, exc: Exception) -> str:
    """Name the bad file of a record wfdb could not read: the header if it does not parse, else the signal."""
    import wfdb

    try:
        header = wfdb.rdheader(base)
        declared, lines = header.n_sig or 0, len(header.file_name or [])
        if declared != lines:
            raise ValueError(f"{declared} signals declared but {lines} signal lines")
    except Exception as header_exc:
        return f"{hea}: header unreadable ({type(header_exc).__name__}: {header_exc})"
    return f"{dat}: signal unreadable ({type(exc).__name__}: {exc})"


def _age(raw: str) -> float | None:
    try:
        age = float(raw)
    except ValueError:
        return None
    if math.isnan(age) or age < 0:
        return None
    return 90.0 if age >= AGE_CENSORED else age


def _sex(raw: str) -> str | None:
    """PTB-XL sex: 0 = male, 1 = female."""
    value = whole_number(raw)
    return {0: "M", 1: "F"}.get(value) if value is not None else None
