"""A small, deterministic MIMIC-CXR-JPG v2.0.0 copy in the real layout, with label-dependent radiographs.

Images come from the synthetic radiograph painters of :mod:`climbflow.sampledata.chexpert` (findings drawn with
the same prevalences). The three ``mimic-cxr-2.0.0-*.csv.gz`` tables are written as PhysioNet ships them
(gzip without a timestamp, so the bytes are reproducible).

Two entry points:

- :func:`write_mimic_cxr` ``(root, n_records, seed, shuffle_labels)``: the catalog's sample writer;
- :func:`write_cxr_studies` ``(root, studies, seed, shuffle_labels)``: the lower level, for writers that link
  radiographs to other tables (MIMIC-IV): the caller gives each :class:`CxrStudy`'s subject id, study id, date
  and time, split and (optionally) findings; it returns one :class:`CxrImage` per written JPG.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from climbflow.catalog.chexpert import LABELS
from climbflow.catalog.mimic_cxr import CHEXPERT, METADATA, SPLIT, image_path
from climbflow.sampledata.chexpert import csv_labels, render_frontal, render_lateral, study_findings

logger = logging.getLogger(__name__)

JPEG_QUALITY = 90
LATERAL_FRACTION = 0.35  # most MIMIC studies are PA + lateral or a single portable AP
METADATA_HEADER: tuple[str, ...] = (
    "dicom_id",
    "subject_id",
    "study_id",
    "PerformedProcedureStepDescription",
    "ViewPosition",
    "Rows",
    "Columns",
    "StudyDate",
    "StudyTime",
    "ProcedureCodeSequence_CodeMeaning",
    "ViewCodeSequence_CodeMeaning",
    "PatientOrientationCodeSequence_CodeMeaning",
)
CHEXPERT_ORDER: tuple[str, ...] = tuple(sorted(LABELS))  # the real file lists the 14 labels alphabetically
SPLIT_HEADER: tuple[str, ...] = ("dicom_id", "study_id", "subject_id", "split")
_VIEW_MEANING = {"PA": "postero-anterior", "AP": "antero-posterior", "LATERAL": "lateral"}


@dataclass(frozen=True)
class CxrStudy:
    """One radiographic study to write. ``findings`` None: drawn from the CheXpert prevalences;
    ``lateral`` None: drawn (a lateral view is added to about a third of the studies)."""

    subject_id: int
    study_id: int
    study_datetime: datetime
    split: str = "train"  # train | validate | test (as in mimic-cxr-2.0.0-split.csv.gz)
    findings: frozenset[str] | None = None
    lateral: bool | None = None


@dataclass(frozen=True)
class CxrImage:
    """One written JPG: ids, view, path relative to the root and the study's true findings."""

    dicom_id: str
    subject_id: int
    study_id: int
    view: str  # PA | AP | LATERAL
    path: str
    findings: frozenset[str]


def _dicom_id(rng: np.random.Generator) -> str:
    """Like ``02aa804e-bde0afdd-112c0b34-7bc16630-4e384014``."""
    return "-".join(f"{int(v):08x}" for v in rng.integers(0, 2**32, size=5))


def _write_csv_gz(path: Path, header: Sequence[str], rows: list[list[str]]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(text.getvalue().encode("utf-8"))


def write_cxr_studies(
    root: Path, studies: Sequence[CxrStudy], seed: int = 0, shuffle_labels: bool = False
) -> list[CxrImage]:
    """Write ``studies`` (JPGs + the metadata, chexpert and split tables) into ``root``; same inputs -> same bytes.

    ``shuffle_labels`` permutes the chexpert rows across studies (images keep their true findings)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name in (METADATA, CHEXPERT, SPLIT):  # tables are written last: their presence means "complete"
        (root / name).unlink(missing_ok=True)
    ids = [(s.subject_id, s.study_id) for s in studies]
    if len(set(ids)) != len(ids) or len({s.study_id for s in studies}) != len(studies):
        raise ValueError("study ids must be unique")
    bad = sorted({s.split for s in studies} - {"train", "validate", "test"})
    if bad:
        raise ValueError(f"unknown split(s) {bad}; allowed train, validate, test")
    images: list[CxrImage] = []
    meta_rows: list[list[str]] = []
    split_rows: list[list[str]] = []
    label_rows: list[list[str]] = []
    for k, study in enumerate(studies):
        rng = np.random.default_rng([seed, 50, study.subject_id, study.study_id])
        found = study.findings if study.findings is not None else study_findings(rng)
        unknown = sorted(set(found) - set(LABELS[1:]))
        if unknown:
            raise ValueError(f"study {study.study_id}: unknown findings {unknown}")
        lateral = study.lateral if study.lateral is not None else bool(rng.random() < LATERAL_FRACTION)
        portable = not lateral and rng.random() < 0.6
        views = ["AP"] if portable else ["PA", "LATERAL"] if lateral else ["PA"]
        desc = "CHEST (PORTABLE AP)" if portable else "CHEST (PA AND LAT)" if lateral else "CHEST (PA)"
        cells = dict(zip(LABELS, csv_labels(rng, frozenset(found), valid=False), strict=True))
        label_rows.append([cells[c] for c in CHEXPERT_ORDER])
        for j, view in enumerate(views):
            dicom = _dicom_id(rng)
            img_rng = np.random.default_rng([seed, 51, k, j])
            h, w = int(img_rng.integers(320, 353)), int(img_rng.integers(288, 321))
            if view == "LATERAL":
                pix = render_lateral(img_rng, frozenset(found), h, w)
            else:
                pix = render_frontal(img_rng, frozenset(found), h, w, ap=view == "AP")
            rel = image_path(study.subject_id, study.study_id, dicom)
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pix).save(root / rel, format="JPEG", quality=JPEG_QUALITY)
            when = study.study_datetime + timedelta(seconds=40 * j)
            meta_rows.append(
                [
                    dicom,
                    str(study.subject_id),
                    str(study.study_id),
                    desc,
                    view,
                    str(h),
                    str(w),
                    when.strftime("%Y%m%d"),
                    f"{when.strftime('%H%M%S')}.{when.microsecond // 1000:03d}",
                    desc,
                    _VIEW_MEANING[view],
                    "Recumbent" if view == "AP" else "Erect",
                ]
            )
            split_rows.append([dicom, str(study.study_id), str(study.subject_id), study.split])
            images.append(CxrImage(dicom, study.subject_id, study.study_id, view, rel, frozenset(found)))
    if shuffle_labels:
        perm = np.random.default_rng([seed, 52]).permutation(len(label_rows))
        label_rows = [label_rows[i] for i in perm]
    order = sorted(range(len(studies)), key=lambda i: (studies[i].subject_id, studies[i].study_id))
    _write_csv_gz(
        root / CHEXPERT,
        ("subject_id", "study_id", *CHEXPERT_ORDER),
        [[str(studies[i].subject_id), str(studies[i].study_id), *label_rows[i]] for i in order],
    )
    _write_csv_gz(root / SPLIT, SPLIT_HEADER, split_rows)
    _write_csv_gz(root / METADATA, METADATA_HEADER, meta_rows)
    logger.info("wrote %d MIMIC-CXR images (%d studies) to %s", len(images), len(studies), root)
    return images


def write_mimic_cxr(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """``n_records`` JPGs (PA, AP or PA + lateral studies) for subjects in ``p10``-``p19``; about 10% of the
    subjects are in ``validate`` and 15% in ``test`` (the official split is by subject)."""
    if n_records < 2:
        raise ValueError(f"n_records must be >= 2, got {n_records}")
    rng = np.random.default_rng([seed, 53])
    studies: list[CxrStudy] = []
    n_images = 0
    subject_ids: set[int] = set()
    study_ids: set[int] = set()
    while n_images < n_records:
        subject = int(rng.integers(10_000_000, 20_000_000))
        if subject in subject_ids:
            continue
        subject_ids.add(subject)
        u = rng.random()
        split = "validate" if u < 0.1 else "test" if u < 0.25 else "train"
        when = datetime(2110, 1, 1) + timedelta(
            days=int(rng.integers(0, 365 * 70)), seconds=int(rng.integers(0, 86400))
        )
        for _ in range(1 if rng.random() < 0.7 else 2):
            study_id = int(rng.integers(50_000_000, 60_000_000))
            if study_id in study_ids or n_images >= n_records:
                continue
            study_ids.add(study_id)
            lateral = bool(rng.random() < LATERAL_FRACTION) and n_images + 1 < n_records
            studies.append(
                CxrStudy(
                    subject,
                    study_id,
                    when + timedelta(microseconds=int(rng.integers(0, 1000)) * 1000),
                    split,
                    None,
                    lateral,
                )
            )
            n_images += 2 if lateral else 1
            when += timedelta(days=int(rng.integers(1, 400)))
    write_cxr_studies(root, studies, seed=seed, shuffle_labels=shuffle_labels)
    return Path(root)
