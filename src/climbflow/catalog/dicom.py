"""Shared DICOM support for the DICOM-based 2D datasets: pixel decoding and PS3.15 de-identification.

Reading (:func:`read_dicom` + :func:`to_uint8`), with pydicom 3: stored values -> float -> Modality LUT
(Rescale Slope/Intercept or Modality LUT Sequence, ``apply_modality_lut``) -> VOI LUT Sequence or Window
Center/Width (``apply_voi_lut``), scaled from the VOI output range to 0..255
(no VOI in the file: min-max of the modality values) -> MONOCHROME1 inverted -> uint8 ``(H, W)``; colour
images (RGB / YBR / PALETTE COLOR) -> uint8 ``(H, W, 3)``. ``Rows * Columns`` is checked before the pixel data
is touched (decompression-bomb guard). Bad files raise :class:`RecordError`: ``missing_file``,
``empty_file``, ``corrupt_dicom`` (not DICOM, truncated, undecodable), ``no_pixel_data``, ``image_too_large``,
``multi_frame``, ``unsupported_compression`` (no pixel-data plugin for the transfer syntax),
``unsupported_photometric``, ``nonfinite``.

De-identification (:class:`Deidentifier`) is an **allow-list**, not the PS3.15 Annex E deny-list: the output
header is a new dataset holding only the attributes of :data:`ALLOW_LIST` (what decoding and the header
summary need: image pixel module, modality / VOI LUT, spacing, view position, laterality, burned-in flag,
SOP class, transfer syntax); every other attribute, every private tag, overlays, curves and any sequence not
on the list are removed, whatever their name. Kept attributes hold coded values and numbers only (no
person-name or free-text VR; one whose VR in the file differs from the dictionary's is removed too). Patient
name and ID become a stable keyed pseudonym (``anon-`` + 16 hex of HMAC-SHA256(salt, key)), the study date
moves back by a per-patient offset of 10-20 years derived from the same keyed hash, instance UIDs (and any
kept UID not rooted at the DICOM standard ``1.2.840.10008``) become keyed ``2.25.`` UIDs, and a
``Burned In Annotation`` of YES is flagged (the pixels may carry identifying text that no header rule can
clean). Pixels are decoded from the original dataset; only the PHI-free :func:`header` dict leaves the
module. A bad Pixel Spacing (not two positive finite numbers) is refused: ``bad_pixel_spacing``.

Where the salt comes from (first match wins):
1. ``CLIMBFLOW_DEID_SALT``: the secret itself (e.g. from a Kubernetes Secret);
2. ``CLIMBFLOW_DEID_SALT_FILE``: a file holding it;
3. the per-workspace default ``<workspace root>/.deid_salt`` (set by ``bind_workspace``), else
   ``./workspace/.deid_salt`` (params.yaml's default workspace root).
A salt file that does not exist is created once with 32 random bytes (hex, mode 0600), so pseudonyms are
stable within a workspace and unlinkable across workspaces; keep it secret and back it up with the workspace.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import hmac
import logging
import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

from climbflow.catalog.base import RecordError
from climbflow.store.splits import split_key

logger = logging.getLogger(__name__)

SALT_ENV = "CLIMBFLOW_DEID_SALT"
SALT_FILE_ENV = "CLIMBFLOW_DEID_SALT_FILE"
SALT_FILE_NAME = ".deid_salt"
DEFAULT_WORKSPACE = Path("workspace")
DEFAULT_MAX_PIXELS = 64_000_000
DATE_SHIFT_DAYS = (3653, 7305)  # dates move back 10 to 20 years, per patient
STANDARD_UID_ROOT = "1.2.840.10008."
PROFILE = "climbflow allow-list; keyed pseudonyms; shifted StudyDate"  # fits the LO VR (64 chars)
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})  # (Float / Double Float) Pixel Data
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420", "PALETTE COLOR")

# The allow-list: the only attributes a de-identified header keeps; everything else (any other public
# attribute, every private tag, overlays, curves, any sequence not named here) is removed.
# K: kept as is (coded values and numbers only: no free-text or person-name VR; a non-standard UID is
# replaced); D: dummy (names/IDs -> keyed pseudonym, the date -> shifted); U: keyed replacement UID.
# Kept sequences are filtered item by item with the same list.
ALLOW_LIST: dict[str, str] = {
    # file meta
    "FileMetaInformationVersion": "K",
    "MediaStorageSOPClassUID": "K",
    "MediaStorageSOPInstanceUID": "U",
    "TransferSyntaxUID": "K",
    # identity: pseudonymized; the study date shifted per patient; instance UIDs re-keyed
    "PatientName": "D",
    "PatientID": "D",
    "StudyDate": "D",
    "SOPClassUID": "K",
    "SOPInstanceUID": "U",
    "StudyInstanceUID": "U",
    "SeriesInstanceUID": "U",
    # image pixel module (what decoding needs)
    "SamplesPerPixel": "K",
    "PhotometricInterpretation": "K",
    "PlanarConfiguration": "K",
    "Rows": "K",
    "Columns": "K",
    "NumberOfFrames": "K",
    "BitsAllocated": "K",
    "BitsStored": "K",
    "HighBit": "K",
    "PixelRepresentation": "K",
    "PixelAspectRatio": "K",
    "RedPaletteColorLookupTableDescriptor": "K",
    "GreenPaletteColorLookupTableDescriptor": "K",
    "BluePaletteColorLookupTableDescriptor": "K",
    "RedPaletteColorLookupTableData": "K",
    "GreenPaletteColorLookupTableData": "K",
    "BluePaletteColorLookupTableData": "K",
    # modality LUT, VOI LUT / window, presentation
    "RescaleSlope": "K",
    "RescaleIntercept": "K",
    "ModalityLUTSequence": "K",
    "VOILUTSequence": "K",
    "LUTDescriptor": "K",
    "LUTData": "K",
    "WindowCenter": "K",
    "WindowWidth": "K",
    "VOILUTFunction": "K",
    "PresentationLUTShape": "K",
    "PixelIntensityRelationship": "K",
    "PixelIntensityRelationshipSign": "K",
    # geometry and acquisition facts the header summary reports
    "Modality": "K",
    "PixelSpacing": "K",
    "ImagerPixelSpacing": "K",
    "ViewPosition": "K",
    "ImageLaterality": "K",
    "Laterality": "K",
    "BodyPartExamined": "K",
    "PatientOrientation": "K",
    "BurnedInAnnotation": "K",
}


# ------------------------------------------------------------------------------------------------------ salt
def _read_or_create(path: Path) -> bytes:
    """The salt stored at ``path``; created atomically (32 random bytes, hex, 0600) when absent."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # fails if another process created it first: theirs wins
            logger.info("created a new de-identification salt at %s", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    salt = path.read_text().strip().encode()
    if not salt:
        raise ValueError(f"{path}: de-identification salt file is empty")
    return salt


def resolve_salt(workspace: Path | None = None) -> tuple[bytes, str]:
    """(salt, where it came from): env ``CLIMBFLOW_DEID_SALT``, env ``CLIMBFLOW_DEID_SALT_FILE``, then the
    workspace's ``.deid_salt`` (``workspace`` or ``./workspace``), created on first use."""
    value = os.environ.get(SALT_ENV, "")
    if value:
        return value.encode(), f"env {SALT_ENV}"
    file = os.environ.get(SALT_FILE_ENV, "")
    path = Path(file) if file else Path(workspace or DEFAULT_WORKSPACE) / SALT_FILE_NAME
    return _read_or_create(path), str(path)


def salt_fingerprint(salt: bytes) -> str:
    """A non-reversible short id of the salt (for cache keys and reports; never the salt itself)."""
    return hmac.new(salt, b"climbflow-deid-salt-fingerprint", hashlib.sha256).hexdigest()[:12]


# -------------------------------------------------------------------------------------------- de-identifier
@dataclass
class Deidentified:
    """A de-identified copy of a dataset and what was done to it (keywords only, never values)."""

    dataset: Dataset
    patient: str  # pseudonymous patient id
    date_offset_days: int
    removed: set[str] = field(default_factory=set)  # public attributes not on the allow-list
    replaced: set[str] = field(default_factory=set)  # pseudonym / shifted date / new UID (D, U)
    private_tags_removed: int = 0  # private elements at the top level (nested ones go with their sequence)


@dataclass(frozen=True)
class Deidentifier:
    """Keyed, deterministic allow-list de-identification (see the module docstring)."""

    salt: bytes

    def _mac(self, kind: str, value: str) -> bytes:
        return hmac.new(self.salt, f"{kind}\0{value}".encode(), hashlib.sha256).digest()

    def pseudonym(self, value: str, kind: str = "patient") -> str:
        return "anon-" + self._mac(kind, value).hex()[:16]

    def date_offset_days(self, patient_key: str) -> int:
        lo, hi = DATE_SHIFT_DAYS
        return -(lo + int.from_bytes(self._mac("date-shift", patient_key)[:8], "big") % (hi - lo + 1))

    def uid(self, value: str) -> str:
        return "2.25." + str(int.from_bytes(self._mac("uid", value)[:16], "big"))

    @staticmethod
    def patient_key(ds: Dataset, fallback: str) -> str:
        """What identifies the patient in the raw header: Patient ID, else Patient's Name, else the record."""
        for keyword in ("PatientID", "PatientName"):
            value = str(ds.get(keyword, "") or "").strip()
            if value:
                return f"{keyword}:{value}"
        return f"record:{fallback}"

    def patient_pseudonym(self, ds: Dataset, fallback: str) -> str:
        return self.pseudonym(self.patient_key(ds, fallback))

    def deidentify(self, ds: Dataset, fallback_key: str) -> Deidentified:
        """A new dataset holding only the allow-listed attributes of ``ds`` (file meta included, pixel data
        left out so a deferred Pixel Data element is never read); ``ds`` itself is not modified."""
        key = self.patient_key(ds, fallback_key)
        result = Deidentified(Dataset(), self.pseudonym(key), self.date_offset_days(key))
        out = self._allowed(ds, result)
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            out.file_meta = FileMetaDataset(self._allowed(meta, result))
        out.PatientIdentityRemoved = "YES"
        out.DeidentificationMethod = PROFILE
        result.dataset = out
        return result

    def _allowed(self, ds: Dataset, result: Deidentified) -> Dataset:
        """The allow-listed elements of ``ds`` (values never read for the others)."""
        out = Dataset()
        for tag in ds.keys():
            if tag in _PIXEL_TAGS:
                continue
            keyword = keyword_for_tag(tag)
            action = ALLOW_LIST.get(keyword)
            if action is None:
                if tag.is_private:
                    result.private_tags_removed += 1
                else:
                    result.removed.add(keyword or f"({tag.group:04X},{tag.element:04X})")
                continue
            elem = ds[tag]
            vr = dictionary_VR(tag)
            if elem.VR not in (vr, *vr.split(" or ")):  # e.g. free text written under a coded tag's number
                result.removed.add(keyword)
                continue
            value = self._value(elem, action, result)
            if value is None:
                result.removed.add(keyword)
                continue
            out.add(DataElement(tag, elem.VR, value))
        return out

    def _value(self, elem: DataElement, action: str, result: Deidentified) -> Any:
        """The de-identified value of an allow-listed element; None to remove it."""
        if elem.VR == "SQ":
            return [self._allowed(item, result) for item in elem.value]
        if elem.is_empty or (action == "K" and elem.VR != "UI"):
            return copy.deepcopy(elem.value)
        values = [str(v) for v in _values(elem)]
        if elem.VR == "UI":
            new = [v if v.startswith(STANDARD_UID_ROOT) else self.uid(v) for v in values]
        elif elem.VR in ("DA", "DT"):
            new = [_shift(v, result.date_offset_days) for v in values]
            if any(v is None for v in new):
                return None  # an unparseable date cannot be shifted: remove it
        else:  # names and identifiers
            new = [result.patient]
        if new != values:
            result.replaced.add(elem.keyword)
        return new if len(new) > 1 else new[0]


def _values(elem: Any) -> list[Any]:
    return list(elem.value) if elem.VM > 1 else [elem.value]


def _shift(value: str, days: int) -> str | None:
    """Shift a DA (YYYYMMDD) or the date part of a DT by ``days``; None if it is not a valid date."""
    text = value.strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    try:
        shifted = (day + dt.timedelta(days=days)).strftime("%Y%m%d")
    except OverflowError:
        return None
    return shifted  # DT keeps only its (shifted) date: time of day and UTC offset are dropped


# ------------------------------------------------------------------------------------------------ reading
def read_dicom(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Dataset:
    """Parse ``path`` (pixel data deferred) and run the cheap checks: RecordError for bad files."""
    if not path.is_file():
        raise RecordError("missing_file", f"{path} not found")
    if path.stat().st_size == 0:
        raise RecordError("empty_file", f"{path} is zero bytes")
    try:
        ds = pydicom.dcmread(path, defer_size="256 KB")
    except InvalidDicomError as exc:
        raise RecordError("corrupt_dicom", f"{path} is not a DICOM file: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on malformed input
        raise RecordError("corrupt_dicom", f"{path} cannot be parsed: {type(exc).__name__}: {exc}") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise RecordError("no_pixel_data", f"{path} has no Pixel Data element (truncated or not an image)")
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        frames = int(ds.get("NumberOfFrames") or 1)
        samples = int(ds.get("SamplesPerPixel") or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        raise RecordError("corrupt_dicom", f"{path}: bad image pixel module ({exc})") from None
    if rows < 1 or cols < 1:
        raise RecordError("corrupt_dicom", f"{path}: Rows x Columns is {rows}x{cols}")
    if rows * cols * frames * samples > max_pixels:
        raise RecordError(
            "image_too_large",
            f"{path} is {cols}x{rows} px x {frames} frame(s) x {samples} sample(s) "
            f"(limit {max_pixels} values)",
        )
    if frames > 1:
        raise RecordError("multi_frame", f"{path} has {frames} frames; a single 2D image is expected")
    return ds


def to_uint8(ds: Dataset, path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Display-ready uint8 ``(H, W)`` (or ``(H, W, 3)``) pixels and how they were obtained."""
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2", *_COLOUR):
        raise RecordError("unsupported_photometric", f"{path}: Photometric Interpretation {photometric!r}")
    try:
        stored = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - decoder plugins raise many types
        text = f"{type(exc).__name__}: {exc}"
        if (
            "missing dependencies" in text
            or "not supported" in text
            or "no pixel data handler" in text.lower()
        ):
            ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "?")
            raise RecordError("unsupported_compression", f"{path}: transfer syntax {ts}: {text}") from None
        raise RecordError("corrupt_dicom", f"{path}: pixel data cannot be decoded: {text}") from None
    if stored.size == 0:
        raise RecordError("no_pixel_data", f"{path}: Pixel Data is empty")
    if photometric in _COLOUR:
        return _colour(ds, stored, photometric), {"voi": "none"}
    if stored.ndim != 2:
        raise RecordError("corrupt_dicom", f"{path}: monochrome pixel data of shape {stored.shape}")
    values = apply_modality_lut(stored, ds).astype(np.float64)
    info: dict[str, Any] = {"voi": "minmax"}
    voi = _voi_kind(ds)
    if voi is not None:
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                lo, hi = _voi_range(ds, values, voi)
                out = np.asarray(apply_voi_lut(_voi_input(values, voi), ds), dtype=np.float64)
        except (ValueError, NotImplementedError, AttributeError, IndexError, TypeError) as exc:
            raise RecordError("corrupt_dicom", f"{path}: bad VOI LUT / window ({exc})") from None
        info["voi"] = voi
        if voi == "window":
            info["window"] = [_first(ds.WindowCenter), _first(ds.WindowWidth)]
    else:
        out = values
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if not np.isfinite(out).all():
        raise RecordError("nonfinite", f"{path}: non-finite pixel values")
    scaled = (out - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(out)
    pixels = np.clip(np.round(scaled), 0, 255).astype(np.uint8)
    if photometric == "MONOCHROME1":  # minimum value = white: invert to the usual display
        pixels = 255 - pixels
    return np.ascontiguousarray(pixels), info


def _first(value: Any) -> float:
    return float(value[0]) if isinstance(value, MultiValue) else float(value)


def _voi_kind(ds: Dataset) -> str | None:
    seq = ds.get("VOILUTSequence")
    if seq and seq[0].get("LUTDescriptor") is not None and seq[0].get("LUTData") is not None:
        return "lut"
    if ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
        return "window"
    return None


def _voi_input(values: np.ndarray, voi: str) -> np.ndarray:
    """The VOI LUT indexes integer modality values; windowing works on floats."""
    return np.round(values).astype(np.int64) if voi == "lut" else values


def _voi_range(ds: Dataset, values: np.ndarray, voi: str) -> tuple[float, float]:
    """The VOI output range that maps to black..white (PS3.3 C.11.2)."""
    if voi == "lut":
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**bits - 1)
    # pydicom's own output range: below the window -> y_min, above -> y_max
    probe = np.asarray(apply_voi_lut(np.array([-1e300, 1e300]), ds), dtype=np.float64)
    return float(probe[0]), float(probe[1])


def _colour(ds: Dataset, stored: np.ndarray, photometric: str) -> np.ndarray:
    rgb = apply_color_lut(stored, ds) if photometric == "PALETTE COLOR" else stored
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise RecordError("corrupt_dicom", f"colour pixel data of shape {rgb.shape}")
    if rgb.dtype == np.uint8:
        return np.ascontiguousarray(rgb)
    bits = 16 if photometric == "PALETTE COLOR" else int(ds.get("BitsStored") or 8)
    scaled = rgb.astype(np.float64) / float(2**bits - 1) * 255.0
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------ header summary
def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    return str(value).strip() or None


def pixel_spacing(ds: Dataset, source: Any) -> list[float] | None:
    """Pixel Spacing (else Imager Pixel Spacing) in mm; None when absent; RecordError ``bad_pixel_spacing``
    unless it is two positive finite numbers."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        if keyword not in ds or ds[keyword].is_empty:
            continue
        raw = ds[keyword].value
        try:
            mm = [float(v) for v in (raw if isinstance(raw, MultiValue) else [raw])]
        except (TypeError, ValueError):
            mm = []
        if len(mm) != 2 or not all(math.isfinite(v) and v > 0 for v in mm):
            raise RecordError(
                "bad_pixel_spacing", f"{source}: {keyword} {raw!r} must be two positive finite numbers (mm)"
            )
        return mm
    return None


def header(deid: Deidentified, source: Any = "dataset") -> dict[str, Any]:
    """The PHI-free summary stored in the manifest's ``meta``: read from the *de-identified* dataset only;
    RecordError (naming ``source``) for a bad pixel spacing."""
    ds = deid.dataset
    burned = _text(ds, "BurnedInAnnotation")
    spacing = pixel_spacing(ds, source)
    return {
        "modality": _text(ds, "Modality"),
        "view_position": _text(ds, "ViewPosition"),
        "laterality": _text(ds, "ImageLaterality") or _text(ds, "Laterality"),
        "photometric": _text(ds, "PhotometricInterpretation"),
        "rows": int(ds.Rows) if "Rows" in ds else None,
        "cols": int(ds.Columns) if "Columns" in ds else None,
        "bits_stored": int(ds.BitsStored) if "BitsStored" in ds else None,
        "pixel_spacing_mm": spacing,
        "study_date_shifted": _text(ds, "StudyDate"),
        "patient_pseudonym": deid.patient,
        "burned_in_annotation": None if burned is None else burned.upper() == "YES",
        "deid": {
            "profile": PROFILE,
            "removed": sorted(deid.removed),
            "replaced": sorted(deid.replaced),
            "private_tags_removed": deid.private_tags_removed,
        },
    }


class DicomImageMixin:
    """Shared decode for DICOM datasets: read, guard, de-identify, convert; salt resolved once per spec."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    _workspace: Path | None = None
    _deid: Deidentifier | None = None

    def bind_workspace(self, workspace: Path) -> None:
        """Use ``<workspace>/.deid_salt`` as the default salt (the stage that opens the spec calls this)."""
        self._workspace = Path(workspace)
        self._deid = None

    def cache_token(self) -> str | None:
        """Pseudonyms and date shifts depend on the salt, the header summary on the method: a new salt or
        method (e.g. this allow-list, with salt-free split keys, replacing the deny-list) gives new outputs."""
        return f"deid:{PROFILE}; salt:{salt_fingerprint(self.deidentifier.salt)}"

    @property
    def deidentifier(self) -> Deidentifier:
        if self._deid is None:
            salt, _ = resolve_salt(self._workspace)
            self._deid = Deidentifier(salt)
        return self._deid

    def header_identity(self, path: Path, fallback: str) -> tuple[str, str]:
        """(patient pseudonym, split key) from a file's Patient ID / Name (header only, no pixels). The
        pseudonym is the salted one :meth:`read_deidentified` reports; the split key is salt-free, so splits
        are the same in every workspace (:func:`~climbflow.store.splits.split_key`). Both come from
        ``fallback`` when the header has neither or the file cannot be parsed (decode then reports the file's
        problem with its rule)."""
        ds = Dataset()
        with contextlib.suppress(Exception):
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["PatientID", "PatientName"])
        key = Deidentifier.patient_key(ds, fallback)
        return self.deidentifier.pseudonym(key), split_key(key)

    def read_deidentified(
        self, path: Path, fallback_key: str, reject_burned_in: bool = False
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """(uint8 pixels, PHI-free header dict) of one DICOM file."""
        ds = read_dicom(path, self.max_pixels)
        deid = self.deidentifier.deidentify(ds, fallback_key)
        meta = header(deid, path)
        if reject_burned_in and meta["burned_in_annotation"]:
            raise RecordError(
                "burned_in_annotation", f"{path}: Burned In Annotation is YES (pixels may hold PHI)"
            )
        pixels, info = to_uint8(ds, path)
        meta.update(info)
        return pixels, meta
