"""CBIS-DDSM (TCIA), read from its real layout, with DICOM de-identification.

Layout: the four description csvs ``{mass,calc}_case_description_{train,test}_set.csv`` (at the root or in
``csv/``; one row per abnormality: patient_id, breast density, left or right breast, image view, abnormality
id, abnormality type, assessment (BI-RADS 0-5), pathology (MALIGNANT / BENIGN / BENIGN_WITHOUT_CALLBACK),
image file path, ...) and the NBIA download ``CBIS-DDSM/<Subject ID>/<study folder>/<series folder>/1-1.dcm``
with its ``metadata.csv`` (Subject ID, Study UID, Series UID, File Location) when present. The csv ``image
file path`` is ``<Subject ID>/<Study UID>/<Series UID>/000000.dcm``; it is resolved through ``metadata.csv``,
else by the one DICOM file under ``CBIS-DDSM/<Subject ID>/`` (the full-mammogram series when there are
several).

Task as CLIMB (``src/datasets/mammo/cbis.py``): BI-RADS 1-5, multiclass, classes ``BIRAD 1``..``BIRAD 5`` (the
answer strings CLIMB shares with VinDr-Mammo). One record per mammogram, i.e. per (patient, breast, view) of
a split, over mass and calc rows: abnormalities assessed 0 (incomplete) are ignored, the highest remaining
assessment is the label (an image with only 0s is rejected: ``inconclusive_assessment``), and the DICOM of
that row is decoded. The pathology is aggregated into ``meta`` (malignant if any abnormality is). Official
split: ``*_test_set.csv`` -> ``test``; ``*_train_set.csv`` images get no split, so standardize hash-splits
them by patient into train/val (no test share, as for CheXpert). ``patient_id`` is the csv's case id
(``P_00001``, already TCIA's pseudonym; the DICOM Patient ID is never used: see the header summary).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
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
from climbflow.catalog.dicom import DicomImageMixin
from climbflow.catalog.rows import csv_header, open_csv

BIRADS_CLASSES: tuple[str, ...] = ("BIRAD 1", "BIRAD 2", "BIRAD 3", "BIRAD 4", "BIRAD 5")
DESCRIPTION_CSVS: tuple[tuple[str, Split | None], ...] = (
    ("mass_case_description_train_set.csv", None),
    ("calc_case_description_train_set.csv", None),
    ("mass_case_description_test_set.csv", "test"),
    ("calc_case_description_test_set.csv", "test"),
)
REQUIRED_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "left or right breast",
    "image view",
    "abnormality id",
    "abnormality type",
    "assessment",
    "pathology",
    "image file path",
)
DENSITY_COLUMNS: tuple[str, ...] = ("breast_density", "breast density")  # mass csvs / calc csvs
METADATA_COLUMNS: tuple[str, ...] = ("Subject ID", "Study UID", "Series UID", "File Location")
PATHOLOGIES: tuple[str, ...] = ("MALIGNANT", "BENIGN", "BENIGN_WITHOUT_CALLBACK")
IMAGE_DIR = "CBIS-DDSM"
SIDES = ("LEFT", "RIGHT")
VIEWS = ("CC", "MLO")


class CBISDDSMOptions(BaseModel):
    """``burned_in``: what to do with an image whose header says Burned In Annotation = YES."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    burned_in: Literal["flag", "reject"] = "flag"


@dataclass(frozen=True)
class _Row:
    source: str
    line: int
    split: Split | None
    patient: str
    side: str
    view: str
    abnormality: str  # "mass 1", "calcification 2"
    assessment: int
    pathology: str
    density: str
    path: str  # the csv's image file path


def _csv_dir(root: Path) -> Path | None:
    for cand in (root, root / "csv"):
        if (cand / DESCRIPTION_CSVS[0][0]).is_file() or (cand / DESCRIPTION_CSVS[1][0]).is_file():
            return cand
    return None


class CBISDDSM(DicomImageMixin, DatasetSpec):
    name: ClassVar[str] = "cbis_ddsm"
    title: ClassVar[str] = "CBIS-DDSM screening mammograms (DICOM), BI-RADS 1-5 per image"
    modality: ClassVar[str] = "image2d"
    task: ClassVar[TaskType] = "multiclass"
    classes: ClassVar[tuple[str, ...]] = BIRADS_CLASSES
    license: ClassVar[str] = "TCIA, CC BY 3.0 (cite Lee et al. 2017, Sci Data 4:170177)"
    layout: ClassVar[str] = (
        "<root>/[csv/]{mass,calc}_case_description_{train,test}_set.csv (patient_id, left or right breast, "
        "image view, abnormality id/type, assessment, pathology, image file path) + <root>/metadata.csv "
        "(NBIA) + <root>/CBIS-DDSM/<Subject ID>/<study>/<series>/1-1.dcm"
    )
    official_split: ClassVar[bool] = True
    Options: ClassVar[type[BaseModel]] = CBISDDSMOptions

    options: CBISDDSMOptions

    def detect(self, root: Path) -> bool:
        found = _csv_dir(Path(root))
        if found is None:
            return False
        path = next(found / n for n, _ in DESCRIPTION_CSVS if (found / n).is_file())
        header = csv_header(path)
        return "image file path" in header and "pathology" in header

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        found = _csv_dir(root)
        if found is None:
            raise CatalogError(f"{root}: no CBIS-DDSM description csvs found (expected {self.layout})")
        for name, _ in DESCRIPTION_CSVS:
            if not (found / name).is_file():
                raise CatalogError(f"{found / name}: metadata file missing")
        locations = _read_metadata(root)
        images: dict[
            tuple[str | None, str, str, str], list[_Row]
        ] = {}  # (split, patient, side, view) -> rows
        bad: list[Rejected] = []
        for name, split in DESCRIPTION_CSVS:
            source = (found / name).relative_to(root).as_posix()
            for item in _read_description(found / name, source, split):
                if isinstance(item, Rejected):
                    bad.append(item)
                else:
                    images.setdefault((split, item.patient, item.side, item.view), []).append(item)
        rejected_ids = {r.record_id for r in bad}
        yield from bad
        for rows in images.values():
            subject = _subject(rows[0].path)
            if any(_subject(r.path) in rejected_ids for r in rows):
                bad_row = next(r for r in rows if _subject(r.path) in rejected_ids)
                yield Rejected(
                    subject,
                    rows[0].source,
                    "bad_abnormality_row",
                    f"{bad_row.source}: image {rows[0].patient} {rows[0].side} {rows[0].view} has a rejected "
                    "abnormality row (see the other rejection of this image)",
                )
                continue
            yield self._record(root, rows, locations)

    def _record(
        self, root: Path, rows: list[_Row], locations: dict[tuple[str, str, str], str] | None
    ) -> RawRecord | Rejected:
        first = rows[0]
        usable = [r for r in rows if r.assessment > 0]
        if not usable:
            return Rejected(
                _subject(first.path),
                first.source,
                "inconclusive_assessment",
                f"{first.source} line {first.line}: every abnormality of {first.patient} {first.side} "
                f"{first.view} is BI-RADS 0 (incomplete); CLIMB uses BI-RADS 1-5",
            )
        kept = max(usable, key=lambda r: r.assessment)  # first row wins ties (csv order)
        record_id = _subject(kept.path)
        rel, problem = _resolve(root, kept.path, locations)
        if rel is None:
            rule, message = problem
            return Rejected(record_id, kept.source, rule, f"{kept.source} line {kept.line}: {message}")
        target = tuple(1.0 if i == kept.assessment - 1 else 0.0 for i in range(len(BIRADS_CLASSES)))
        pathologies = {r.pathology for r in rows}
        return RawRecord(
            record_id=record_id,
            patient_id=first.patient,
            files=(rel,),
            target=target,
            source_labels=json.dumps(
                [
                    {"abnormality": r.abnormality, "assessment": r.assessment, "pathology": r.pathology}
                    for r in rows
                ]
            ),
            split=first.split,
            meta={
                "breast": first.side,
                "view": first.view,
                "breast_density": first.density or None,
                "pathology": "MALIGNANT" if "MALIGNANT" in pathologies else "BENIGN",
                "abnormality_types": sorted({r.abnormality.split()[0] for r in rows}),
                "n_abnormalities": len(rows),
                "series": sorted({_subject(r.path) for r in rows}),
            },
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """De-identified uint8 (H, W) mammogram; RecordError for missing/empty/corrupt/huge files."""
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


def _subject(path: str) -> str:
    """The NBIA Subject ID of a csv image path: its first component (``Mass-Training_P_00001_LEFT_CC``)."""
    return PurePosixPath(path.strip().strip('"')).parts[0] if path.strip() else ""


def _read_description(path: Path, source: str, split: Split | None) -> Iterator[_Row | Rejected]:
    with open_csv(path) as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        for column in REQUIRED_COLUMNS:
            if column not in header:
                raise CatalogError(f"{path}: required column {column!r} missing (columns: {header})")
        density_col = next((c for c in DENSITY_COLUMNS if c in header), None)
        for row in reader:
            line = reader.line_num
            cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
            image_path = cells["image file path"].strip('"').strip()
            subject = _subject(image_path) or f"{source}:{line}"
            side, view = cells["left or right breast"].upper(), cells["image view"].upper()
            if not image_path or not cells["patient_id"] or side not in SIDES or view not in VIEWS:
                yield Rejected(
                    subject,
                    source,
                    "bad_row",
                    f"{source} line {line}: patient_id/left or right breast/image view/image file path "
                    f"must be set (breast in {SIDES}, view in {VIEWS})",
                )
                continue
            pathology = cells["pathology"].upper()
            if pathology not in PATHOLOGIES:
                yield Rejected(
                    subject,
                    source,
                    "unknown_label",
                    f"{source} line {line}: pathology {cells['pathology']!r}; allowed {list(PATHOLOGIES)}",
                )
                continue
            try:
                assessment = int(cells["assessment"])
            except ValueError:
                assessment = -1
            if not 0 <= assessment <= 5:
                yield Rejected(
                    subject,
                    source,
                    "bad_label_value",
                    f"{source} line {line}: assessment {cells['assessment']!r}; allowed BI-RADS 0-5",
                )
                continue
            yield _Row(
                source=source,
                line=line,
                split=split,
                patient=cells["patient_id"],
                side=side,
                view=view,
                abnormality=f"{cells['abnormality type'].lower()} {cells['abnormality id']}",
                assessment=assessment,
                pathology=pathology,
                density=cells.get(density_col, "") if density_col else "",
                path=image_path,
            )


def _read_metadata(root: Path) -> dict[tuple[str, str, str], str] | None:
    """NBIA ``metadata.csv``: (Subject ID, Study UID, Series UID) -> series folder relative to ``root``."""
    path = root / "metadata.csv"
    if not path.is_file():
        return None
    out: dict[tuple[str, str, str], str] = {}
    with open_csv(path) as fh:
        reader = csv.DictReader(fh)
        for column in METADATA_COLUMNS:
            if column not in (reader.fieldnames or []):
                raise CatalogError(
                    f"{path}: required column {column!r} missing (columns: {reader.fieldnames})"
                )
        for row in reader:
            location = (row["File Location"] or "").strip().replace("\\", "/").removeprefix("./")
            key = (row["Subject ID"].strip(), row["Study UID"].strip(), row["Series UID"].strip())
            out[key] = location
    return out


def _resolve(
    root: Path, image_path: str, locations: dict[tuple[str, str, str], str] | None
) -> tuple[str | None, tuple[str, str]]:
    """The DICOM file (relative to root) of a csv image path, or (None, (rule, message))."""
    problem = unsafe_path(image_path)
    if problem:
        return None, ("unsafe_path", f"image file path {problem}")
    parts = PurePosixPath(image_path).parts
    direct = PurePosixPath(IMAGE_DIR, *parts).as_posix()
    if (root / direct).is_file():
        return direct, ("", "")
    candidates: list[Path] = []
    if locations is not None and len(parts) >= 3:
        folder = locations.get((parts[0], parts[1], parts[2]))
        if folder is not None and unsafe_path(folder):
            return None, ("unsafe_path", f"metadata.csv File Location {unsafe_path(folder)}")
        if folder is not None:
            candidates = sorted((root / folder).glob("*.dcm"))
    if not candidates:
        subject_dir = root / IMAGE_DIR / parts[0]
        candidates = sorted(subject_dir.glob("*/*/*.dcm"))
        if len(candidates) > 1:
            full = [c for c in candidates if "full mammogram" in c.parent.name.lower()]
            candidates = full or candidates
    if not candidates:
        return None, ("missing_file", f"no DICOM file for {image_path} under {IMAGE_DIR}/{parts[0]}/")
    if len(candidates) > 1:
        names = [c.relative_to(root).as_posix() for c in candidates[:3]]
        return None, ("ambiguous_file", f"{len(candidates)} DICOM files for {image_path}: {names}...")
    return candidates[0].relative_to(root).as_posix(), ("", "")
