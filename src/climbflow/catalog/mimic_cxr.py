"""MIMIC-CXR-JPG v2.0.0 (PhysioNet), read from its real layout.

- ``mimic-cxr-2.0.0-metadata.csv.gz``: one row per image (dicom_id, subject_id, study_id, ViewPosition, Rows,
  Columns, StudyDate, StudyTime, ...);
- ``mimic-cxr-2.0.0-chexpert.csv.gz``: one row per study (subject_id, study_id, the 14 CheXpert labels with
  1.0 / 0.0 / -1.0 / blank);
- ``mimic-cxr-2.0.0-split.csv.gz``: dicom_id, study_id, subject_id, split (train / validate / test);
- ``files/p10/p10000032/s50414267/<dicom_id>.jpg``.

The ``.csv`` files decompressed (as CLIMB's loader leaves them) are read as well. Labels follow CLIMB and
:mod:`climbflow.catalog.chexpert`: same 14 classes, blank -> 0, -1 -> the ``uncertain`` option; a study without a
CheXpert row is rejected (CLIMB's inner join drops it). The official split is used, ``validate`` -> ``val``.
The patient id is the MIMIC ``subject_id`` (the key shared with MIMIC-IV).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from climbflow.catalog.base import (
    CatalogError,
    DatasetSpec,
    RawRecord,
    Rejected,
    Split,
    TaskType,
)
from climbflow.catalog.chexpert import ALLOWED_VALUES, LABELS, CheXpert, CheXpertOptions
from climbflow.catalog.images import decode_image
from climbflow.catalog.rows import csv_header, csv_rows, file_rejection

METADATA = "mimic-cxr-2.0.0-metadata.csv.gz"
CHEXPERT = "mimic-cxr-2.0.0-chexpert.csv.gz"
SPLIT = "mimic-cxr-2.0.0-split.csv.gz"
FILES_DIR = "files"
DATA_DIRS: tuple[str, ...] = ("", "mimic-cxr-jpg/2.0.0", "2.0.0")
METADATA_COLUMNS: tuple[str, ...] = (
    "dicom_id",
    "subject_id",
    "study_id",
    "PerformedProcedureStepDescription",
    "ViewPosition",
    "Rows",
    "Columns",
    "StudyDate",
    "StudyTime",
)
SPLITS: dict[str, Split] = {"train": "train", "validate": "val", "test": "test"}
FRONTAL_VIEWS = frozenset({"PA", "AP", "AP AXIAL", "PA LLD", "AP LLD", "AP RLD", "PA RLD"})


class MIMICCXROptions(CheXpertOptions):
    """As CheXpert: ``uncertain`` (zeros | ones | ignore) reads -1 labels; ``frontal_only`` keeps PA/AP views."""


def _path(data: Path, name: str) -> Path | None:
    """``name`` (.csv.gz) or its decompressed ``.csv`` twin in ``data``."""
    for cand in (data / name, data / name.removesuffix(".gz")):
        if cand.is_file():
            return cand
    return None


def _data_dir(root: Path) -> Path | None:
    for sub in DATA_DIRS:
        if _path(root / sub, METADATA) is not None:
            return root / sub
    return None


def _header(path: Path) -> list[str]:
    try:
        return csv_header(path)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot be read ({exc})") from None


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a csv or csv.gz file; CatalogError if a column is missing or the file is unreadable."""
    try:
        yield from csv_rows(path, columns)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot be read ({exc})") from None


def image_path(subject_id: int | str, study_id: int | str, dicom_id: str) -> str:
    """``files/p10/p10000032/s50414267/<dicom_id>.jpg`` (relative to the dataset root)."""
    p = f"p{subject_id}"
    return f"{FILES_DIR}/{p[:3]}/{p}/s{study_id}/{dicom_id}.jpg"


class MIMICCXR(DatasetSpec):
    name: ClassVar[str] = "mimic_cxr"
    patient_namespace: ClassVar[str | None] = "mimic"  # subject_id, shared with MIMIC-IV
    title: ClassVar[str] = "MIMIC-CXR-JPG 2.0.0 chest radiographs, 14 CheXpert observations"
    modality: ClassVar[str] = "image2d"
    task: ClassVar[TaskType] = "multilabel"
    classes: ClassVar[tuple[str, ...]] = LABELS
    license: ClassVar[str] = (
        "PhysioNet Credentialed Health Data License 1.5.0 (credentialed access, CITI training, signed DUA)"
    )
    layout: ClassVar[str] = (
        f"<root>/{{{METADATA},{CHEXPERT},{SPLIT}}} + <root>/files/p10/p10000032/s50414267/<dicom_id>.jpg"
    )
    official_split: ClassVar[bool] = True
    Options: ClassVar[type[MIMICCXROptions]] = MIMICCXROptions

    options: MIMICCXROptions

    def detect(self, root: Path) -> bool:
        data = _data_dir(Path(root))
        if data is None:
            return False
        header = _header(_path(data, METADATA))  # type: ignore[arg-type]
        return "dicom_id" in header and "ViewPosition" in header

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        data = _data_dir(root)
        if data is None:
            raise CatalogError(f"{root}: {METADATA} not found (expected {self.layout})")
        paths = {}
        for name in (METADATA, CHEXPERT, SPLIT):
            path = _path(data, name)
            if path is None:
                raise CatalogError(f"{data / name}: metadata file missing")
            paths[name] = path
        prefix = data.relative_to(root)
        labels = self._labels(paths[CHEXPERT])
        splits = self._splits(paths[SPLIT])
        source = (prefix / paths[METADATA].name).as_posix()
        seen: set[str] = set()
        for line, row in _rows(paths[METADATA], METADATA_COLUMNS):
            item = self._record(root, prefix, source, line, row, labels, splits, seen)
            if item is not None:
                yield item

    def _labels(self, path: Path) -> dict[tuple[str, str], tuple[int, dict[str, str]]]:
        """(subject_id, study_id) -> (csv line, label cells)."""
        out: dict[tuple[str, str], tuple[int, dict[str, str]]] = {}
        for line, row in _rows(path, ("subject_id", "study_id", *LABELS)):
            key = ((row["subject_id"] or "").strip(), (row["study_id"] or "").strip())
            out.setdefault(key, (line, {c: (row[c] or "").strip() for c in LABELS}))
        return out

    def _splits(self, path: Path) -> dict[str, str]:
        out: dict[str, str] = {}
        for _, row in _rows(path, ("dicom_id", "study_id", "subject_id", "split")):
            out.setdefault((row["dicom_id"] or "").strip(), (row["split"] or "").strip())
        return out

    def _record(
        self,
        root: Path,
        prefix: Path,
        source: str,
        line: int,
        row: dict[str, str],
        labels: dict[tuple[str, str], tuple[int, dict[str, str]]],
        splits: dict[str, str],
        seen: set[str],
    ) -> RawRecord | Rejected | None:
        cell = {k: (row[k] or "").strip() for k in METADATA_COLUMNS}
        dicom, subject, study = cell["dicom_id"], cell["subject_id"], cell["study_id"]
        view = cell["ViewPosition"]
        where = f"{source} line {line}"
        record_id = dicom or f"{source}:{line}"
        if not dicom or not subject.isdigit() or not study.isdigit():
            return Rejected(
                record_id,
                source,
                "bad_id",
                f"{where}: dicom_id {dicom!r}, subject_id {subject!r}, study_id {study!r}",
            )
        if dicom in seen:
            return Rejected(record_id, source, "duplicate_record", f"{where}: dicom_id {dicom} repeated")
        seen.add(dicom)
        if self.options.frontal_only and view.upper() not in FRONTAL_VIEWS:
            return None
        split_src = (prefix / SPLIT).as_posix()
        raw_split = splits.get(dicom)
        if raw_split is None:
            return Rejected(
                record_id, split_src, "missing_split", f"{where}: dicom_id {dicom} not in {SPLIT}"
            )
        if raw_split not in SPLITS:
            return Rejected(
                record_id,
                split_src,
                "bad_split",
                f"{SPLIT}: dicom_id {dicom} has split {raw_split!r}; allowed {sorted(SPLITS)}",
            )
        label_src = (prefix / CHEXPERT).as_posix()
        found = labels.get((subject, study))
        if found is None:
            return Rejected(
                record_id,
                label_src,
                "unlabeled_study",
                f"{where}: study s{study} of p{subject} has no row in {CHEXPERT}",
            )
        label_line, cells = found
        target: list[float] = []
        for column in LABELS:
            value = self._label(cells[column])
            if value is None:
                return Rejected(
                    record_id,
                    label_src,
                    "bad_label_value",
                    f"{CHEXPERT} line {label_line}: column {column!r} has value {cells[column]!r}; "
                    f"allowed {ALLOWED_VALUES}",
                )
            target.append(value)
        rel = (prefix / image_path(subject, study, dicom)).as_posix()
        refused = file_rejection(root, rel, "dicom_id", dicom, record_id, source, where)
        if refused:
            return refused
        return RawRecord(
            record_id=dicom,
            patient_id=subject,
            files=(rel,),
            target=tuple(target),
            source_labels=json.dumps({c: v for c, v in cells.items() if v}),
            split=SPLITS[raw_split],
            meta={"study_id": study, "view": view or None},
        )

    _label = CheXpert._label  # csv cell -> value under ``options.uncertain`` (None: not 1/0/-1/blank)

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """8-bit grayscale (H, W) array of the record's JPG."""
        return decode_image(Path(root) / record.files[0], "gray", self.decode_size)
