"""ISIC 2020 Challenge (SIIM-ISIC melanoma), training set, read from its real layout.

``ISIC_2020_Training_GroundTruth.csv`` (image_name, patient_id, sex, age_approx, anatom_site_general_challenge,
diagnosis, benign_malignant, target) names one JPG per row in ``train/<image_name>.jpg`` (the challenge's
``ISIC_2020_Training_JPEG.zip`` folder; ``ISIC_2020_Training_JPEG/`` is accepted too). Binary as CLIMB: the label
is ``benign_malignant == "malignant"`` (the ``target`` column must agree). No official split: the standardize
stage hash-splits by ``patient_id`` (about 16 images per patient in the real set).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from climbflow.catalog.base import CatalogError, DatasetSpec, RawRecord, Rejected, TaskType
from climbflow.catalog.images import decode_image, parse_age
from climbflow.catalog.rows import csv_rows, file_rejection
from climbflow.catalog.values import finite_float

CLASSES: tuple[str, ...] = ("Malignant",)
GROUND_TRUTH = "ISIC_2020_Training_GroundTruth.csv"
IMAGE_DIRS: tuple[str, ...] = ("train", "ISIC_2020_Training_JPEG")
COLUMNS: tuple[str, ...] = (
    "image_name",
    "patient_id",
    "sex",
    "age_approx",
    "anatom_site_general_challenge",
    "diagnosis",
    "benign_malignant",
    "target",
)
_LABELS = {"benign": 0.0, "malignant": 1.0}


class ISIC2020(DatasetSpec):
    name: ClassVar[str] = "isic2020"
    title: ClassVar[str] = "ISIC 2020 dermoscopy, malignant (melanoma) vs benign"
    modality: ClassVar[str] = "image2d"
    task: ClassVar[TaskType] = "binary"
    classes: ClassVar[tuple[str, ...]] = CLASSES
    license: ClassVar[str] = "CC BY-NC 4.0 (ISIC Archive, SIIM-ISIC 2020 challenge)"
    layout: ClassVar[str] = (
        f"<root>/{GROUND_TRUTH} (image_name, patient_id, sex, age_approx, anatom_site_general_challenge, "
        "diagnosis, benign_malignant, target) + <root>/train/<image_name>.jpg"
    )
    official_split: ClassVar[bool] = False

    def detect(self, root: Path) -> bool:
        return (Path(root) / GROUND_TRUTH).is_file()

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        path = root / GROUND_TRUTH
        if not path.is_file():
            raise CatalogError(f"{path}: ground-truth file missing (expected {self.layout})")
        folder = next((d for d in IMAGE_DIRS if (root / d).is_dir()), None)
        if folder is None:
            raise CatalogError(f"{root}: image folder missing (one of {list(IMAGE_DIRS)})")
        seen: set[str] = set()
        for line, row in csv_rows(path, COLUMNS):
            yield self._record(root, folder, row, line, seen)

    def _record(
        self, root: Path, folder: str, row: dict[str, str], line: int, seen: set[str]
    ) -> RawRecord | Rejected:
        cell = {k: (row[k] or "").strip() for k in COLUMNS}
        where = f"{GROUND_TRUTH} line {line}"
        record_id = cell["image_name"] or f"{GROUND_TRUTH}:{line}"
        if not cell["image_name"]:
            return Rejected(record_id, GROUND_TRUTH, "missing_image_id", f"{where}: empty image_name")
        if record_id in seen:
            return Rejected(record_id, GROUND_TRUTH, "duplicate_record", f"{where}: {record_id} repeated")
        seen.add(record_id)
        if not cell["patient_id"]:
            return Rejected(record_id, GROUND_TRUTH, "missing_patient_id", f"{where}: empty patient_id")
        label = _LABELS.get(cell["benign_malignant"].lower())
        if label is None:
            return Rejected(
                record_id,
                GROUND_TRUTH,
                "unknown_label",
                f"{where}: benign_malignant {cell['benign_malignant']!r}; allowed ['benign', 'malignant']",
            )
        if finite_float(cell["target"]) != label:
            return Rejected(
                record_id,
                GROUND_TRUTH,
                "label_conflict",
                f"{where}: target {cell['target']!r} disagrees with benign_malignant {cell['benign_malignant']!r}",
            )
        rel = f"{folder}/{record_id}.jpg"
        refused = file_rejection(root, rel, "image_name", record_id, record_id, GROUND_TRUTH, where)
        if refused:
            return refused
        return RawRecord(
            record_id=record_id,
            patient_id=cell["patient_id"],
            files=(rel,),
            target=(label,),
            source_labels=json.dumps(
                {"diagnosis": cell["diagnosis"], "benign_malignant": cell["benign_malignant"]}
            ),
            split=None,
            meta={
                "age": parse_age(cell["age_approx"]),
                "sex": {"male": "M", "female": "F"}.get(cell["sex"].lower()),
                "site": cell["anatom_site_general_challenge"] or None,
            },
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """uint8 RGB (H, W, 3) of the record's JPG."""
        return decode_image(Path(root) / record.files[0], "rgb", self.decode_size)
