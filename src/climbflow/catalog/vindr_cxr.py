"""VinDr-CXR (PhysioNet ``vindr-cxr/1.0.0``), read from its real layout, with DICOM de-identification.

Layout: ``annotations/image_labels_train.csv`` (``image_id``, ``rad_ID``, 28 finding/diagnosis columns with
0/1; three radiologists, so three rows per training image), ``annotations/image_labels_test.csv`` (one
consensus row per image; ``rad_ID`` optional) and the images ``train/<image_id>.dicom``,
``test/<image_id>.dicom``. The official split is kept: test images are the ``test`` split; training images
get no split so that standardize hash-splits them by patient into train/val (no test share, as for CheXpert).

Labels follow CLIMB (``src/datasets/chest_xray/vindr_cxr.py``): the 28 VinDr labels map onto the CheXpert-14
vocabulary (:data:`MAPPING`; Calcification, Emphysema, ILD, COPD, Tuberculosis, Pulmonary fibrosis, Other
diseases are dropped) so the classes equal CheXpert's and the vocabularies merge. Two corrections to CLIMB, so
a merged column means the same in every source: Mediastinal shift (a displaced, not a widened mediastinum) is
dropped instead of counted as Enlarged Cardiomediastinum, and CheXpert's hierarchy is applied to each
reader's mapped labels (Consolidation, Edema, Pneumonia imply Lung Opacity,
:func:`~climbflow.catalog.chexpert.with_parents`). CLIMB reads the three
readers' rows positionally against a glob of converted JPGs (labels and images do not line up) and never
aggregates them; here each reader's labels are mapped first, then aggregated per CheXpert class by
**majority vote** (more than half of the image's readers; option ``aggregate: any`` = any reader). No Finding
is positive only when no other class is. Images with no mappable positive label are rejected
(``no_mappable_label``), as CLIMB drops them from its QA files; so are images where the readers' mapped labels
all miss the majority (``no_majority``).

``patient_id`` is a keyed pseudonym of the DICOM Patient ID (header only read at index time; the image id
when the header has none); the train/val hash split uses a salt-free key of the same identity
(``split_key``), so it does not depend on the workspace's salt. Decoding de-identifies the header
(:mod:`climbflow.catalog.dicom`) and returns the windowed uint8 image with a PHI-free header summary as
``props["meta"]``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
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
)
from climbflow.catalog.chexpert import CXR_LABELS_VERSION, LABELS, with_parents
from climbflow.catalog.dicom import DicomImageMixin
from climbflow.catalog.rows import csv_header, file_rejection, open_csv

# The 28 label columns of image_labels_{train,test}.csv, in file order (22 local findings + 6 diagnoses).
VINDR_LABELS: tuple[str, ...] = (
    "Aortic enlargement",
    "Atelectasis",
    "Calcification",
    "Cardiomegaly",
    "Clavicle fracture",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Enlarged PA",
    "ILD",
    "Infiltration",
    "Lung Opacity",
    "Lung cavity",
    "Lung cyst",
    "Mediastinal shift",
    "Nodule/Mass",
    "Pleural effusion",
    "Pleural thickening",
    "Pneumothorax",
    "Pulmonary fibrosis",
    "Rib fracture",
    "Other lesion",
    "COPD",
    "Lung tumor",
    "Pneumonia",
    "Tuberculosis",
    "Other diseases",
    "No finding",
)
ALIASES: dict[str, str] = {"Other disease": "Other diseases"}  # the bounding-box csv spells it singular
# VinDr -> CheXpert-14 (None = dropped): CLIMB's mapping except Mediastinal shift (see the module docstring).
MAPPING: dict[str, str | None] = {
    "Aortic enlargement": "Enlarged Cardiomediastinum",
    "Atelectasis": "Atelectasis",
    "Calcification": None,
    "Cardiomegaly": "Cardiomegaly",
    "Clavicle fracture": "Fracture",
    "Consolidation": "Consolidation",
    "Edema": "Edema",
    "Emphysema": None,
    "Enlarged PA": "Enlarged Cardiomediastinum",
    "ILD": None,
    "Infiltration": "Lung Opacity",
    "Lung Opacity": "Lung Opacity",
    "Lung cavity": "Lung Lesion",
    "Lung cyst": "Lung Lesion",
    "Mediastinal shift": None,  # CLIMB: Enlarged Cardiomediastinum; a shift is a displacement, not a widening
    "Nodule/Mass": "Lung Lesion",
    "Pleural effusion": "Pleural Effusion",
    "Pleural thickening": "Pleural Other",
    "Pneumothorax": "Pneumothorax",
    "Pulmonary fibrosis": None,
    "Rib fracture": "Fracture",
    "Other lesion": "Lung Lesion",
    "COPD": None,
    "Lung tumor": "Lung Lesion",
    "Pneumonia": "Pneumonia",
    "Tuberculosis": None,
    "Other diseases": None,
    "No finding": "No Finding",
}
LABEL_CSVS: tuple[tuple[str, Split | None], ...] = (
    ("annotations/image_labels_train.csv", None),
    ("annotations/image_labels_test.csv", "test"),
)
SUFFIX = ".dicom"
_RAD = ("rad_id", "rad_ID", "rad_Id")


class VinDrCXROptions(BaseModel):
    """``aggregate``: how the readers of a training image are combined; ``burned_in``: what to do with an
    image whose header says Burned In Annotation = YES (``flag`` in meta, or ``reject`` the record)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aggregate: Literal["majority", "any"] = "majority"
    burned_in: Literal["flag", "reject"] = "flag"


def aggregate(readers: list[set[str]], rule: str) -> tuple[float, ...]:
    """Per-reader VinDr label sets -> CheXpert-14 target: map each reader, then vote per class."""
    mapped = [with_parents({MAPPING[n] for n in labels if MAPPING[n] is not None}) for labels in readers]
    need = len(readers) // 2 + 1 if rule == "majority" else 1
    positive = {c for c in LABELS if sum(c in m for m in mapped) >= need}
    findings = positive - {"No Finding"}
    if findings:
        positive = findings
    return tuple(1.0 if c in positive else 0.0 for c in LABELS)


class VinDrCXR(DicomImageMixin, DatasetSpec):
    name: ClassVar[str] = "vindr_cxr"
    title: ClassVar[str] = "VinDr-CXR chest radiographs (DICOM), 28 labels mapped to CheXpert-14"
    modality: ClassVar[str] = "image2d"
    task: ClassVar[TaskType] = "multilabel"
    classes: ClassVar[tuple[str, ...]] = LABELS
    license: ClassVar[str] = "PhysioNet Credentialed Health Data License 1.5.0 (credentialed access + DUA)"
    layout: ClassVar[str] = (
        "<root>/annotations/image_labels_{train,test}.csv (image_id, rad_ID, 28 labels 0/1; 3 readers per "
        "train image, 1 consensus row per test image) + <root>/{train,test}/<image_id>.dicom"
    )
    official_split: ClassVar[bool] = True
    Options: ClassVar[type[BaseModel]] = VinDrCXROptions

    options: VinDrCXROptions

    def cache_token(self) -> str | None:
        return f"{super().cache_token()}; labels:{CXR_LABELS_VERSION}"

    def detect(self, root: Path) -> bool:
        root = Path(root)
        for rel, _ in LABEL_CSVS:
            if (root / rel).is_file():
                header = csv_header(root / rel)
                return "image_id" in header and "Aortic enlargement" in header
        return False

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        for rel, _ in LABEL_CSVS:
            if not (root / rel).is_file():
                raise CatalogError(f"{root / rel}: metadata file missing (expected {self.layout})")
        seen: set[str] = set()
        for rel, split in LABEL_CSVS:
            yield from self._index_csv(root, rel, split, seen)

    def _index_csv(
        self, root: Path, rel: str, split: Split | None, seen: set[str]
    ) -> Iterator[RawRecord | Rejected]:
        images: dict[str, list[tuple[int, str, dict[str, str]]]] = {}  # image_id -> (line, reader, labels)
        with open_csv(root / rel) as fh:
            reader = csv.DictReader(fh)
            columns = _label_columns(root / rel, reader.fieldnames or [])
            rad = next((c for c in _RAD if c in (reader.fieldnames or [])), None)
            for row in reader:
                image_id = (row["image_id"] or "").strip()
                who = (row[rad] or "").strip() if rad else ""
                labels = {name: (row[col] or "").strip() for name, col in columns.items()}
                images.setdefault(image_id, []).append((reader.line_num, who, labels))
        for image_id, rows in images.items():
            yield self._record(root, rel, split, image_id, rows, seen)

    def _record(
        self,
        root: Path,
        source: str,
        split: Split | None,
        image_id: str,
        rows: list[tuple[int, str, dict[str, str]]],
        seen: set[str],
    ) -> RawRecord | Rejected:
        first = rows[0][0]
        if not image_id:
            return Rejected(
                f"{source}:{first}", source, "bad_image_id", f"{source} line {first}: empty image_id"
            )
        if image_id in seen:
            return Rejected(
                image_id,
                source,
                "duplicate_record",
                f"{source} line {first}: image_id {image_id} also listed earlier",
            )
        seen.add(image_id)
        readers: list[set[str]] = []
        given: dict[str, list[str]] = {}
        for k, (line, who, labels) in enumerate(rows):
            positive: set[str] = set()
            for name, raw in labels.items():
                value = _flag(raw)
                if value is None:
                    return Rejected(
                        image_id,
                        source,
                        "bad_label_value",
                        f"{source} line {line}: column {name!r} has value {raw!r}; allowed 0 or 1",
                    )
                if value:
                    positive.add(name)
            readers.append(positive)
            given[who or f"row{k + 1}"] = sorted(positive)
        target = aggregate(readers, self.options.aggregate)
        if not any(target):
            named = sorted(set().union(*readers))
            if all(MAPPING[n] is None for n in named):
                return Rejected(
                    image_id,
                    source,
                    "no_mappable_label",
                    f"{source} line {first}: labels {named} have no CheXpert-14 counterpart",
                )
            return Rejected(
                image_id,
                source,
                "no_majority",
                f"{source} line {first}: no label has a majority of the {len(rows)} readers ({given})",
            )
        rel = f"{'test' if split == 'test' else 'train'}/{image_id}{SUFFIX}"
        refused = file_rejection(root, rel, "image_id", image_id, image_id, source, f"{source} line {first}")
        if refused:
            return refused
        patient, key = self.header_identity(root / rel, image_id)
        return RawRecord(
            record_id=image_id,
            patient_id=patient,
            files=(rel,),
            target=target,
            source_labels=json.dumps(given, sort_keys=True),
            split=split,
            meta={"n_readers": len(rows), "aggregate": self.options.aggregate if len(rows) > 1 else "single"},
            split_key=key,
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """De-identified, windowed uint8 (H, W) image; RecordError for missing/empty/corrupt/huge files."""
        pixels, meta = self.read_deidentified(
            Path(root) / record.files[0],
            record.record_id,
            reject_burned_in=self.options.burned_in == "reject",
        )
        return pixels, {
            "sampling_rate": None,
            "orig_size": (int(pixels.shape[0]), int(pixels.shape[1])),
            "meta": meta,
        }


def _label_columns(path: Path, header: list[str]) -> dict[str, str]:
    """VinDr label name -> csv column; CatalogError for a missing or unknown label column."""
    if "image_id" not in header:
        raise CatalogError(f"{path}: required column 'image_id' missing (columns: {header})")
    columns: dict[str, str] = {}
    for col in header:
        if col == "image_id" or col in _RAD:
            continue
        name = ALIASES.get(col, col)
        if name not in MAPPING:
            raise CatalogError(f"{path}: unknown label column {col!r}; known: {list(VINDR_LABELS)}")
        columns[name] = col
    for name in VINDR_LABELS:
        if name not in columns:
            raise CatalogError(f"{path}: required column {name!r} missing (columns: {header})")
    return columns


def _flag(raw: str) -> int | None:
    """A 0/1 label cell (``1``, ``1.0``, ``0``...) -> 0 or 1; None for anything else."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return int(value) if value in (0.0, 1.0) else None
