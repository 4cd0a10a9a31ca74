"""ABIDE I (Preprocessed Connectomes Project), CC200 atlas: autism spectrum disorder vs typical controls.

Layout: the phenotype table ``Phenotypic_V1_0b_preprocessed1.csv`` (SUB_ID, FILE_ID, DX_GROUP 1 = autism
2 = control, SITE_ID, AGE_AT_SCAN, SEX 1 = male 2 = female, ...) plus, per subject, either a precomputed
connectivity matrix ``<FILE_ID>_cc200_correlation.npy`` ((200, 200) Pearson r, the ``.npy``-per-subject
layout CLIMB uses) or the PCP ROI time series ``<FILE_ID>_rois_cc200.1D`` (whitespace table, T x 200, a
``#`` header line), anywhere under the root (e.g. ``rois_cc200/`` or ``Outputs/cpac/filt_global/rois_cc200/``).
The ``.npy`` is used when both exist. Subjects whose FILE_ID is ``no_filename`` (no preprocessed data in
PCP) are rejected. There is no official split (patient-hash split on SUB_ID).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from climbflow.catalog.base import CatalogError, DatasetSpec, RawRecord, RecordError, Rejected, TaskType
from climbflow.catalog.values import whole_number

logger = logging.getLogger(__name__)

PHENOTYPE = "Phenotypic_V1_0b_preprocessed1.csv"
COLUMNS: tuple[str, ...] = ("SUB_ID", "FILE_ID", "DX_GROUP", "SITE_ID", "AGE_AT_SCAN", "SEX")
CLASSES: tuple[str, ...] = ("autism",)
NPY_SUFFIX = "_cc200_correlation.npy"
ROIS_SUFFIX = "_rois_cc200.1D"
NO_FILENAME = "no_filename"
MIN_TIMEPOINTS = 20


class ABIDE(DatasetSpec):
    name: ClassVar[str] = "abide"
    title: ClassVar[str] = "ABIDE I (PCP) CC200 functional connectivity, autism vs control"
    modality: ClassVar[str] = "graph"
    task: ClassVar[TaskType] = "binary"
    classes: ClassVar[tuple[str, ...]] = CLASSES
    license: ClassVar[str] = "ABIDE data usage agreement (registration; CC BY-NC-SA 3.0)"
    layout: ClassVar[str] = (
        f"<root>/{PHENOTYPE} (SUB_ID, FILE_ID, DX_GROUP 1=autism 2=control, SITE_ID, AGE_AT_SCAN, SEX) + "
        f"<root>/**/<FILE_ID>{NPY_SUFFIX} ((N, N) correlation) or <root>/**/<FILE_ID>{ROIS_SUFFIX} (T x N)"
    )
    official_split: ClassVar[bool] = False

    def detect(self, root: Path) -> bool:
        return (Path(root) / PHENOTYPE).is_file()

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        path = root / PHENOTYPE
        if not path.is_file():
            raise CatalogError(f"{path}: phenotype file missing (expected {self.layout})")
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise CatalogError(f"{path}: cannot be parsed as CSV: {exc}") from None
        for column in COLUMNS:
            if column not in table.columns:
                raise CatalogError(
                    f"{path}: required column {column!r} missing (columns: {list(table.columns)})"
                )
        files = _subject_files(root)
        seen: set[str] = set()
        counts: dict[str, int] = {}
        for line, row in enumerate(table.to_dict("records"), start=2):
            item = self._record(row, line, files, seen)
            key = item.rule if isinstance(item, Rejected) else "ok"
            counts[key] = counts.get(key, 0) + 1
            yield item
        logger.info("abide %s: %s", root, counts)

    def _record(
        self, row: dict[str, str], line: int, files: dict[str, str], seen: set[str]
    ) -> RawRecord | Rejected:
        where = f"{PHENOTYPE} line {line}"
        sub = whole_number(row["SUB_ID"])
        if sub is None:
            return Rejected(f"line{line}", PHENOTYPE, "bad_sub_id", f"{where}: SUB_ID {row['SUB_ID']!r}")
        record_id = str(sub)
        where = f"{where} (SUB_ID {record_id})"
        if record_id in seen:
            return Rejected(record_id, PHENOTYPE, "duplicate_record", f"{where}: SUB_ID repeated")
        seen.add(record_id)
        dx = whole_number(row["DX_GROUP"])
        if dx not in (1, 2):
            message = f"{where}: DX_GROUP {row['DX_GROUP']!r}; allowed 1 (autism) or 2 (control)"
            return Rejected(record_id, PHENOTYPE, "unknown_label", message)
        file_id = row["FILE_ID"].strip()
        if not file_id or file_id == NO_FILENAME:
            message = f"{where}: FILE_ID {file_id!r}: no preprocessed data for this subject"
            return Rejected(record_id, PHENOTYPE, "no_filename", message)
        rel = files.get(file_id)
        if rel is None:
            message = (
                f"{where}: neither {file_id}{NPY_SUFFIX} nor {file_id}{ROIS_SUFFIX} found under the root"
            )
            return Rejected(record_id, PHENOTYPE, "missing_file", message)
        age = _float(row["AGE_AT_SCAN"])
        return RawRecord(
            record_id=record_id,
            patient_id=record_id,
            files=(rel,),
            target=(1.0 if dx == 1 else 0.0,),
            source_labels=f"DX_GROUP={dx}",
            split=None,
            meta={
                "age": age,
                "sex": {1: "M", 2: "F"}.get(whole_number(row["SEX"]) or 0),
                "site": row["SITE_ID"].strip() or None,
                "file_id": file_id,
            },
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """float32 (N, N) correlation matrix (read, or computed from the ROI time series)."""
        rel = record.files[0]
        path = Path(root) / rel
        if not path.is_file():
            raise RecordError("missing_file", f"{rel} not found under {root}")
        if path.stat().st_size == 0:
            raise RecordError("empty_file", f"{rel} is zero bytes")
        if rel.endswith(".npy"):
            try:
                matrix = np.load(path, allow_pickle=False)
            except (ValueError, OSError, EOFError) as exc:
                raise RecordError("corrupt_npy", f"{rel} cannot be read as .npy: {exc}") from None
            if (
                matrix.ndim != 2
                or matrix.shape[0] != matrix.shape[1]
                or not np.issubdtype(matrix.dtype, np.number)
            ):
                raise RecordError(
                    "bad_shape", f"{rel}: array of shape {matrix.shape} ({matrix.dtype}), not (N, N)"
                )
            meta = {"source": "correlation", "nodes": int(matrix.shape[0])}
        else:
            matrix, meta = _correlation_from_rois(path, rel)
        matrix = np.asarray(matrix, dtype=np.float32)
        if not np.isfinite(matrix).all():
            raise RecordError("nonfinite", f"{rel}: {int((~np.isfinite(matrix)).sum())} NaN/inf entries")
        return matrix, {"sampling_rate": None, "meta": meta}


def _correlation_from_rois(path: Path, rel: str) -> tuple[np.ndarray, dict[str, Any]]:
    try:
        series = np.loadtxt(path, comments="#", ndmin=2)
    except ValueError as exc:
        raise RecordError("corrupt_rois", f"{rel} is not a numeric whitespace table: {exc}") from None
    if series.shape[0] < MIN_TIMEPOINTS:
        raise RecordError("too_short", f"{rel}: {series.shape[0]} time points (need >= {MIN_TIMEPOINTS})")
    if not np.isfinite(series).all():
        raise RecordError("nonfinite", f"{rel}: NaN/inf in the ROI time series")
    flat = np.flatnonzero(series.std(axis=0) == 0)
    if flat.size:
        raise RecordError("flat_signal", f"{rel}: constant ROI columns {flat[:10].tolist()} (no correlation)")
    meta = {"source": "rois_cc200", "nodes": int(series.shape[1]), "timepoints": int(series.shape[0])}
    return np.corrcoef(series, rowvar=False), meta


def _subject_files(root: Path) -> dict[str, str]:
    """FILE_ID -> data file (relative posix path); the .npy wins over the .1D time series."""
    found: dict[str, str] = {}
    for suffix in (ROIS_SUFFIX, NPY_SUFFIX):  # later suffix overrides
        for p in sorted(root.rglob(f"*{suffix}")):
            if p.is_file():
                found[p.name[: -len(suffix)]] = p.relative_to(root).as_posix()
    return found


def _float(raw: str) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None
