"""APTOS 2019 Blindness Detection (Kaggle competition), training set, read from its real layout.

``train.csv`` (id_code, diagnosis 0-4) names one fundus photograph per row in ``train_images/<id_code>.png``.
The five diabetic-retinopathy grades are multiclass, named as CLIMB's answers (No DR .. Proliferative DR).
``test.csv`` has no labels and is not read. There is no patient column (the two eyes of one patient are not
linked), so each image is its own patient and the standardize stage hash-splits by ``id_code``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from climbflow.catalog.base import CatalogError, DatasetSpec, RawRecord, Rejected, TaskType
from climbflow.catalog.images import decode_image, one_hot
from climbflow.catalog.rows import csv_header, csv_rows, file_rejection

CLASSES: tuple[str, ...] = ("No DR", "Mild DR", "Moderate DR", "Severe DR", "Proliferative DR")
TRAIN_CSV = "train.csv"
IMAGE_DIR = "train_images"
COLUMNS: tuple[str, ...] = ("id_code", "diagnosis")


class APTOS(DatasetSpec):
    name: ClassVar[str] = "aptos"
    title: ClassVar[str] = "APTOS 2019 fundus photographs, 5 diabetic-retinopathy grades"
    modality: ClassVar[str] = "image2d"
    task: ClassVar[TaskType] = "multiclass"
    classes: ClassVar[tuple[str, ...]] = CLASSES
    license: ClassVar[str] = (
        "Kaggle competition rules (APTOS 2019 Blindness Detection): non-commercial research"
    )
    layout: ClassVar[str] = "<root>/train.csv (id_code, diagnosis 0-4) + <root>/train_images/<id_code>.png"
    official_split: ClassVar[bool] = False

    def detect(self, root: Path) -> bool:
        path = Path(root) / TRAIN_CSV
        if not path.is_file() or not (Path(root) / IMAGE_DIR).is_dir():
            return False
        return csv_header(path)[:2] == list(COLUMNS)

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        path = root / TRAIN_CSV
        if not path.is_file():
            raise CatalogError(f"{path}: metadata file missing (expected {self.layout})")
        seen: set[str] = set()
        for line, row in csv_rows(path, COLUMNS):
            yield self._record(root, row, line, seen)

    def _record(self, root: Path, row: dict[str, str], line: int, seen: set[str]) -> RawRecord | Rejected:
        where = f"{TRAIN_CSV} line {line}"
        code = (row["id_code"] or "").strip()
        raw = (row["diagnosis"] or "").strip()
        record_id = code or f"{TRAIN_CSV}:{line}"
        if not code:
            return Rejected(record_id, TRAIN_CSV, "missing_image_id", f"{where}: empty id_code")
        if code in seen:
            return Rejected(record_id, TRAIN_CSV, "duplicate_record", f"{where}: id_code {code} repeated")
        seen.add(code)
        if raw not in {str(g) for g in range(len(CLASSES))}:
            return Rejected(record_id, TRAIN_CSV, "unknown_label", f"{where}: diagnosis {raw!r}; allowed 0-4")
        rel = f"{IMAGE_DIR}/{code}.png"
        refused = file_rejection(root, rel, "id_code", code, record_id, TRAIN_CSV, where)
        if refused:
            return refused
        return RawRecord(
            record_id=code,
            patient_id=code,
            files=(rel,),
            target=one_hot(CLASSES, CLASSES[int(raw)]),
            source_labels=json.dumps({"diagnosis": int(raw)}),
            split=None,
            meta={},
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """uint8 RGB (H, W, 3) of the record's PNG."""
        return decode_image(Path(root) / record.files[0], "rgb", self.decode_size)
