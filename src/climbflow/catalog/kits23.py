"""KiTS23 (kidney tumour CT) in its real layout: ``dataset/kits23.json`` + ``dataset/case_XXXXX/imaging.nii.gz``.

Each case folder also holds ``segmentation.nii.gz`` (0 background, 1 kidney, 2 tumour, 3 cyst) and
``instances/``; they are not read here. ``kits23.json`` is a list of cases with ``case_id``, ``gender``,
``age_at_nephrectomy``, ``malignant`` (true/false), ``tumor_histologic_subtype`` and many clinical fields
(KiTS19/21 copies name it ``kits.json``; both names are accepted). The root may be the repository folder
(containing ``dataset/``) or the ``dataset`` folder itself.

The task is CLIMB's: benign vs malignant, binary (class ``malignant``). KiTS has no official split (CLIMB
takes the first 75 % of the metadata as train); here records get no split, so the standardize stage
hash-splits them by case. A case is one patient. ``malignant`` other than true/false -> ``bad_label``.

Decoding reads HU through the NIfTI scaling (``scl_slope``/``scl_inter``), reorients to the closest
canonical (RAS) orientation and returns the volume as ``(D, H, W)`` in radiological display order:
slices from superior to inferior, rows from anterior to posterior, columns from the patient's right to
left (KiTS stores its arrays in this order already). Spacing (mm, same axis order) goes into the props.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from climbflow.catalog.base import (
    CatalogError,
    DatasetSpec,
    RawRecord,
    RecordError,
    Rejected,
    TaskType,
    unsafe_path,
)

logger = logging.getLogger(__name__)

METADATA_NAMES: tuple[str, ...] = ("kits23.json", "kits.json")
DATA_DIR = "dataset"
IMAGING = "imaging.nii.gz"
SEGMENTATION = "segmentation.nii.gz"
_SEX = {"male": "M", "female": "F"}


def _data_dir(root: Path) -> tuple[Path, Path] | None:
    """(folder holding the case folders, metadata json) for ``root`` or ``root/dataset``."""
    for folder in (root / DATA_DIR, root):
        for name in METADATA_NAMES:
            if (folder / name).is_file():
                return folder, folder / name
    return None


class KiTS23(DatasetSpec):
    name: ClassVar[str] = "kits23"
    title: ClassVar[str] = "KiTS23 contrast CT of renal masses, malignant vs benign"
    modality: ClassVar[str] = "volume"
    task: ClassVar[TaskType] = "binary"
    classes: ClassVar[tuple[str, ...]] = ("malignant",)
    license: ClassVar[str] = "CC BY-NC-SA 4.0 (KiTS23 data); code MIT"
    layout: ClassVar[str] = (
        "<root>/dataset/kits23.json (list of cases: case_id, gender, age_at_nephrectomy, malignant, "
        "tumor_histologic_subtype, ...) + <root>/dataset/case_XXXXX/{imaging,segmentation}.nii.gz"
    )
    official_split: ClassVar[bool] = False
    max_voxels: ClassVar[int] = 1024 * 1024 * 1024  # refuse absurd headers before allocating

    def detect(self, root: Path) -> bool:
        return _data_dir(Path(root)) is not None

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        found = _data_dir(root)
        if found is None:
            raise CatalogError(
                f"{root}: no dataset/kits23.json (or kits.json) found (expected {self.layout})"
            )
        folder, meta_path = found
        prefix = folder.relative_to(root)
        source = (prefix / meta_path.name).as_posix()
        try:
            cases = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CatalogError(f"{meta_path}: not valid JSON: {exc}") from None
        if not isinstance(cases, list):
            raise CatalogError(f"{meta_path}: expected a list of cases, got {type(cases).__name__}")
        seen: set[str] = set()
        counts: dict[str, int] = {}
        for pos, case in enumerate(cases):
            item = self._record(root, prefix, source, pos, case, seen)
            key = item.rule if isinstance(item, Rejected) else "ok"
            counts[key] = counts.get(key, 0) + 1
            yield item
        logger.info("kits23 %s: %s", root, counts)

    def _record(
        self, root: Path, prefix: Path, source: str, pos: int, case: Any, seen: set[str]
    ) -> RawRecord | Rejected:
        where = f"{source} entry {pos}"
        if (
            not isinstance(case, dict)
            or not isinstance(case.get("case_id"), str)
            or not case["case_id"].strip()
        ):
            return Rejected(f"entry{pos}", source, "bad_case_id", f"{where}: no case_id string")
        case_id = case["case_id"].strip()
        where = f"{where} ({case_id})"
        if case_id in seen:
            return Rejected(case_id, source, "duplicate_record", f"{where}: case_id repeated")
        seen.add(case_id)
        malignant = case.get("malignant")
        if not isinstance(malignant, bool):
            message = f"{where}: malignant is {malignant!r}; allowed true or false"
            return Rejected(case_id, source, "bad_label", message)
        problem = unsafe_path(case_id)
        if problem:
            return Rejected(case_id, source, "unsafe_path", f"{where}: case_id {problem}")
        rel = (prefix / case_id / IMAGING).as_posix()
        if not (root / rel).is_file():
            return Rejected(case_id, rel, "missing_file", f"{where}: {rel} not found")
        seg = (prefix / case_id / SEGMENTATION).as_posix()
        subtype = case.get("tumor_histologic_subtype")
        age = case.get("age_at_nephrectomy")
        return RawRecord(
            record_id=case_id,
            patient_id=case_id,
            files=(rel, seg) if (root / seg).is_file() else (rel,),
            target=(1.0 if malignant else 0.0,),
            source_labels=json.dumps({"malignant": malignant, "tumor_histologic_subtype": subtype}),
            split=None,
            meta={
                "age": float(age) if isinstance(age, int | float) and not isinstance(age, bool) else None,
                "sex": _SEX.get(str(case.get("gender", "")).strip().lower()),
                "tumor_histologic_subtype": subtype if isinstance(subtype, str) else None,
            },
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """float32 HU ``(D, H, W)`` + ``spacing`` (mm, D/H/W) and ``meta`` (original shape, spacing, axes).

        Errors: ``missing_file``, ``empty_file``, ``corrupt_nifti`` (unreadable, truncated, not 3D, degenerate
        affine), ``volume_too_large``, ``nonfinite`` (NaN/inf voxels).
        """
        import nibabel as nib

        path = Path(root) / record.files[0]
        if not path.is_file():
            raise RecordError("missing_file", f"{path} not found")
        if path.stat().st_size == 0:
            raise RecordError("empty_file", f"{path} is zero bytes")
        try:
            img = nib.load(str(path))
            shape = tuple(int(d) for d in img.shape)
            if len(shape) == 4 and shape[3] == 1:
                img = img.slicer[..., 0]
                shape = shape[:3]
            if len(shape) != 3 or min(shape) < 1:
                raise RecordError("corrupt_nifti", f"{path}: image of shape {shape}, expected a 3D volume")
            if int(np.prod(shape)) > self.max_voxels:
                raise RecordError("volume_too_large", f"{path}: {shape} voxels (limit {self.max_voxels})")
            axes = "".join(nib.aff2axcodes(img.affine))
            canonical = nib.as_closest_canonical(img)
            hu = np.asarray(canonical.get_fdata(dtype=np.float32))
            zooms = tuple(float(z) for z in canonical.header.get_zooms()[:3])
        except RecordError:
            raise
        except Exception as exc:  # nibabel raises ImageFileError/EOFError/OSError/zlib.error/ValueError...
            raise RecordError(
                "corrupt_nifti", f"{path} cannot be read: {type(exc).__name__}: {exc}"
            ) from None
        if not all(np.isfinite(z) and z > 0 for z in zooms):
            raise RecordError("corrupt_nifti", f"{path}: voxel spacing {zooms} is not positive")
        if not np.isfinite(hu).all():
            raise RecordError("nonfinite", f"{path}: {int((~np.isfinite(hu)).sum())} NaN/inf voxels")
        # RAS (x: right, y: anterior, z: superior) -> (D, H, W) = (S->I, A->P, R->L)
        volume = np.ascontiguousarray(hu[::-1, ::-1, ::-1].transpose(2, 1, 0))
        spacing = (zooms[2], zooms[1], zooms[0])
        meta = {
            "spacing_mm": [round(s, 4) for s in spacing],
            "orig_shape": [int(d) for d in volume.shape],
            "orig_axes": axes,
        }
        return volume, {"sampling_rate": None, "spacing": spacing, "meta": meta}
