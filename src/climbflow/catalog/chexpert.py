"""CheXpert (Stanford), read from its real layout: ``CheXpert-v1.0-small/{train,valid}.csv`` + JPGs.

The csv ``Path`` column is relative to the folder that *contains* ``CheXpert-v1.0-small`` (e.g.
``CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg``). The dataset root given to
:meth:`CheXpert.index` / :meth:`CheXpert.decode` may be that containing folder or the
``CheXpert-v1.0-small`` (or full-resolution ``CheXpert-v1.0``) folder itself.

Labels follow CLIMB: blank -> 0, uncertain (-1) -> the ``uncertain`` option (0, 1 or NaN = ignored).
``valid.csv`` is the official evaluation set (split ``test``); ``train.csv`` records get no split so that
the standardize stage hash-splits them by patient.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from climbflow.catalog.base import (
    CatalogError,
    DatasetSpec,
    RawRecord,
    Rejected,
    Split,
    TaskType,
    unsafe_path,
)
from climbflow.catalog.images import read_image
from climbflow.catalog.rows import csv_header, csv_rows

logger = logging.getLogger(__name__)

LABELS: tuple[str, ...] = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)
# CheXpert's label hierarchy: Consolidation, Edema and Pneumonia are kinds of Lung Opacity (Irvin et al.
# 2019). Sources mapped onto CheXpert-14 (VinDr-CXR) apply it (:func:`with_parents`); CheXpert's and
# MIMIC-CXR's own labels are kept as the CheXpert labeler wrote them.
LUNG_OPACITY_CHILDREN = frozenset({"Consolidation", "Edema", "Pneumonia"})
CXR_LABELS_VERSION = "cxr-labels-2"  # bump when a mapping onto CheXpert-14 changes (stage cache key)
META_COLUMNS: tuple[str, ...] = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA")
DATA_DIRS: tuple[str, ...] = ("CheXpert-v1.0-small", "CheXpert-v1.0")
CSV_SPLITS: tuple[tuple[str, Split | None], ...] = (("train.csv", None), ("valid.csv", "test"))
ALLOWED_VALUES = "1.0, 0.0, -1.0 (uncertain) or blank"
_PATIENT = re.compile(r"^patient\d+$")
_SEX = {"male": "M", "female": "F"}


def with_parents(classes: set[str]) -> set[str]:
    """CheXpert-14 classes plus the parent they imply (Consolidation/Edema/Pneumonia -> Lung Opacity)."""
    return classes | ({"Lung Opacity"} if classes & LUNG_OPACITY_CHILDREN else set())


class CheXpertOptions(BaseModel):
    """``uncertain``: how -1 labels are read; ``frontal_only``: drop lateral views."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uncertain: Literal["zeros", "ones", "ignore"] = "zeros"
    frontal_only: bool = False


def _data_dir(root: Path) -> Path | None:
    """The folder holding train.csv/valid.csv: ``root/CheXpert-v1.0-small`` or ``root`` itself."""
    for name in DATA_DIRS:
        if (root / name / "train.csv").is_file() or (root / name / "valid.csv").is_file():
            return root / name
    if (root / "train.csv").is_file() or (root / "valid.csv").is_file():
        return root
    return None


class CheXpert(DatasetSpec):
    name: ClassVar[str] = "chexpert"
    title: ClassVar[str] = "CheXpert v1.0 (small) chest radiographs, 14 observations"
    modality: ClassVar[str] = "image2d"
    task: ClassVar[TaskType] = "multilabel"
    classes: ClassVar[tuple[str, ...]] = LABELS
    license: ClassVar[str] = "Stanford University CheXpert Dataset Research Use Agreement (registration)"
    layout: ClassVar[str] = (
        "<root>/CheXpert-v1.0-small/{train,valid}.csv (Path, Sex, Age, Frontal/Lateral, AP/PA, 14 labels "
        "with 1.0/0.0/-1.0/blank) + <root>/CheXpert-v1.0-small/{train,valid}/patientNNNNN/studyN/viewN_*.jpg"
    )
    official_split: ClassVar[bool] = True
    Options: ClassVar[type[BaseModel]] = CheXpertOptions
    max_pixels: ClassVar[int] = 64_000_000  # decompression-bomb guard (full-res CheXpert is ~7 Mpx)

    options: CheXpertOptions

    def detect(self, root: Path) -> bool:
        data = _data_dir(Path(root))
        if data is None:
            return False
        csv_path = next(p for p in (data / "train.csv", data / "valid.csv") if p.is_file())
        header = csv_header(csv_path)
        return "Path" in header and "Frontal/Lateral" in header

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        data = _data_dir(root)
        if data is None:
            raise CatalogError(
                f"{root}: no CheXpert-v1.0-small/train.csv or valid.csv found (expected {self.layout})"
            )
        prefix = data.relative_to(root)
        for csv_name, _ in CSV_SPLITS:
            if not (data / csv_name).is_file():
                raise CatalogError(f"{data / csv_name}: metadata file missing")
        seen: set[str] = set()
        for csv_name, split in CSV_SPLITS:
            yield from self._index_csv(root, prefix, csv_name, split, seen)

    def _index_csv(
        self, root: Path, prefix: Path, csv_name: str, split: Split | None, seen: set[str]
    ) -> Iterator[RawRecord | Rejected]:
        csv_path = root / prefix / csv_name
        source = (prefix / csv_name).as_posix()
        skipped = 0
        for line, row in csv_rows(csv_path, (*META_COLUMNS, *LABELS)):
            if self.options.frontal_only and (row["Frontal/Lateral"] or "").strip() != "Frontal":
                skipped += 1
                continue
            yield self._record(root, prefix, source, line, row, split, seen)
        if skipped:
            logger.info("%s: %d lateral views skipped (frontal_only)", source, skipped)

    def _record(
        self,
        root: Path,
        prefix: Path,
        source: str,
        line: int,
        row: dict[str, str],
        split: Split | None,
        seen: set[str],
    ) -> RawRecord | Rejected:
        raw_path = (row["Path"] or "").strip()
        problem = unsafe_path(raw_path)
        if problem:
            return Rejected(raw_path, source, "unsafe_path", f"{source} line {line}: Path {problem}")
        parts = PurePosixPath(raw_path).parts
        if parts and parts[0] in DATA_DIRS:
            parts = parts[1:]
        inner = PurePosixPath(*parts) if parts else PurePosixPath()
        record_id = inner.with_suffix("").as_posix() if parts else f"{source}:{line}"
        patient = next((p for p in parts if _PATIENT.match(p)), None)
        if patient is None:
            return Rejected(
                record_id, source, "bad_path", f"{source} line {line}: Path {raw_path!r} has no patientNNNNN"
            )
        if record_id in seen:
            return Rejected(
                record_id, source, "duplicate_record", f"{source} line {line}: Path {raw_path!r} repeated"
            )
        seen.add(record_id)
        rel = (prefix / inner).as_posix()
        target: list[float] = []
        given: dict[str, str] = {}
        for column in LABELS:
            raw = (row[column] or "").strip()
            value = self._label(raw)
            if value is None:
                return Rejected(
                    record_id,
                    source,
                    "bad_label_value",
                    f"{source} line {line}: column {column!r} has value {raw!r}; allowed {ALLOWED_VALUES}",
                )
            target.append(value)
            if raw:
                given[column] = raw
        if not (root / rel).is_file():
            return Rejected(record_id, source, "missing_file", f"{source} line {line}: image {rel} not found")
        age = (row["Age"] or "").strip()
        return RawRecord(
            record_id=record_id,
            patient_id=patient,
            files=(rel,),
            target=tuple(target),
            source_labels=json.dumps(given),
            split=split,
            meta={
                "age": int(float(age)) if age.replace(".", "", 1).isdigit() else None,
                "sex": _SEX.get((row["Sex"] or "").strip().lower()),
                "view": (row["Frontal/Lateral"] or "").strip() or None,
                "ap_pa": (row["AP/PA"] or "").strip() or None,
            },
        )

    def _label(self, raw: str) -> float | None:
        """csv cell -> target value; None when the cell is not 1/0/-1/blank."""
        if raw == "":
            return 0.0
        try:
            value = float(raw)
        except ValueError:
            return None
        if value == 1.0 or value == 0.0:
            return value
        if value == -1.0:
            return {"zeros": 0.0, "ones": 1.0, "ignore": math.nan}[self.options.uncertain]
        return None

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """8-bit grayscale (H, W) array of the record's JPG; RecordError for missing/empty/corrupt/huge files."""
        sizes: list[tuple[int, int]] = []
        path = Path(root) / record.files[0]
        arr = read_image(
            path, "gray", max_pixels=self.max_pixels, draft_size=self.decode_size, original=sizes
        )
        return arr, {"sampling_rate": None, "orig_size": sizes[0], "meta": {"orig_size": list(sizes[0])}}
