"""HAM10000 dermoscopy (Kaggle / Harvard Dataverse copy), read from its real layout.

``HAM10000_metadata.csv`` (lesion_id, image_id, dx, dx_type, age, sex, localization) names one JPG per row,
stored in ``HAM10000_images_part_1/`` or ``HAM10000_images_part_2/`` as ``<image_id>.jpg``. Labels follow CLIMB:
the seven ``dx`` codes map to five classes (bkl, df and vasc merge into ``Other``), multiclass. There is no
official split; the patient is the lesion (``lesion_id``), so all images of one lesion share a split.

"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from climbflow.catalog.base import CatalogError, DatasetSpec, RawRecord, Rejected, TaskType
from climbflow.catalog.images import decode_image, one_hot, parse_age
from climbflow.catalog.rows import csv_header, csv_rows

CLASSES: tuple[str, ...] = ("Melanoma", "Nevus", "Basal Cell Carcinoma", "AKIEC", "Other")
DX_TO_CLASS: dict[str, str] = {
    "mel": "Melanoma",
    "nv": "Nevus",
    "bcc": "Basal Cell Carcinoma",
    "akiec": "AKIEC",
    "bkl": "Other",
    "df": "Other",
    "vasc": "Other",
}
METADATA = "HAM10000_metadata.csv"
IMAGE_DIRS: tuple[str, ...] = ("HAM10000_images_part_1", "HAM10000_images_part_2")
COLUMNS: tuple[str, ...] = ("lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization")


class HAM10000(DatasetSpec):
    name: ClassVar[str] = "ham10000"
    title: ClassVar[str] = "HAM10000 dermoscopy, 5 classes (MEL, NV, BCC, AKIEC, OTHER) as CLIMB"
    modality: ClassVar[str] = "image2d"
    task: ClassVar[TaskType] = "multiclass"
    classes: ClassVar[tuple[str, ...]] = CLASSES
    license: ClassVar[str] = "CC BY-NC 4.0 (Harvard Dataverse / Kaggle: kmader/skin-cancer-mnist-ham10000)"
    layout: ClassVar[str] = (
        "<root>/HAM10000_metadata.csv (lesion_id, image_id, dx, dx_type, age, sex, localization) + "
        "<root>/HAM10000_images_part_{1,2}/<image_id>.jpg"
    )
    official_split: ClassVar[bool] = False

    def detect(self, root: Path) -> bool:
        path = Path(root) / METADATA
        if not path.is_file():
            return False
        header = csv_header(path)
        return "lesion_id" in header and "dx" in header

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        path = root / METADATA
        if not path.is_file():
            raise CatalogError(f"{path}: metadata file missing (expected {self.layout})")
        present = {d: {p.name for p in (root / d).glob("*.jpg")} for d in IMAGE_DIRS if (root / d).is_dir()}
        if not present:
            raise CatalogError(f"{root}: neither of the image folders {list(IMAGE_DIRS)} exists")
        seen: set[str] = set()
        for line, row in csv_rows(path, COLUMNS):
            yield self._record(row, line, present, seen)

    def _record(
        self, row: dict[str, str], line: int, present: dict[str, set[str]], seen: set[str]
    ) -> RawRecord | Rejected:
        where = f"{METADATA} line {line}"
        image_id = (row["image_id"] or "").strip()
        lesion = (row["lesion_id"] or "").strip()
        dx = (row["dx"] or "").strip().lower()
        record_id = image_id or f"{METADATA}:{line}"
        if not image_id:
            return Rejected(record_id, METADATA, "missing_image_id", f"{where}: empty image_id")
        if record_id in seen:
            return Rejected(record_id, METADATA, "duplicate_record", f"{where}: image_id {image_id} repeated")
        seen.add(record_id)
        if not lesion:
            return Rejected(record_id, METADATA, "missing_patient_id", f"{where}: empty lesion_id")
        if dx not in DX_TO_CLASS:
            return Rejected(
                record_id, METADATA, "unknown_label", f"{where}: dx {dx!r}; allowed {sorted(DX_TO_CLASS)}"
            )
        folder = next((d for d, names in present.items() if f"{image_id}.jpg" in names), None)
        if folder is None:
            return Rejected(
                record_id, METADATA, "missing_file", f"{where}: {image_id}.jpg in neither {list(IMAGE_DIRS)}"
            )
        sex = (row["sex"] or "").strip().lower()
        return RawRecord(
            record_id=record_id,
            patient_id=lesion,
            files=(f"{folder}/{image_id}.jpg",),
            target=one_hot(CLASSES, DX_TO_CLASS[dx]),
            source_labels=json.dumps({"dx": dx, "dx_type": (row["dx_type"] or "").strip()}),
            split=None,
            meta={
                "age": parse_age((row["age"] or "").strip()),
                "sex": {"male": "M", "female": "F"}.get(sex),
                "localization": (row["localization"] or "").strip() or None,
            },
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """uint8 RGB (H, W, 3) of the record's JPG."""
        return decode_image(Path(root) / record.files[0], "rgb", self.decode_size)
