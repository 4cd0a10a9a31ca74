"""BUSI (Breast Ultrasound Images, Al-Dhabyani et al. 2020), read from its real layout.

``Dataset_BUSI_with_GT/{benign,malignant,normal}/<class> (N).png``; next to each image lie its segmentation
masks ``<class> (N)_mask.png`` (and ``_mask_1.png``, ... for a second lesion). Masks are not samples: they are
counted in the record's meta, and a mask without its image is not a record. The folder is the label (3 classes,
multiclass, named as CLIMB's answers). No patient ids, no official split: each image is hash-split on its own.
The root may be the folder containing ``Dataset_BUSI_with_GT`` or that folder itself.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from climbflow.catalog.base import CatalogError, DatasetSpec, RawRecord, Rejected, TaskType
from climbflow.catalog.images import decode_image, one_hot

logger = logging.getLogger(__name__)

CLASSES: tuple[str, ...] = ("Normal", "Benign", "Malignant")
FOLDERS: dict[str, str] = {"normal": "Normal", "benign": "Benign", "malignant": "Malignant"}
DATA_DIR = "Dataset_BUSI_with_GT"
_MASK = re.compile(r"^(?P<stem>.+)_mask(?:_\d+)?$", re.IGNORECASE)
_NAMED = re.compile(r"^(?P<cls>[a-z]+) \(\d+\)$", re.IGNORECASE)


def _data_dir(root: Path) -> Path | None:
    for cand in (root / DATA_DIR, root):
        if all((cand / f).is_dir() for f in FOLDERS):
            return cand
    return None


class BUSI(DatasetSpec):
    name: ClassVar[str] = "busi"
    title: ClassVar[str] = "BUSI breast ultrasound, normal / benign / malignant"
    modality: ClassVar[str] = "image2d"
    task: ClassVar[TaskType] = "multiclass"
    classes: ClassVar[tuple[str, ...]] = CLASSES
    license: ClassVar[str] = "CC0 1.0 (Kaggle: aryashah2k/breast-ultrasound-images-dataset)"
    layout: ClassVar[str] = (
        "<root>/Dataset_BUSI_with_GT/{benign,malignant,normal}/<class> (N).png + <class> (N)_mask.png masks"
    )
    official_split: ClassVar[bool] = False

    def detect(self, root: Path) -> bool:
        return _data_dir(Path(root)) is not None

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        data = _data_dir(root)
        if data is None:
            raise CatalogError(
                f"{root}: no {DATA_DIR}/{{{','.join(FOLDERS)}}} folders (expected {self.layout})"
            )
        prefix = data.relative_to(root)
        for folder, label in FOLDERS.items():
            names = sorted(p.name for p in (data / folder).iterdir() if p.suffix.lower() == ".png")
            stems = {Path(n).stem for n in names}
            masks: dict[str, int] = {}
            for n in names:
                m = _MASK.match(Path(n).stem)
                if m:
                    masks[m["stem"]] = masks.get(m["stem"], 0) + 1
            orphans = sorted(s for s in masks if s not in stems)
            if orphans:
                logger.info(
                    "%s/%s: %d masks without an image (not records): %s",
                    DATA_DIR,
                    folder,
                    len(orphans),
                    orphans,
                )
            for n in names:
                stem = Path(n).stem
                if _MASK.match(stem):
                    continue
                yield self._record(prefix, folder, label, n, masks.get(stem, 0))

    def _record(self, prefix: Path, folder: str, label: str, name: str, n_masks: int) -> RawRecord | Rejected:
        rel = (prefix / folder / name).as_posix()
        record_id = f"{folder}/{Path(name).stem}"
        named = _NAMED.match(Path(name).stem)
        if named and named["cls"].lower() in FOLDERS and named["cls"].lower() != folder:
            return Rejected(
                record_id,
                rel,
                "label_conflict",
                f"{rel}: file named {named['cls']!r} lies in folder {folder!r}",
            )
        return RawRecord(
            record_id=record_id,
            patient_id=record_id,
            files=(rel,),
            target=one_hot(CLASSES, label),
            source_labels=json.dumps({"folder": folder}),
            split=None,
            meta={"n_masks": n_masks},
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """uint8 image as stored: (H, W) for grayscale PNGs, (H, W, 3) for RGB ones (most BUSI files)."""
        return decode_image(Path(root) / record.files[0], "keep", self.decode_size)
