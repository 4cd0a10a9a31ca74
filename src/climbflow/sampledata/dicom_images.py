"""Small deterministic VinDr-CXR and CBIS-DDSM copies in their real layouts, as real DICOM files with PHI.

The headers carry realistic (fictitious) protected health information, as a copy that was *not* de-identified
would: patient name / ID / birth date / address / phone, other patient IDs, institution name and address,
referring / performing physician, operator, station, device serial number, study / series / acquisition /
content dates, accession number, study ID and description, plus a private block (creator ``SAMPLE PACS 1.0``)
that repeats the name and MRN: the catalog's de-identification must remove all of it. :data:`PHI_KEYWORDS`
lists the attributes written. A few images say Burned In Annotation = YES.

Pixel encodings vary per image to exercise the reader: 12-16 bit stored values, MONOCHROME2 and MONOCHROME1
(inverted), Rescale Slope/Intercept, Window Center/Width, and a VOI LUT Sequence. All encodings are monotonic
maps of the rendered image, so the decoded image shows the same structure.

``write_vindr_cxr``: ``annotations/image_labels_{train,test}.csv`` + ``{train,test}/<image_id>.dicom``; chest
radiographs drawn by :mod:`climbflow.sampledata.chexpert` from the image's VinDr findings mapped to CheXpert;
three noisy readers per training image, one consensus row per test image.
``write_cbis_ddsm``: the four description csvs, ``metadata.csv`` and the NBIA tree
``CBIS-DDSM/<Subject ID>/<MM-DD-YYYY>-DDSM-NNNNN/1.000000-full mammogram images-NNNNN/1-1.dcm``; mammograms
with masses (round and sharp at BI-RADS 2, oval, lobulated, spiculated at 5) and calcification clusters
(few coarse specks at 2 up to many fine pleomorphic ones at 5). ``shuffle_labels`` permutes the labels across
images (the images keep what was drawn). Same arguments -> byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from pydicom.datadict import DicomDictionary
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from climbflow.catalog.cbis_ddsm import DESCRIPTION_CSVS
from climbflow.catalog.vindr_cxr import MAPPING, VINDR_LABELS
from climbflow.sampledata.chexpert import Canvas, render_frontal

logger = logging.getLogger(__name__)

PHI_KEYWORDS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "OtherPatientIDs",
    "InstitutionName",
    "InstitutionAddress",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "StationName",
    "DeviceSerialNumber",
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "AccessionNumber",
    "StudyID",
    "StudyDescription",
)
PRIVATE_CREATOR = "SAMPLE PACS 1.0"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture (CBIS-DDSM: digitized film)
TCIA_ROOT = "1.3.6.1.4.1.9590.100.1.2."

_GIVEN = (
    "AN",
    "BINH",
    "CHI",
    "DUNG",
    "GIANG",
    "HANH",
    "KHANH",
    "LINH",
    "MINH",
    "NGOC",
    "PHUONG",
    "QUANG",
    "THAO",
)
_FAMILY_VN = ("NGUYEN", "TRAN", "PHAM", "HOANG", "VU", "DANG", "BUI", "DO", "NGO", "DUONG", "LY")
_FIRST_US = (
    "MARGARET",
    "DOROTHY",
    "EVELYN",
    "GLORIA",
    "JUDITH",
    "BARBARA",
    "SHIRLEY",
    "PATRICIA",
    "LORRAINE",
)
_LAST_US = ("HOLLOWAY", "PEMBERTON", "WHITAKER", "CALLOWAY", "FAIRCHILD", "ASHWORTH", "BRADSHAW", "THORNTON")
_STREETS = (
    "Elm Street",
    "Lakeview Drive",
    "Tran Hung Dao",
    "Le Loi Boulevard",
    "Maple Avenue",
    "Hai Ba Trung",
)


# ------------------------------------------------------------------------------------------- PHI + DICOM
@dataclass(frozen=True)
class _Patient:
    name: str
    mrn: str
    birth: str  # YYYYMMDD
    sex: str
    address: str
    phone: str
    other_id: str


@dataclass(frozen=True)
class _Site:
    institution: str
    address: str
    station: str
    serial: str


def _fake_patient(rng: np.random.Generator, k: int, vietnamese: bool) -> _Patient:
    if vietnamese:
        name = f"{_FAMILY_VN[int(rng.integers(len(_FAMILY_VN)))]}^{_GIVEN[int(rng.integers(len(_GIVEN)))]}"
        name += f" {_GIVEN[int(rng.integers(len(_GIVEN)))]}"
    else:
        name = f"{_LAST_US[int(rng.integers(len(_LAST_US)))]}^{_FIRST_US[int(rng.integers(len(_FIRST_US)))]}"
        name += f"^{chr(65 + int(rng.integers(26)))}"
    birth = dt.date(1930, 1, 1) + dt.timedelta(days=int(rng.integers(0, 60 * 365)))  # 1930-1989
    return _Patient(
        name=name,
        mrn=f"MRN{int(rng.integers(10**6, 10**7))}{k:03d}",
        birth=birth.strftime("%Y%m%d"),
        sex="F" if not vietnamese or rng.random() < 0.45 else "M",
        address=f"{int(rng.integers(10, 999))} {_STREETS[int(rng.integers(len(_STREETS)))]}, Unit {k + 1}",
        phone=f"+84-24-{int(rng.integers(10**6, 10**7))}"
        if vietnamese
        else f"555-{int(rng.integers(1000, 9999))}",
        other_id=f"INS-{int(rng.integers(10**8, 10**9))}",
    )


def _sites(vietnamese: bool) -> list[_Site]:
    if vietnamese:
        return [
            _Site("Red River General Hospital", "18 Giai Phong Road, Hanoi", "RRGH-DR-02", "SN-DRX-4471902"),
            _Site(
                "Lotus Lake Medical University Hospital",
                "1 Ton That Tung, Hanoi",
                "LLMU-CR-07",
                "SN-CR-8830215",
            ),
        ]
    return [
        _Site(
            "Riverside Breast Imaging Center", "400 Harbor Parkway, Boston", "RBIC-MAMMO-1", "SN-LUM-2209931"
        ),
        _Site(
            "Saint Aldric Womens Hospital", "77 Cedar Lane, Winston-Salem", "SAWH-FILM-3", "SN-DIG-5570114"
        ),
    ]


def _study_date(rng: np.random.Generator) -> dt.date:
    return dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 8 * 365)))  # 2015-2022


def _phi_header(
    ds: Dataset, rng: np.random.Generator, pat: _Patient, site: _Site, study: dt.date, k: int
) -> None:
    """The identifying attributes a non-de-identified export carries (see :data:`PHI_KEYWORDS`)."""
    day = study.strftime("%Y%m%d")
    ds.PatientName = pat.name
    ds.PatientID = pat.mrn
    ds.PatientBirthDate = pat.birth
    ds.PatientSex = pat.sex
    ds.PatientAge = f"{max(1, (study.year - int(pat.birth[:4]))):03d}Y"
    ds.PatientAddress = pat.address
    ds.PatientTelephoneNumbers = pat.phone
    ds.OtherPatientIDs = pat.other_id
    ds.InstitutionName = site.institution
    ds.InstitutionAddress = site.address
    ds.ReferringPhysicianName = f"{_LAST_US[int(rng.integers(len(_LAST_US)))]}^ROBERT^DR"
    ds.PerformingPhysicianName = f"{_FAMILY_VN[int(rng.integers(len(_FAMILY_VN)))]}^HUNG^DR"
    ds.OperatorsName = f"TECH^{_GIVEN[int(rng.integers(len(_GIVEN)))]}"
    ds.StationName = site.station
    ds.DeviceSerialNumber = site.serial
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = day
    ds.StudyTime = f"{int(rng.integers(7, 19)):02d}{int(rng.integers(60)):02d}{int(rng.integers(60)):02d}"
    ds.AccessionNumber = f"ACC{study.year}{int(rng.integers(10**5, 10**6))}{k:03d}"
    ds.StudyID = f"ST{int(rng.integers(10**5, 10**6))}"
    ds.StudyDescription = f"Imaging for {pat.name.split('^')[0].title()} family screening"
    block = ds.private_block(0x0009, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "LO", f"{pat.name} {pat.mrn}")
    block.add_new(0x02, "DA", pat.birth)


@dataclass
class _Encoding:
    """How an 8-bit rendered image is stored: bits, photometric, rescale and VOI."""

    bits: int
    mono1: bool
    rescale: int | None  # RescaleIntercept (slope 1) or None
    voi: str  # "none" | "window" | "lut"


def _pick_encoding(rng: np.random.Generator, bits_choices: tuple[int, ...]) -> _Encoding:
    u = rng.random()
    voi = "lut" if u < 0.12 else ("window" if u < 0.6 else "none")
    bits = int(rng.choice(bits_choices))
    mono1 = rng.random() < 0.3
    rescale = -int(rng.integers(200, 1500)) if rng.random() < 0.25 else None
    if voi == "lut":  # a 4096-entry LUT indexed by the stored values (unsigned first map)
        bits, rescale = 12, None
    return _Encoding(bits=bits, mono1=mono1, rescale=rescale, voi=voi)


def _encode(ds: Dataset, rng: np.random.Generator, pix: np.ndarray, enc: _Encoding) -> None:
    """Store ``pix`` (uint8, bright = dense) with ``enc`` into ``ds``: a monotonic map + slight noise."""
    top = 2**enc.bits - 1
    lo, hi = rng.uniform(0.04, 0.2) * top, rng.uniform(0.75, 0.97) * top
    values = lo + pix.astype(np.float64) / 255.0 * (hi - lo)
    values += rng.normal(0.0, 0.0015 * top, size=pix.shape)
    stored = np.clip(np.round(values), 0, top)
    if enc.mono1:
        stored = top - stored  # MONOCHROME1: the minimum value is displayed white
    ds.set_pixel_data(
        stored.astype(np.uint16),
        "MONOCHROME1" if enc.mono1 else "MONOCHROME2",
        enc.bits,
        generate_instance_uid=False,
    )
    offset = 0
    if enc.rescale is not None:
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = enc.rescale, 1, "US"
        offset = enc.rescale
    if enc.voi == "window":
        p1, p99 = np.percentile(stored, [0.5, 99.5]) + offset
        ds.WindowCenter = f"{(p1 + p99) / 2:.1f}"
        ds.WindowWidth = f"{max(2.0, (p99 - p1) * rng.uniform(1.0, 1.25)):.1f}"
        ds.VOILUTFunction = "LINEAR"
    elif enc.voi == "lut":
        n = top + 1
        gamma = rng.uniform(0.8, 1.25)
        lut = np.round((np.arange(n) / (n - 1)) ** gamma * 65535).astype(np.uint16)
        item = Dataset()
        item.add_new(0x00283002, "US", [n, 0, 16])  # LUT Descriptor: entries, first stored value, bits
        item.add_new(0x00283006, "US", lut.tolist())  # LUT Data
        item.LUTExplanation = f"GAMMA {gamma:.2f}"
        ds.VOILUTSequence = [item]


def _new_dataset(sop_class: str, uid_seed: list[Any], study_uid: str, series_uid: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(s) for s in uid_seed])
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[*map(str, uid_seed), "for"])
    ds.Manufacturer = "SYNTHETIC"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    return ds


def _save(ds: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


# ----------------------------------------------------------------------------------- PHI marker dataset
PHI_MARKER = "JDOE-MRN1001"  # fits every text VR (SH: 16 chars); must never reach a de-identified output
_MARKER_VRS = ("PN", "LO", "SH", "LT", "ST", "UT", "UC")
PHI_MARKER_DATE, PHI_MARKER_TIME = "19470312", "083015"  # dates and times must be shifted or removed
PHI_MARKER_UID = "1.2.826.0.1.3680043.2.1125.1001"  # root of the dataset's UIDs, all to be replaced


def phi_marker_dataset(marker: str = PHI_MARKER) -> Dataset:
    """A small MONOCHROME2 DX image whose header puts ``marker`` into every public attribute (retired ones
    too) of a person-name or free-text VR of pydicom's dictionary (~740, ``RequestedProcedureComments``,
    ``ReasonForStudy``... included), into nested sequences (one that decoding keeps, VOI LUT, and ones it
    does not), private tags and an overlay; plus the dates, times and UIDs ``PHI_MARKER_*``."""
    ds = _new_dataset(DX_STORAGE, ["phi-marker"], PHI_MARKER_UID + ".1", PHI_MARKER_UID + ".2")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = PHI_MARKER_UID + ".4"
    pixels = np.arange(64, dtype=np.uint16).reshape(8, 8)
    ds.set_pixel_data(pixels, "MONOCHROME2", 12, generate_instance_uid=False)
    for tag, (vr, _vm, _name, _retired, keyword) in sorted(DicomDictionary.items()):
        if vr in _MARKER_VRS and keyword and tag >> 16 not in (0x0000, 0x0002, 0xFFFE):
            ds.add_new(tag, vr, marker)
    ds.StudyDate = ds.PatientBirthDate = ds.AcquisitionDate = PHI_MARKER_DATE
    ds.StudyTime = ds.AcquisitionTime = PHI_MARKER_TIME
    ds.FrameOfReferenceUID = PHI_MARKER_UID + ".3"
    voi = Dataset()  # kept by decoding: only the LUT itself may survive, not its explanation
    voi.add_new(0x00283002, "US", [4, 0, 16])
    voi.add_new(0x00283006, "US", [0, 100, 200, 300])
    voi.LUTExplanation = marker
    ds.VOILUTSequence = [voi]
    request = Dataset()  # not kept: a nested sequence in a nested sequence
    request.RequestedProcedureComments = request.ReasonForTheRequestedProcedure = marker
    code = Dataset()
    code.CodeMeaning, code.CodeValue = marker, marker
    request.ReasonForRequestedProcedureCodeSequence = [code]
    ds.RequestAttributesSequence = [request]
    block = ds.private_block(0x0009, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "LO", marker)
    block.add_new(0x02, "UN", marker.encode())
    block.add_new(0x03, "SQ", [Dataset()])
    block[0x03].value[0].PatientName = marker
    ds.add_new(0x00185101, "LO", marker)  # View Position (kept, CS) written with a free-text VR
    ds.add_new(0x60000010, "US", 8)  # overlay rows
    ds.add_new(0x60004000, "LT", marker)  # overlay comments
    return ds


# --------------------------------------------------------------------------------------------- VinDr-CXR
# Image-level prevalence of each VinDr label in the sample (boosted over the real ~70% "No finding").
VINDR_PREVALENCE: dict[str, float] = {
    "Aortic enlargement": 0.12,
    "Cardiomegaly": 0.22,
    "Pleural effusion": 0.15,
    "Pleural thickening": 0.07,
    "Nodule/Mass": 0.07,
    "Lung Opacity": 0.06,
    "Infiltration": 0.04,
    "Consolidation": 0.04,
    "Pneumonia": 0.05,
    "Atelectasis": 0.03,
    "Pneumothorax": 0.04,
    "Rib fracture": 0.03,
    "Edema": 0.02,
    "Enlarged PA": 0.02,
    "Lung tumor": 0.02,
    "Other lesion": 0.03,
    "Pulmonary fibrosis": 0.06,  # dropped by the CheXpert mapping
    "Calcification": 0.03,
    "Tuberculosis": 0.03,
    "Other diseases": 0.05,
    "ILD": 0.02,
    "COPD": 0.01,
}
VINDR_TEST_FRACTION = 0.17  # 3,000 of 18,000
VINDR_READERS = tuple(f"R{i}" for i in range(1, 18))


def _vindr_findings(rng: np.random.Generator) -> frozenset[str]:
    found = {name for name, p in VINDR_PREVALENCE.items() if rng.random() < p}
    if not any(MAPPING[n] is not None for n in found):  # only dropped labels: keep the image "No finding"
        found = set()
    return frozenset(found)


def _reader_labels(rng: np.random.Generator, truth: frozenset[str]) -> set[str]:
    """One reader's labels: each true finding seen with p 0.9 (in a fixed order: a set's order depends on the
    string-hash seed), sometimes one extra finding."""
    seen = {name for name in sorted(truth) if rng.random() < 0.9}
    if rng.random() < 0.03:
        seen.add(str(rng.choice([n for n in VINDR_PREVALENCE if MAPPING[n] is not None])))
    return seen


def _vindr_row(labels: set[str]) -> list[str]:
    positive = set(labels) or {"No finding"}
    return ["1" if name in positive else "0" for name in VINDR_LABELS]


def write_vindr_cxr(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """Write ``n_records`` chest radiographs as DICOM + the two image-label csvs under ``root``."""
    if n_records < 2:
        raise ValueError(f"n_records must be >= 2, got {n_records}")
    root = Path(root)
    rng = np.random.default_rng([seed, 0])
    ann = root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    for name in ("image_labels_train.csv", "image_labels_test.csv"):  # csvs are written last
        (ann / name).unlink(missing_ok=True)
    sites = _sites(vietnamese=True)
    images, patients = _vindr_images(rng, n_records, len(sites))
    test = _test_patients(
        rng, [im["patient"] for im in images], len(patients), VINDR_TEST_FRACTION, n_records
    )
    for k, im in enumerate(images):
        im["id"] = hashlib.md5(f"vindr-sample-{seed}-{k}".encode()).hexdigest()
        im["split"] = "test" if im["patient"] in test else "train"
    for k, im in enumerate(images):
        _write_vindr_image(root, seed, k, im, patients[im["patient"]], sites[im["site"]])
    train_rows, test_rows = _vindr_label_rows(seed, images, shuffle_labels)
    _write_csv(ann / "image_labels_train.csv", ["image_id", "rad_ID", *VINDR_LABELS], train_rows)
    _write_csv(ann / "image_labels_test.csv", ["image_id", *VINDR_LABELS], test_rows)
    logger.info("wrote %d VinDr-CXR DICOM images (%d test) to %s", len(images), len(test_rows), root)
    return root


def _vindr_images(
    rng: np.random.Generator, n_records: int, n_sites: int
) -> tuple[list[dict[str, Any]], list[_Patient]]:
    """Patients (a quarter with two studies) and their images, until ``n_records`` images."""
    images: list[dict[str, Any]] = []
    patients: list[_Patient] = []
    while len(images) < n_records:
        pat = _fake_patient(rng, len(patients), vietnamese=True)
        patients.append(pat)
        for _ in range(2 if rng.random() < 0.25 and len(images) + 1 < n_records else 1):
            images.append(
                {
                    "patient": len(patients) - 1,
                    "findings": _vindr_findings(rng),
                    "study": _study_date(rng),
                    "site": int(rng.integers(n_sites)),
                    "ap": rng.random() < 0.15,
                }
            )
    return images, patients


def _test_patients(
    rng: np.random.Generator, patient_of: list[int], n_patients: int, fraction: float, n_records: int
) -> set[int]:
    """Whole patients (``patient_of``: each image's patient) for the test split: about ``fraction`` of
    the images, at least one, and never every patient."""
    test_patients: set[int] = set()
    n_test = 0
    for p in rng.permutation(n_patients):
        if n_test >= max(1, round(fraction * n_records)) or len(test_patients) == n_patients - 1:
            break
        test_patients.add(int(p))
        n_test += sum(1 for q in patient_of if q == p)
    return test_patients


def _write_vindr_image(
    root: Path, seed: int, k: int, im: dict[str, Any], patient: _Patient, site: _Site
) -> None:
    """One radiograph, drawn from its true findings, as a DX or CR DICOM file with a PHI-laden header."""
    irng = np.random.default_rng([seed, 1, k])
    h, w = int(irng.integers(256, 289)), int(irng.integers(236, 265))
    found = frozenset(m for n in im["findings"] if (m := MAPPING[n]) is not None and m != "No Finding")
    pix = render_frontal(irng, found, h, w, ap=im["ap"])
    uid_seed = ["vindr", seed, k]
    ds = _new_dataset(
        DX_STORAGE if irng.random() < 0.8 else SC_STORAGE,
        uid_seed,
        generate_uid(entropy_srcs=[*map(str, uid_seed), "study"]),
        generate_uid(entropy_srcs=[*map(str, uid_seed), "series"]),
    )
    ds.Modality = "DX" if ds.SOPClassUID == DX_STORAGE else "CR"
    ds.BodyPartExamined, ds.ViewPosition = "CHEST", "AP" if im["ap"] else "PA"
    ds.ImagerPixelSpacing = [round(43.0 / h * 10, 4), round(43.0 / h * 10, 4)]
    ds.BurnedInAnnotation = "YES" if irng.random() < 0.08 else "NO"
    _phi_header(ds, irng, patient, site, im["study"], k)
    _encode(ds, irng, pix, _pick_encoding(irng, (12, 14, 16)))
    _save(ds, root / im["split"] / f"{im['id']}.dicom")


def _vindr_label_rows(
    seed: int, images: list[dict[str, Any]], shuffle_labels: bool
) -> tuple[list[list[str]], list[list[str]]]:
    """Train rows (three readers per image, each with reading errors) and test rows (the consensus)."""
    truths = [im["findings"] for im in images]
    if shuffle_labels:
        perm = np.random.default_rng([seed, 2]).permutation(len(truths))
        truths = [truths[i] for i in perm]
    lrng = np.random.default_rng([seed, 3])
    train_rows: list[list[str]] = []
    test_rows: list[list[str]] = []
    for im, truth in zip(images, truths, strict=True):
        if im["split"] == "test":
            test_rows.append([im["id"], *_vindr_row(set(truth))])
            continue
        for rad in lrng.choice(VINDR_READERS, size=3, replace=False):
            train_rows.append([im["id"], str(rad), *_vindr_row(_reader_labels(lrng, truth))])
    return train_rows, test_rows


def _write_csv(path: Path, header: Sequence[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# --------------------------------------------------------------------------------------------- CBIS-DDSM
MASS_COLUMNS = (
    "patient_id",
    "breast_density",
    "left or right breast",
    "image view",
    "abnormality id",
    "abnormality type",
    "mass shape",
    "mass margins",
    "assessment",
    "pathology",
    "subtlety",
    "image file path",
    "cropped image file path",
    "ROI mask file path",
)
CALC_COLUMNS = (
    "patient_id",
    "breast density",
    "left or right breast",
    "image view",
    "abnormality id",
    "abnormality type",
    "calc type",
    "calc distribution",
    "assessment",
    "pathology",
    "subtlety",
    "image file path",
    "cropped image file path",
    "ROI mask file path",
)
NBIA_COLUMNS = (
    "Series UID",
    "Collection",
    "3rd Party Analysis",
    "Data Description URI",
    "Subject ID",
    "Study UID",
    "Study Description",
    "Study Date",
    "Series Description",
    "Manufacturer",
    "Modality",
    "SOP Class Name",
    "SOP Class UID",
    "Number of Images",
    "File Size",
    "File Location",
    "Download Timestamp",
)
BIRADS_P = {1: 0.06, 2: 0.2, 3: 0.22, 4: 0.34, 5: 0.18}
MALIGNANT_P = {0: 0.3, 1: 0.02, 2: 0.05, 3: 0.15, 4: 0.5, 5: 0.95}
MASS_SHAPE = {0: "OVAL", 1: "ROUND", 2: "ROUND", 3: "OVAL", 4: "LOBULATED", 5: "IRREGULAR"}
MASS_MARGINS = {
    0: "OBSCURED",
    1: "CIRCUMSCRIBED",
    2: "CIRCUMSCRIBED",
    3: "OBSCURED",
    4: "ILL_DEFINED",
    5: "SPICULATED",
}
CALC_TYPE = {
    0: "PUNCTATE",
    1: "ROUND_AND_REGULAR",
    2: "LARGE_RODLIKE",
    3: "PUNCTATE",
    4: "AMORPHOUS",
    5: "PLEOMORPHIC",
}
CALC_DIST = {0: "CLUSTERED", 1: "SCATTERED", 2: "SCATTERED", 3: "CLUSTERED", 4: "CLUSTERED", 5: "SEGMENTAL"}
CBIS_TEST_FRACTION = 0.2


@dataclass
class _Abnormality:
    kind: str  # "mass" | "calcification"
    number: int  # abnormality id within the image
    birads: int
    pathology: str


@dataclass
class _Mammo:
    patient: int
    side: str
    view: str
    density: int
    abnormalities: list[_Abnormality]
    split: str = "train"
    study: dt.date = dt.date(2000, 1, 1)
    series: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # kind -> (subject, study, series)


def _pathology(rng: np.random.Generator, birads: int, kind: str) -> str:
    if rng.random() < MALIGNANT_P[birads]:
        return "MALIGNANT"
    return "BENIGN_WITHOUT_CALLBACK" if kind == "calcification" and rng.random() < 0.4 else "BENIGN"


def _breast_lesions(rng: np.random.Generator) -> list[_Abnormality]:
    birads = int(rng.choice(list(BIRADS_P), p=list(BIRADS_P.values())))
    kind = "mass" if rng.random() < 0.55 else "calcification"
    out = [_Abnormality(kind, 1, birads, _pathology(rng, birads, kind))]
    if rng.random() < 0.2:  # a second, less suspicious abnormality (sometimes of the other kind)
        second = int(rng.integers(1, birads + 1))
        kind2 = kind if rng.random() < 0.6 else ("calcification" if kind == "mass" else "mass")
        out.append(_Abnormality(kind2, 2, second, _pathology(rng, second, kind2)))
    if rng.random() < 0.05:  # an incomplete (BI-RADS 0) assessment, ignored by the label
        out.append(_Abnormality("calcification", len(out) + 1, 0, _pathology(rng, 0, "calcification")))
    return out


def _draw_mass(
    d: ImageDraw.ImageDraw, rng: np.random.Generator, x: float, y: float, r: float, birads: int
) -> None:
    n = 24
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, 2 * np.pi)
    aspect = {0: 1.3, 1: 1.0, 2: 1.0, 3: 1.45}.get(birads, 1.15)
    jitter = {4: 0.22, 5: 0.18}.get(birads, 0.04)
    lobes = 1 + jitter * np.sin(3 * ang + rng.uniform(0, 6)) + rng.normal(0, jitter / 2, n)
    pts = [
        (x + r * aspect * lb * math.cos(a), y + r * lb * math.sin(a))
        for a, lb in zip(ang, lobes, strict=True)
    ]
    d.polygon(pts, fill=255)
    if birads == 5:  # spicules radiating from the margin
        for a in rng.uniform(0, 2 * np.pi, size=int(rng.integers(9, 15))):
            length = r * rng.uniform(1.6, 2.6)
            d.line([(x, y), (x + length * math.cos(a), y + length * math.sin(a))], fill=200, width=2)


def _draw_calcs(
    d: ImageDraw.ImageDraw, rng: np.random.Generator, x: float, y: float, w: int, birads: int
) -> None:
    count = {0: 5, 1: 2, 2: 3, 3: 6, 4: 11, 5: 18}[birads] + int(rng.integers(0, 3))
    spread = w * {1: 0.2, 2: 0.18, 3: 0.05, 4: 0.06, 5: 0.1}.get(birads, 0.06)
    size = {1: 2.0, 2: 2.2, 3: 1.5, 4: 1.4, 5: 1.2}.get(birads, 1.4)
    axis = rng.uniform(0, np.pi)
    for _ in range(count):
        if birads == 5:  # linear / branching: along a duct
            t = rng.normal(0, spread)
            px, py = x + t * math.cos(axis) + rng.normal(0, 1.5), y + t * math.sin(axis) + rng.normal(0, 1.5)
            a = axis + rng.normal(0, 0.4)
            d.line([(px, py), (px + 3 * math.cos(a), py + 3 * math.sin(a))], fill=255, width=2)
        else:
            px, py = x + rng.normal(0, spread), y + rng.normal(0, spread)
            s = size * rng.uniform(0.8, 1.3)
            d.ellipse((px - s, py - s, px + s, py + s), fill=255)


def _render_mammogram(rng: np.random.Generator, h: int, w: int, m: _Mammo, burned_in: bool) -> np.ndarray:
    """uint8 mammogram (bright = dense), chest wall at the left for a LEFT breast (mirrored for RIGHT)."""
    c = Canvas(h, w)
    cy = h * (rng.uniform(0.45, 0.55) + (0.06 if m.view == "MLO" else 0.0))
    rx, ry = w * rng.uniform(0.74, 0.92), h * rng.uniform(0.36, 0.44)
    d2 = (c.xx / rx) ** 2 + ((c.yy - cy) / ry) ** 2
    breast = np.clip((1 - d2) / 0.05, 0, 1)
    thick = np.sqrt(np.clip(1 - d2, 0, 1))
    texture = 0.6 * c.noise(rng, 14) + 0.4 * c.noise(rng, 5)
    gland = np.clip(texture * 0.5 + 0.5 - (0.75 - 0.1 * m.density), 0, 1) * np.clip(1.1 - c.xx / rx, 0, 1)
    dens = 0.06 + 0.36 * thick * breast + (0.08 + 0.03 * m.density) * gland * breast
    if m.view == "MLO":  # pectoral muscle: a bright triangle at the chest wall, top of the image
        a, b = w * rng.uniform(0.22, 0.32), h * rng.uniform(0.35, 0.5)
        dens += 0.22 * c.polygon([(0, 0), (a, 0), (0, b)], 2.0)
    lrng = np.random.default_rng(rng.integers(2**63))  # lesion stream
    for ab in m.abnormalities:
        x, y = rx * lrng.uniform(0.2, 0.6), cy + ry * lrng.uniform(-0.5, 0.5)
        img, d = c.draw()
        if ab.kind == "mass":
            r = (
                w
                * {0: 0.05, 1: 0.025, 2: 0.04, 3: 0.05, 4: 0.065, 5: 0.08}[ab.birads]
                * lrng.uniform(0.85, 1.15)
            )
            _draw_mass(d, lrng, x, y, r, ab.birads)
            blur = {4: 2.2, 5: 1.4}.get(ab.birads, 1.0)
            amp = {0: 0.14, 1: 0.07, 2: 0.11, 3: 0.14, 4: 0.18, 5: 0.22}[ab.birads] * lrng.uniform(0.85, 1.15)
            dens += amp * c.done(img, blur) * breast
        else:
            _draw_calcs(d, lrng, x, y, w, ab.birads)
            dens += lrng.uniform(0.35, 0.5) * c.done(img, 0.6) * breast
    dens += 0.008 * c.noise(rng, 2) + rng.normal(0, 0.006, size=(h, w)).astype(np.float32)
    levels = np.clip(dens, 0, 1) ** rng.uniform(0.85, 1.15) * rng.uniform(0.9, 1.05)
    out = Image.fromarray((np.clip(levels, 0, 1) * 255).round().astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(0.5)
    )
    if burned_in:  # the film label the digitizer captured, outside the breast
        ImageDraw.Draw(out).rectangle((w - 0.3 * w, h - 0.08 * h, w - 0.05 * w, h - 0.03 * h), fill=230)
    arr = np.asarray(out)
    return np.ascontiguousarray(arr[:, ::-1]) if m.side == "RIGHT" else arr


def _tcia_uid(rng: np.random.Generator) -> str:
    return TCIA_ROOT + "".join(str(int(v)) for v in rng.integers(0, 10, size=36)).lstrip("0")


def write_cbis_ddsm(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """Write ``n_records`` mammograms (DICOM, NBIA tree) + the four description csvs + metadata.csv."""
    if n_records < 2:
        raise ValueError(f"n_records must be >= 2, got {n_records}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, _ in DESCRIPTION_CSVS:  # csvs are written last
        (root / name).unlink(missing_ok=True)
    (root / "metadata.csv").unlink(missing_ok=True)
    rng = np.random.default_rng([seed, 0])
    sites = _sites(vietnamese=False)
    mammos, patients = _cbis_mammos(rng, n_records)
    nbia: list[list[str]] = []
    for k, m in enumerate(mammos):
        nbia += _write_mammogram(root, seed, k, m, patients[m.patient], sites[m.patient % 2])
    rows = _description_rows(seed, mammos, shuffle_labels)
    for name, _ in DESCRIPTION_CSVS:
        kind, split = name.split("_")[0], "train" if "_train_" in name else "test"
        _write_csv(root / name, MASS_COLUMNS if kind == "mass" else CALC_COLUMNS, rows[(kind, split)])
    _write_csv(root / "metadata.csv", NBIA_COLUMNS, nbia)
    logger.info("wrote %d CBIS-DDSM mammograms (%d series) to %s", len(mammos), len(nbia), root)
    return root


def _cbis_mammos(rng: np.random.Generator, n_records: int) -> tuple[list[_Mammo], list[_Patient]]:
    """Patients (one breast each, mostly both views) until ``n_records`` mammograms; whole patients go to
    the test split, and each patient has one study date."""
    mammos: list[_Mammo] = []
    patients: list[_Patient] = []
    while len(mammos) < n_records:
        patients.append(_fake_patient(rng, len(patients), vietnamese=False))
        side, density = str(rng.choice(["LEFT", "RIGHT"])), int(rng.integers(1, 5))
        lesions = _breast_lesions(rng)
        views = (
            ["CC", "MLO"]
            if rng.random() < 0.8 and len(mammos) + 1 < n_records
            else [str(rng.choice(["CC", "MLO"]))]
        )
        for view in views:
            copy = [_Abnormality(a.kind, a.number, a.birads, a.pathology) for a in lesions]
            mammos.append(_Mammo(len(patients) - 1, side, view, density, copy))
    test = _test_patients(rng, [m.patient for m in mammos], len(patients), CBIS_TEST_FRACTION, n_records)
    studies = {p: _study_date(rng) for p in range(len(patients))}
    for m in mammos:
        m.split = "test" if m.patient in test else "train"
        m.study = studies[m.patient]
    return mammos, patients


def _write_mammogram(
    root: Path, seed: int, k: int, m: _Mammo, patient: _Patient, site: _Site
) -> list[list[str]]:
    """Mammogram ``k`` as one DICOM series per abnormality kind (TCIA files masses and calcifications
    apart); sets ``m.series`` and returns the metadata.csv rows."""
    irng = np.random.default_rng([seed, 1, k])
    h = int(irng.integers(208, 241))
    w = round(h * irng.uniform(0.58, 0.66))
    burned = irng.random() < 0.1
    pix = _render_mammogram(irng, h, w, m, burned)
    enc = _pick_encoding(irng, (12, 14, 16))
    folder_date = dt.date(2016, 7, 20) + dt.timedelta(days=int(irng.integers(0, 60)))  # TCIA's shifted dates
    nbia = []
    for kind in sorted({a.kind for a in m.abnormalities}):
        prefix = "Mass" if kind == "mass" else "Calc"
        split = "Training" if m.split == "train" else "Test"
        subject = f"{prefix}-{split}_P_{m.patient + 1:05d}_{m.side}_{m.view}"
        srng = np.random.default_rng([seed, 4, k, len(kind)])
        study_uid, series_uid = _tcia_uid(srng), _tcia_uid(srng)
        m.series[kind] = (subject, study_uid, series_uid)
        study_dir = f"{folder_date.strftime('%m-%d-%Y')}-DDSM-{int(srng.integers(10**4, 10**5))}"
        series_dir = f"1.000000-full mammogram images-{int(srng.integers(10**4, 10**5))}"
        rel = f"CBIS-DDSM/{subject}/{study_dir}/{series_dir}"
        ds = _new_dataset(SC_STORAGE, ["cbis", seed, k, kind], study_uid, series_uid)
        ds.Modality, ds.BodyPartExamined = "MG", "BREAST"
        ds.ImageLaterality, ds.ViewPosition = m.side[0], m.view
        ds.PixelSpacing = [round(150.0 / h, 4), round(150.0 / h, 4)]
        ds.ConversionType = "DF"  # digitized film
        ds.BurnedInAnnotation = "YES" if burned else "NO"
        _phi_header(ds, np.random.default_rng([seed, 5, m.patient]), patient, site, m.study, k)
        _encode(ds, np.random.default_rng([seed, 6, k]), pix, enc)
        _save(ds, root / rel / "1-1.dcm")
        size = (root / rel / "1-1.dcm").stat().st_size
        nbia.append(_nbia_row(series_uid, subject, study_uid, folder_date, size, rel))
    return nbia


def _nbia_row(series_uid: str, subject: str, study_uid: str, date: dt.date, size: int, rel: str) -> list[str]:
    """One metadata.csv row, as the NBIA Data Retriever writes it."""
    return [
        series_uid,
        "CBIS-DDSM",
        "NO",
        "https://doi.org/10.7937/K9/TCIA.2016.7O02S9CY",
        subject,
        study_uid,
        "DDSM",
        date.strftime("%m-%d-%Y"),
        "full mammogram images",
        "SYNTHETIC",
        "MG",
        "Secondary Capture Image Storage",
        SC_STORAGE,
        "1",
        f"{size / 1e6:.2f} MB",
        f"./{rel}",
        "2024-01-01T00:00:00.000",
    ]


def _description_rows(
    seed: int, mammos: list[_Mammo], shuffle_labels: bool
) -> dict[tuple[str, str], list[list[str]]]:
    """The description-csv rows by (mass|calc, train|test); ``shuffle_labels`` permutes BI-RADS and
    pathology across the abnormalities (the images keep their true lesions)."""
    labels = [(a.birads, a.pathology) for m in mammos for a in m.abnormalities if a.birads > 0]
    if shuffle_labels:
        perm = np.random.default_rng([seed, 2]).permutation(len(labels))
        labels = [labels[i] for i in perm]
    it = iter(labels)
    rows: dict[tuple[str, str], list[list[str]]] = {
        (k, s): [] for k in ("mass", "calc") for s in ("train", "test")
    }
    crng = np.random.default_rng([seed, 3])
    for m in mammos:
        for a in m.abnormalities:
            birads, pathology = next(it) if a.birads > 0 else (a.birads, a.pathology)
            key = ("mass" if a.kind == "mass" else "calc", m.split)
            rows[key].append(_description_row(crng, m, a, birads, pathology))
    return rows


def _description_row(
    crng: np.random.Generator, m: _Mammo, a: _Abnormality, birads: int, pathology: str
) -> list[str]:
    """One abnormality's row: the full image, its crop and ROI mask paths, and the (maybe shuffled) labels."""
    subject, study_uid, series_uid = m.series[a.kind]
    full = f"{subject}/{study_uid}/{series_uid}/000000.dcm"
    crop_uid, roi_uid = _tcia_uid(crng), _tcia_uid(crng)
    crop = f"{subject}_{a.number}/{crop_uid}/{roi_uid}/000000.dcm"
    roi = f"{subject}_{a.number}/{crop_uid}/{roi_uid}/000001.dcm"
    subtlety = str(int(np.clip(round(birads + crng.normal(0, 1)), 1, 5)))
    if a.kind == "mass":
        desc = [MASS_SHAPE[a.birads], MASS_MARGINS[a.birads]]
    else:
        desc = [CALC_TYPE[a.birads], CALC_DIST[a.birads]]
    return [
        f"P_{m.patient + 1:05d}",
        str(m.density),
        m.side,
        m.view,
        str(a.number),
        "mass" if a.kind == "mass" else "calcification",
        *desc,
        str(birads),
        pathology,
        subtlety,
        full,
        crop,
        roi,
    ]
