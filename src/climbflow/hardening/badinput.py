"""The bad-input corpus: one small broken copy per case, in the dataset's real layout, and the check runner.

Each :class:`Case` starts from the dataset's sample copy (:mod:`climbflow.sampledata`, a few records), breaks
exactly one thing, and names the outcome climbflow must produce:

- ``index``: :meth:`DatasetSpec.index` yields ``Rejected`` rows, all with rule ``rule``;
- ``decode``: every record indexes, and decode + modality standardize raises ``RecordError`` with ``rule``
  (and nothing else) for at least one record;
- ``catalog``: indexing raises :class:`CatalogError` (``rule`` is ``catalog_error``);
- ``config``: :func:`climbflow.config.load` raises :class:`ConfigError` whose message shows ``rule``
  (``unknown_key``, ``bad_value``, ``not_a_mapping``, ``bad_yaml``);
- ``validate``: the pandas validation checks (patient leakage, duplicate content across splits) fail with
  ``rule`` (and no other).

A case is *caught* only if it produces exactly its rule: a traceback, another rule or a silent acceptance is
a miss. ``python -m climbflow.hardening.badinput`` builds the corpus in a temp dir and prints the count
caught / total and a per-reader table; ``--out DIR`` keeps the corpus, ``--manifest FILE`` writes the manifest.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

Stage = Literal["ingest", "index", "decode", "catalog", "config", "validate"]
SAMPLE_RECORDS = 4
SALT = "climbflow-badinput-corpus-salt"  # fixed de-identification salt: the corpus is deterministic
OUTSIDE = "outside"  # folder next to the dataset root that traversal cases point into


@dataclass(frozen=True)
class Case:
    """One broken input: ``build(root)`` breaks a fresh sample copy of ``dataset`` at ``root``."""

    id: str
    reader: str  # wfdb | cinc_mat | edf | dicom | image | avi | nifti | npy | csv | yaml
    dataset: str | None  # None for params.yaml cases
    broken: str
    stage: Stage
    rule: str
    build: Callable[[Path], None]

    def expected(self) -> str:
        return {
            "ingest": f"file refused at ingest with rule {self.rule}",
            "index": f"Rejected at index with rule {self.rule}",
            "decode": f"RecordError at decode with rule {self.rule}",
            "catalog": "CatalogError at index",
            "config": f"ConfigError ({self.rule})",
            "validate": f"validation failure naming rule {self.rule}",
        }[self.stage]

    def manifest_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reader": self.reader,
            "dataset": self.dataset,
            "broken": self.broken,
            "stage": self.stage,
            "rule": self.rule,
            "expected": self.expected(),
        }


@dataclass(frozen=True)
class Outcome:
    case: Case
    got: str  # the rule(s) produced, "accepted", or "traceback: ..."

    @property
    def caught(self) -> bool:
        return self.got == self.case.rule


# --------------------------------------------------------------------------------------------- file helpers
def _open_text(path: Path, mode: str) -> Any:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", newline="", encoding="utf-8")
    return path.open(mode, newline="", encoding="utf-8")


def edit_csv(path: Path, edit: Callable[[list[dict[str, str]], list[str]], list[str] | None]) -> None:
    """Rewrite a (possibly gzipped) CSV; ``edit(rows, header)`` changes rows in place, may return a header."""
    with _open_text(path, "r") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    header = edit(rows, header) or header
    if path.suffix == ".gz":
        buf = io.StringIO()
        _write_rows(buf, header, rows)
        path.write_bytes(gzip.compress(buf.getvalue().encode(), mtime=0))
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            _write_rows(fh, header, rows)


def _write_rows(fh: Any, header: list[str], rows: list[dict[str, str]]) -> None:
    writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def first(root: Path, pattern: str) -> Path:
    found = sorted(root.glob(pattern))
    if not found:
        raise FileNotFoundError(f"{root}: no file matches {pattern}")
    return found[0]


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def garbage(path: Path) -> None:
    path.write_bytes(b"this is not a medical file\n" * 64)


def outside_copy(root: Path, src: Path, name: str) -> Path:
    """Copy ``src`` to ``<root>/../outside/<name>``: a real file that only a path escaping the root reaches."""
    dest = root.parent / OUTSIDE / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring ``width x height`` 8-bit gray pixels, with a tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def jpeg_bomb(path: Path, size: int = 65_000) -> None:
    """Patch the frame header (SOF0/SOF2) of a real JPEG to declare ``size x size`` pixels."""
    data = bytearray(path.read_bytes())
    for marker in (b"\xff\xc0", b"\xff\xc2", b"\xff\xc1"):
        at = data.find(marker)
        if at >= 0:
            data[at + 5 : at + 9] = struct.pack(">HH", size, size)
            path.write_bytes(bytes(data))
            return
    raise ValueError(f"{path}: no JPEG frame header")


def set_dicom(path: Path, **values: Any) -> None:
    import pydicom

    ds = pydicom.dcmread(path)
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    ds.save_as(path)


# ------------------------------------------------------------------------------------------ case builders
def _ptbxl(edit: Callable[[list[dict[str, str]]], None]) -> Callable[[Path], None]:
    return lambda root: edit_csv(root / "ptbxl_database.csv", lambda rows, _h: edit(rows))


def _hea_line0(root: Path, pattern: str, fn: Callable[[list[str]], list[str]]) -> None:
    hea = first(root, pattern)
    lines = hea.read_text().splitlines()
    lines[0] = " ".join(fn(lines[0].split()))
    hea.write_text("\n".join(lines) + "\n")


def _wfdb_invalid_lead(root: Path) -> None:
    """Every sample of lead I set to WFDB's invalid value (-32768, read back as NaN)."""
    hea = first(root, "records500/*/*_hr.hea")
    n_sig = int(hea.read_text().split()[1])
    dat = hea.with_suffix(".dat")
    samples = np.frombuffer(dat.read_bytes(), dtype="<i2").reshape(-1, n_sig).copy()
    samples[:, 0] = -32768
    dat.write_bytes(samples.tobytes())


def _ptbxl_leak(rows: list[dict[str, str]]) -> None:
    rows[0]["strat_fold"], rows[1]["strat_fold"] = "1", "10"
    rows[1]["patient_id"] = rows[0]["patient_id"]


def _ptbxl_traversal(root: Path) -> None:
    rows_holder: list[str] = []

    def edit(rows: list[dict[str, str]]) -> None:
        stem = rows[0]["filename_hr"]
        rows_holder.append(stem)
        for ext in (".hea", ".dat"):
            outside_copy(root, root / f"{stem}{ext}", Path(stem).name + ext)
        rows[0]["filename_hr"] = f"../{OUTSIDE}/{Path(stem).name}"

    edit_csv(root / "ptbxl_database.csv", lambda rows, _h: edit(rows))


def _cinc_header_traversal(root: Path) -> None:
    """The signal-file field of every signal line points outside the root (a WFDB record name with ``../``)."""
    hea = first(root, "WFDB_*/*.hea")
    mat = hea.with_suffix(".mat")
    outside_copy(root, mat, mat.name)
    lines = hea.read_text().splitlines()
    n_sig = int(lines[0].split()[1])
    for i in range(1, 1 + n_sig):
        parts = lines[i].split(" ", 1)
        lines[i] = f"../../{OUTSIDE}/{mat.name} {parts[1]}"
    hea.write_text("\n".join(lines) + "\n")


def _cinc_dx(root: Path, dx: str) -> None:
    hea = first(root, "WFDB_*/*.hea")
    lines = [("#Dx: " + dx if line.startswith("#Dx") else line) for line in hea.read_text().splitlines()]
    hea.write_text("\n".join(lines) + "\n")


def _edf_patch(root: Path, pattern: str, offset: int, value: bytes) -> None:
    path = first(root, pattern)
    data = bytearray(path.read_bytes())
    data[offset : offset + len(value)] = value
    path.write_bytes(bytes(data))


def _tuev_bad_label(root: Path) -> None:
    rec = first(root, "edf/*/*/*.rec")
    lines = rec.read_text().splitlines()
    parts = lines[0].split(",")
    parts[-1] = "99"
    lines[0] = ",".join(parts)
    rec.write_text("\n".join(lines) + "\n")


def _chexpert(
    edit: Callable[[list[dict[str, str]]], None], name: str = "train.csv"
) -> Callable[[Path], None]:
    return lambda root: edit_csv(root / "CheXpert-v1.0-small" / name, lambda rows, _h: edit(rows))


def _chexpert_traversal(root: Path) -> None:
    def edit(rows: list[dict[str, str]]) -> None:
        outside_copy(root, root / rows[0]["Path"], "x.jpg")
        rows[0]["Path"] = f"CheXpert-v1.0-small/train/patient00001/../../../../{OUTSIDE}/x.jpg"

    edit_csv(root / "CheXpert-v1.0-small/train.csv", lambda rows, _h: edit(rows))


def _chexpert_leak(root: Path) -> None:
    train = root / "CheXpert-v1.0-small/train.csv"
    with train.open(newline="") as fh:
        patient = next(csv.DictReader(fh))["Path"].split("/")[2]

    def edit(rows: list[dict[str, str]]) -> None:
        old = rows[0]["Path"]
        new = old.replace(old.split("/")[2], patient)
        (root / new).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / old, root / new)
        (root / new).write_bytes(
            (root / new).read_bytes() + b"\0"
        )  # not byte-identical: only the patient leaks
        rows[0]["Path"] = new

    edit_csv(root / "CheXpert-v1.0-small/valid.csv", lambda rows, _h: edit(rows))


def _mimic_cxr_dup_content(root: Path) -> None:
    """The image of a test study copied over the image of a train study (same pixels in two splits)."""
    with gzip.open(root / "mimic-cxr-2.0.0-split.csv.gz", "rt") as fh:
        rows = list(csv.DictReader(fh))
    by_split = {r["split"]: r for r in rows}
    a, b = by_split["train"], by_split.get("test") or by_split["validate"]

    def image(r: dict[str, str]) -> Path:
        sid = r["subject_id"]
        return root / f"files/p{sid[:2]}/p{sid}/s{r['study_id']}/{r['dicom_id']}.jpg"

    shutil.copyfile(image(b), image(a))


def _mimic_cxr_traversal(root: Path) -> None:
    meta = root / "mimic-cxr-2.0.0-metadata.csv.gz"
    with gzip.open(meta, "rt") as fh:
        row = next(csv.DictReader(fh))
    sid = row["subject_id"]
    src = root / f"files/p{sid[:2]}/p{sid}/s{row['study_id']}/{row['dicom_id']}.jpg"
    outside_copy(root, src, "x.jpg")
    evil = f"../../../../../{OUTSIDE}/x"
    for name in ("mimic-cxr-2.0.0-metadata.csv.gz", "mimic-cxr-2.0.0-split.csv.gz"):

        def edit(rows: list[dict[str, str]], _h: list[str]) -> None:
            for r in rows:
                if r["dicom_id"] == row["dicom_id"]:
                    r["dicom_id"] = evil

        edit_csv(root / name, edit)


def _vindr_traversal(root: Path) -> None:
    def edit(rows: list[dict[str, str]], _h: list[str]) -> None:
        image_id = rows[0]["image_id"]
        outside_copy(root, root / f"train/{image_id}.dicom", "x.dicom")
        for r in rows:
            if r["image_id"] == image_id:
                r["image_id"] = f"../../{OUTSIDE}/x"

    edit_csv(root / "annotations/image_labels_train.csv", edit)


def _vindr_label(root: Path) -> None:
    def edit(rows: list[dict[str, str]], header: list[str]) -> None:
        rows[0][header[-1]] = "2"

    edit_csv(root / "annotations/image_labels_train.csv", edit)


def _cbis_csv(root: Path) -> Path:
    for name in (
        "mass_case_description_train_set.csv",
        "calc_case_description_test_set.csv",
        "calc_case_description_train_set.csv",
        "mass_case_description_test_set.csv",
    ):
        path = root / name
        with path.open(newline="") as fh:
            if next(csv.DictReader(fh), None) is not None:
                return path
    raise FileNotFoundError(f"{root}: no CBIS-DDSM description row")


def _cbis_edit(column: str, value: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        def edit(rows: list[dict[str, str]], _h: list[str]) -> None:
            rows[0][column] = value

        edit_csv(_cbis_csv(root), edit)

    return build


def _cbis_traversal(root: Path) -> None:
    dcm = first(root, "CBIS-DDSM/*/*/*/*.dcm")
    outside_copy(root, dcm, "x.dcm")

    def edit(rows: list[dict[str, str]], _h: list[str]) -> None:
        rows[0]["image file path"] = f"../{OUTSIDE}/x.dcm"

    edit_csv(_cbis_csv(root), edit)


def _dicom_file(root: Path) -> Path:
    return first(root, "train/*.dicom") if (root / "train").is_dir() else first(root, "CBIS-DDSM/*/*/*/*.dcm")


def _dicom_not_dicom(root: Path) -> None:
    _dicom_file(root).write_bytes(b"\xff\xd8\xff\xe0" + b"JFIF not a DICOM file" * 40)


def _dicom_truncated(root: Path) -> None:
    truncate(_dicom_file(root), 0.4)


def _dicom_bomb(root: Path) -> None:
    set_dicom(_dicom_file(root), Rows=60_000, Columns=60_000)


def _dicom_nan_rescale(root: Path) -> None:
    set_dicom(_dicom_file(root), RescaleSlope="inf", RescaleIntercept="0")


def _dicom_no_pixels(root: Path) -> None:
    import pydicom

    path = _dicom_file(root)
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)


def _csv_cell(rel: str, column: str, value: str, row: int = 0) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        def edit(rows: list[dict[str, str]], _h: list[str]) -> None:
            rows[row][column] = value

        edit_csv(root / rel, edit)

    return build


def _csv_drop_column(rel: str, column: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        edit_csv(root / rel, lambda rows, header: [c for c in header if c != column])

    return build


def _id_traversal(rel: str, column: str, src_glob: str, suffix: str, depth: int) -> Callable[[Path], None]:
    """Replace the first row's id (from which the file path is built) by one that climbs out of the root."""

    def build(root: Path) -> None:
        def edit(rows: list[dict[str, str]], _h: list[str]) -> None:
            src = first(root, src_glob.format(id=rows[0][column]))
            outside_copy(root, src, f"x{suffix}")
            rows[0][column] = "../" * depth + f"{OUTSIDE}/x"

        edit_csv(root / rel, edit)

    return build


def _png_bomb_at(pattern: str) -> Callable[[Path], None]:
    return lambda root: first(root, pattern).write_bytes(png_bomb())


def _avi_giant_frame(root: Path) -> None:
    """Patch every MJPEG frame header (and the AVI headers) of a video to declare 8000 x 8000 px frames."""
    path = first(root, "Videos/*.avi")
    data = bytearray(path.read_bytes())
    at = data.find(b"avih")
    data[at + 8 + 32 : at + 8 + 40] = struct.pack("<II", 8000, 8000)  # dwWidth, dwHeight
    at = data.find(b"strf")
    data[at + 8 + 4 : at + 8 + 12] = struct.pack("<ii", 8000, 8000)  # biWidth, biHeight
    at = data.find(b"\xff\xc0")
    while at >= 0:  # SOF0 of each JPEG frame: length(2) precision(1) height(2) width(2)
        data[at + 5 : at + 9] = struct.pack(">HH", 8000, 8000)
        at = data.find(b"\xff\xc0", at + 9)
    path.write_bytes(bytes(data))


def _echonet_traversal(root: Path) -> None:
    def edit(rows: list[dict[str, str]], _h: list[str]) -> None:
        outside_copy(root, root / f"Videos/{rows[0]['FileName']}.avi", "x.avi")
        rows[0]["FileName"] = f"../../{OUTSIDE}/x"

    edit_csv(root / "FileList.csv", edit)


def _echonet_dup(root: Path) -> None:
    def edit(rows: list[dict[str, str]], _h: list[str]) -> None:
        copy = dict(rows[0])
        copy["Split"] = "TEST" if rows[0]["Split"].upper() != "TEST" else "TRAIN"
        rows.append(copy)

    edit_csv(root / "FileList.csv", edit)


def _kits_json(root: Path) -> Path:
    return root / "dataset/kits23.json"


def _kits_edit(fn: Callable[[list[dict[str, Any]]], None]) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        cases = json.loads(_kits_json(root).read_text())
        fn(cases)
        _kits_json(root).write_text(json.dumps(cases, indent=2))

    return build


def _kits_traversal(root: Path) -> None:
    cases = json.loads(_kits_json(root).read_text())
    case_id = cases[0]["case_id"]
    dest = root.parent / OUTSIDE / "x"
    shutil.copytree(root / "dataset" / case_id, dest)
    cases[0]["case_id"] = f"../../{OUTSIDE}/x"
    _kits_json(root).write_text(json.dumps(cases, indent=2))


def _nifti_file(root: Path) -> Path:
    return first(root, "dataset/case_*/imaging.nii.gz")


def _nifti_write(path: Path, data: np.ndarray, zooms: tuple[float, ...] = (1.0, 1.0, 1.0)) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(data, np.diag([*zooms[:3], 1.0]))
    img.header.set_zooms(zooms)
    path.write_bytes(gzip.compress(img.to_bytes(), mtime=0))


def _nifti_bomb(root: Path) -> None:
    """A NIfTI header declaring 4096^3 int16 voxels followed by a few bytes of data."""
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape((4096, 4096, 4096))
    header.set_data_dtype(np.int16)
    header.set_qform(np.eye(4), code=1)
    header.set_sform(np.eye(4), code=1)
    raw = header.binaryblock + b"\0" * 4 + b"\0" * 1024
    _nifti_file(root).write_bytes(gzip.compress(raw, mtime=0))


def _nifti_nan(root: Path) -> None:
    data = np.full((8, 8, 8), -100.0, dtype=np.float32)
    data[2, 3, 4] = np.nan
    _nifti_write(_nifti_file(root), data)


def _nifti_4d(root: Path) -> None:
    """A 4D (time series) NIfTI where a 3D CT volume is expected."""
    _nifti_write(_nifti_file(root), np.zeros((8, 8, 8, 2), dtype=np.int16), (1.0, 1.0, 1.0, 1.0))


def _npy(root: Path) -> Path:
    return first(root, "*_cc200_correlation.npy")


def _npy_nan(root: Path) -> None:
    path = _npy(root)
    m = np.load(path)
    m[3, 5] = m[5, 3] = np.nan
    np.save(path, m)


def _npy_nonsquare(root: Path) -> None:
    path = _npy(root)
    np.save(path, np.load(path)[:, :150])


def _rois_flat(root: Path) -> None:
    """Replace the .npy of a subject by a ``_rois_cc200.1D`` time series with a constant ROI."""
    path = _npy(root)
    file_id = path.name[: -len("_cc200_correlation.npy")]
    path.unlink()
    rng = np.random.default_rng(0)
    series = rng.normal(size=(80, 200))
    series[:, 7] = 1.0
    text = "#" + "\t".join(f"#{i}" for i in range(200)) + "\n"
    text += "\n".join("\t".join(f"{v:.4f}" for v in row) for row in series) + "\n"
    (root / "rois_cc200").mkdir(exist_ok=True)
    (root / f"rois_cc200/{file_id}_rois_cc200.1D").write_text(text)


MIMIC4_ROOT = "mimiciv/2.2/hosp"
ECG_LIST = "mimic-iv-ecg/1.0/record_list.csv"


def _mimic4_ecg_traversal(root: Path) -> None:
    """Every record_list.csv path climbs out of the root (to real copies of the records)."""

    def edit(rows: list[dict[str, str]], _h: list[str]) -> None:
        for row in rows:
            name = Path(row["path"]).name
            for ext in (".hea", ".dat"):
                outside_copy(root, root / "mimic-iv-ecg/1.0" / f"{row['path']}{ext}", name + ext)
            row["path"] = f"../../../{OUTSIDE}/{name}"

    edit_csv(root / ECG_LIST, edit)


def _mimic4_cxr_traversal(root: Path) -> None:
    """Every CXR dicom_id climbs out of the root (to real copies of the images)."""
    base = root / "mimic-cxr-jpg/2.0.0"
    with gzip.open(base / "mimic-cxr-2.0.0-metadata.csv.gz", "rt") as fh:
        rows = list(csv.DictReader(fh))
    evil = {}
    for row in rows:
        sid = row["subject_id"]
        src = base / f"files/p{sid[:2]}/p{sid}/s{row['study_id']}/{row['dicom_id']}.jpg"
        outside_copy(root, src, f"{row['dicom_id']}.jpg")
        evil[row["dicom_id"]] = f"../../../../../../../{OUTSIDE}/{row['dicom_id']}"
    for name in ("mimic-cxr-2.0.0-metadata.csv.gz", "mimic-cxr-2.0.0-split.csv.gz"):

        def edit(rows: list[dict[str, str]], _h: list[str]) -> None:
            for r in rows:
                r["dicom_id"] = evil.get(r["dicom_id"], r["dicom_id"])

        edit_csv(base / name, edit)


def _yaml(text: str) -> Callable[[Path], None]:
    return lambda root: (root / "params.yaml").write_text(text)


# -------------------------------------------------------------------------------------------------- cases
def cases() -> list[Case]:
    """Every case of the corpus, in a fixed order."""
    c = Case
    ptb_hea = "records500/*/*_hr.hea"
    return [
        # --- WFDB (PTB-XL .hea/.dat) and PTB-XL's CSV tables
        c("wfdb_truncated_dat", "wfdb", "ptbxl", "a .dat cut to half its size", "decode", "corrupt_wfdb",
          lambda r: truncate(first(r, "records500/*/*_hr.dat"))),
        c("wfdb_empty_hea", "wfdb", "ptbxl", "a zero-byte .hea", "decode", "corrupt_wfdb",
          lambda r: empty(first(r, ptb_hea))),
        c("wfdb_garbage_hea", "wfdb", "ptbxl", "a .hea that is not a WFDB header", "decode", "corrupt_wfdb",
          lambda r: garbage(first(r, ptb_hea))),
        c("wfdb_low_fs", "wfdb", "ptbxl", "header sampling frequency 500 -> 20 Hz", "decode",
          "bad_sampling_rate", lambda r: _hea_line0(r, ptb_hea, lambda p: [*p[:2], "20", *p[3:]])),
        c("wfdb_invalid_samples", "wfdb", "ptbxl", "a lead of WFDB invalid samples (-32768 = NaN)",
          "decode", "non_finite", _wfdb_invalid_lead),
        c("ptbxl_unknown_scp_code", "csv", "ptbxl", "scp_codes names a code absent from scp_statements.csv",
          "index", "unknown_scp_code", _ptbxl(lambda rows: rows[0].update(scp_codes="{'XYZ9': 100.0}"))),
        c("ptbxl_path_traversal", "csv", "ptbxl", "filename_hr climbs out of the root (../outside/...)",
          "index", "unsafe_path", _ptbxl_traversal),
        c("ptbxl_patient_leak", "csv", "ptbxl", "one patient_id in strat_fold 1 (train) and 10 (test)",
          "validate", "patient_leakage", _ptbxl(_ptbxl_leak)),
        c("ptbxl_missing_column", "csv", "ptbxl", "ptbxl_database.csv without its scp_codes column",
          "catalog", "catalog_error", _csv_drop_column("ptbxl_database.csv", "scp_codes")),
        c("ptbxl_empty_database", "csv", "ptbxl", "a zero-byte ptbxl_database.csv", "catalog",
          "catalog_error", lambda r: empty(r / "ptbxl_database.csv")),
        # --- CinC 2021 (.hea + MATLAB v4 .mat)
        c("cinc_truncated_mat", "cinc_mat", "chapman", "a .mat cut to half its size", "decode", "corrupt_mat",
          lambda r: truncate(first(r, "WFDB_*/*.mat"))),
        c("cinc_empty_mat", "cinc_mat", "chapman", "a zero-byte .mat", "decode", "empty_file",
          lambda r: empty(first(r, "WFDB_*/*.mat"))),
        c("cinc_zero_fs", "cinc_mat", "chapman", "header sampling frequency 0 Hz", "decode",
          "bad_sampling_rate", lambda r: _hea_line0(r, "WFDB_*/*.hea", lambda p: [*p[:2], "0", *p[3:]])),
        c("cinc_unknown_dx", "cinc_mat", "chapman", "#Dx code not in the CinC SNOMED table", "index",
          "unknown_snomed_code", lambda r: _cinc_dx(r, "999999999")),
        c("cinc_record_traversal", "cinc_mat", "chapman", "signal-file field ../../outside/X.mat in the .hea",
          "index", "unsafe_path", _cinc_header_traversal),
        # --- EDF (TUH)
        c("edf_truncated", "edf", "tuab", "an .edf cut to 40% of its size", "decode", "corrupt_edf",
          lambda r: truncate(first(r, "edf/*/*/*/*.edf"), 0.4)),
        c("edf_empty", "edf", "tuab", "a zero-byte .edf", "decode", "empty_file",
          lambda r: empty(first(r, "edf/*/*/*/*.edf"))),
        c("edf_garbage_header", "edf", "tuab", "an .edf whose header is text garbage", "decode", "corrupt_edf",
          lambda r: garbage(first(r, "edf/*/*/*/*.edf"))),
        c("edf_low_rate", "edf", "tuab", "data-record duration 1 s -> 50 s (rate / 50)", "decode",
          "bad_sampling_rate", lambda r: _edf_patch(r, "edf/*/*/*/*.edf", 244, b"50      ")),
        c("tuev_unknown_event", "edf", "tuev", "a .rec event label code 99", "index", "unknown_event_code",
          _tuev_bad_label),
        # --- DICOM (VinDr-CXR, CBIS-DDSM)
        c("dicom_truncated", "dicom", "vindr_cxr", "a .dicom cut to 40% of its size", "decode",
          "corrupt_dicom", _dicom_truncated),
        c("dicom_empty", "dicom", "vindr_cxr", "a zero-byte .dicom", "decode", "empty_file",
          lambda r: empty(_dicom_file(r))),
        c("dicom_not_dicom", "dicom", "vindr_cxr", "a JPEG-like blob named .dicom", "decode", "corrupt_dicom",
          _dicom_not_dicom),
        c("dicom_bomb", "dicom", "vindr_cxr", "Rows x Columns 60000 x 60000 over tiny pixel data", "decode",
          "image_too_large", _dicom_bomb),
        c("dicom_inf_rescale", "dicom", "vindr_cxr", "Rescale Slope inf (non-finite pixel values)", "decode",
          "nonfinite", _dicom_nan_rescale),
        c("dicom_no_pixel_data", "dicom", "cbis_ddsm", "Pixel Data element removed", "decode",
          "no_pixel_data", _dicom_no_pixels),
        c("cbis_dicom_bomb", "dicom", "cbis_ddsm", "Rows x Columns 60000 x 60000", "decode",
          "image_too_large", _dicom_bomb),
        c("vindr_bad_label_value", "csv", "vindr_cxr", "a label cell of 2 (allowed 0/1)", "index",
          "bad_label_value", _vindr_label),
        c("vindr_path_traversal", "csv", "vindr_cxr", "image_id ../../outside/x", "index", "unsafe_path",
          _vindr_traversal),
        c("cbis_unknown_pathology", "csv", "cbis_ddsm", "pathology MAYBE (the row, then its image, refused)",
          "index", "bad_abnormality_row,unknown_label",
          _cbis_edit("pathology", "MAYBE")),
        c("cbis_path_traversal", "csv", "cbis_ddsm", "image file path ../outside/x.dcm", "index",
          "unsafe_path", _cbis_traversal),
        # --- JPG / PNG
        c("jpg_truncated", "image", "chexpert", "a .jpg cut to 30% of its size", "decode", "corrupt_image",
          lambda r: truncate(first(r, "CheXpert-v1.0-small/train/*/*/*.jpg"), 0.3)),
        c("jpg_empty", "image", "chexpert", "a zero-byte .jpg", "decode", "empty_file",
          lambda r: empty(first(r, "CheXpert-v1.0-small/train/*/*/*.jpg"))),
        c("jpg_bomb", "image", "chexpert", "JPEG frame header declaring 65000 x 65000 px", "decode",
          "image_too_large", lambda r: jpeg_bomb(first(r, "CheXpert-v1.0-small/train/*/*/*.jpg"))),
        c("chexpert_bad_label_value", "csv", "chexpert", "a label cell of 2.0", "index", "bad_label_value",
          _chexpert(lambda rows: rows[0].update({"Edema": "2.0"}))),
        c("chexpert_path_traversal", "csv", "chexpert", "Path .../patient00001/../../../../outside/x.jpg",
          "index", "unsafe_path", _chexpert_traversal),
        c("chexpert_patient_leak", "csv", "chexpert", "a valid.csv (test) image of a train.csv patient",
          "validate", "patient_leakage", _chexpert_leak),
        c("mimic_cxr_traversal", "csv", "mimic_cxr", "dicom_id ../../../../../outside/x in metadata + split",
          "index", "unsafe_path", _mimic_cxr_traversal),
        c("mimic_cxr_duplicate_content", "image", "mimic_cxr", "one image file in train and in test",
          "validate", "duplicate_content_across_splits", _mimic_cxr_dup_content),
        c("mimic_cxr_bad_split", "csv", "mimic_cxr", "split value 'holdout' in the split csv.gz", "index",
          "bad_split", _csv_cell("mimic-cxr-2.0.0-split.csv.gz", "split", "holdout")),
        c("ham10000_unknown_dx", "csv", "ham10000", "dx code 'xyz'", "index", "unknown_label",
          _csv_cell("HAM10000_metadata.csv", "dx", "xyz")),
        c("ham10000_garbage_jpg", "image", "ham10000", "a .jpg holding text", "decode", "corrupt_image",
          lambda r: garbage(first(r, "HAM10000_images_part_1/*.jpg"))),
        c("isic_unknown_diagnosis", "csv", "isic2020", "benign_malignant 'unsure'", "index", "unknown_label",
          _csv_cell("ISIC_2020_Training_GroundTruth.csv", "benign_malignant", "unsure")),
        c("isic_path_traversal", "csv", "isic2020", "image_name ../../outside/x", "index", "unsafe_path",
          _id_traversal("ISIC_2020_Training_GroundTruth.csv", "image_name", "train/{id}.jpg", ".jpg", 2)),
        c("aptos_unknown_grade", "csv", "aptos", "diagnosis grade 7 (allowed 0-4)", "index", "unknown_label",
          _csv_cell("train.csv", "diagnosis", "7")),
        c("aptos_path_traversal", "csv", "aptos", "id_code ../../outside/x", "index", "unsafe_path",
          _id_traversal("train.csv", "id_code", "train_images/{id}.png", ".png", 2)),
        c("png_bomb", "image", "aptos", "PNG header declaring 100000 x 100000 px", "decode",
          "image_too_large", _png_bomb_at("train_images/*.png")),
        c("png_truncated", "image", "busi", "a .png cut to 30% of its size", "decode", "corrupt_image",
          lambda r: truncate(first(r, "Dataset_BUSI_with_GT/benign/benign (1).png"), 0.3)),
        # --- AVI (EchoNet-Dynamic)
        c("avi_truncated", "avi", "echonet", "an .avi cut to 50% of its size", "decode", "corrupt_video",
          lambda r: truncate(first(r, "Videos/*.avi"))),
        c("avi_empty", "avi", "echonet", "a zero-byte .avi", "decode", "empty_file",
          lambda r: empty(first(r, "Videos/*.avi"))),
        c("avi_garbage", "avi", "echonet", "an .avi holding text", "decode", "corrupt_video",
          lambda r: garbage(first(r, "Videos/*.avi"))),
        c("avi_giant_frame", "avi", "echonet", "MJPEG frames declaring 8000 x 8000 px", "decode",
          "video_too_large", _avi_giant_frame),
        c("echonet_bad_ef", "csv", "echonet_ef", "EF 'nan'", "index", "bad_ef",
          _csv_cell("FileList.csv", "EF", "nan")),
        c("echonet_path_traversal", "csv", "echonet", "FileName ../../outside/x", "index", "unsafe_path",
          _echonet_traversal),
        c("echonet_duplicate_across_splits", "csv", "echonet", "one FileName listed in two splits", "index",
          "duplicate_record", _echonet_dup),
        # --- NIfTI (KiTS23)
        c("nifti_truncated", "nifti", "kits23", "an imaging.nii.gz cut to 50%", "decode", "corrupt_nifti",
          lambda r: truncate(_nifti_file(r))),
        c("nifti_empty", "nifti", "kits23", "a zero-byte imaging.nii.gz", "decode", "empty_file",
          lambda r: empty(_nifti_file(r))),
        c("nifti_bomb", "nifti", "kits23", "header dims 4096^3 over 1 KiB of data", "decode",
          "volume_too_large", _nifti_bomb),
        c("nifti_nan", "nifti", "kits23", "a NaN voxel", "decode", "nonfinite", _nifti_nan),
        c("nifti_4d", "nifti", "kits23", "a 4D volume (8, 8, 8, 2)", "decode", "corrupt_nifti", _nifti_4d),
        c("kits_path_traversal", "csv", "kits23", "case_id ../../outside/x in kits23.json", "index",
          "unsafe_path", _kits_traversal),
        c("kits_not_a_list", "csv", "kits23", "kits23.json is a JSON object, not a list", "catalog",
          "catalog_error", lambda r: _kits_json(r).write_text('{"case_id": "case_00000"}')),
        # --- .npy / .1D (ABIDE)
        c("npy_truncated", "npy", "abide", "a correlation .npy cut to half", "decode", "corrupt_npy",
          lambda r: truncate(_npy(r))),
        c("npy_empty", "npy", "abide", "a zero-byte .npy", "decode", "empty_file", lambda r: empty(_npy(r))),
        c("npy_nan", "npy", "abide", "a NaN correlation", "decode", "nonfinite", _npy_nan),
        c("npy_not_square", "npy", "abide", "a 200 x 150 matrix", "decode", "bad_shape", _npy_nonsquare),
        c("rois_flat_column", "npy", "abide", "a .1D ROI series with a constant ROI", "decode",
          "flat_signal", _rois_flat),
        c("abide_unknown_dx", "csv", "abide", "DX_GROUP 3 (allowed 1/2)", "index", "unknown_label",
          _csv_cell("Phenotypic_V1_0b_preprocessed1.csv", "DX_GROUP", "3")),
        # --- MIMIC-IV csv.gz
        c("mimic4_truncated_gz", "csv", "mimic4", "admissions.csv.gz cut to half (bad gzip)", "catalog",
          "catalog_error", lambda r: truncate(r / MIMIC4_ROOT / "admissions.csv.gz")),
        c("mimic4_missing_column", "csv", "mimic4", "admissions.csv.gz without admittime", "catalog",
          "catalog_error", _csv_drop_column(f"{MIMIC4_ROOT}/admissions.csv.gz", "admittime")),
        c("mimic4_ecg_traversal", "csv", "mimic4_ecg", "every record_list.csv path ../../../outside/...", "index",
          "unsafe_path", _mimic4_ecg_traversal),
        c("mimic4_cxr_traversal", "csv", "mimic4_cxr", "every CXR dicom_id climbs out of the root", "index",
          "unsafe_path", _mimic4_cxr_traversal),
        # --- params.yaml
        c("yaml_unknown_key", "yaml", None, "a top-level key 'seeed'", "config", "unknown_key",
          _yaml("seeed: 1\n")),
        c("yaml_wrong_type", "yaml", None, "seed: 'abc' (an int is required)", "config", "bad_value",
          _yaml("seed: abc\n")),
        c("yaml_not_a_mapping", "yaml", None, "the document is a list", "config", "not_a_mapping",
          _yaml("- seed\n- 1\n")),
        c("yaml_syntax_error", "yaml", None, "unbalanced brackets", "config", "bad_yaml",
          _yaml("seed: [1, 2\nworkspace: {root: x\n")),
        c("yaml_unknown_dataset_option", "yaml", None, "datasets.chexpert.options.uncertain: maybe",
          "config", "bad_value", _yaml("datasets:\n  chexpert:\n    source: x\n    options: {uncertain: maybe}\n")),
        c("yaml_nested_unknown_key", "yaml", None, "standardize.ecg.sampling_rat (typo)", "config",
          "unknown_key", _yaml("standardize:\n  ecg: {sampling_rat: 100}\n")),
        # --- cases added by topic (each list below is maintained in its own function)
        *signal_cases(),
        *file_cases(),
        *label_cases(),
    ]  # fmt: skip


def _wfdb_unit(pattern: str, old: str, new: str) -> Callable[[Path], None]:
    """Every signal line of the first header matching ``pattern``: unit field ``old`` -> ``new``."""

    def build(root: Path) -> None:
        hea = first(root, pattern)
        hea.write_text(hea.read_text().replace(old, new))

    return build


def _edf_field(
    signal: int, field: str, value: str, pattern: str = "edf/*/*/*/*.edf"
) -> Callable[[Path], None]:
    """Overwrite one per-signal EDF header field (``label``, ``dimension``, ``samples``) of one signal."""
    offsets = {"label": (0, 16), "dimension": (96, 8), "samples": (216, 8)}  # per-signal block start, width

    def build(root: Path) -> None:
        path = first(root, pattern)
        ns = int(path.read_bytes()[252:256])
        start, width = offsets[field]
        _edf_patch(root, pattern, 256 + ns * start + signal * width, value.ljust(width).encode("ascii"))

    return build


def _edf_rates(root: Path) -> None:
    """Signal 0 (EEG FP1-REF) at 50 Hz; the last one (PHOTIC-REF) at 450 Hz, so the file size still fits."""
    path = first(root, "edf/*/*/*/*.edf")
    ns = int(path.read_bytes()[252:256])
    _edf_field(0, "samples", "50")(root)
    _edf_field(ns - 1, "samples", "450")(root)


def signal_cases() -> list[Case]:
    """Signal units, sampling rates and channel names (WFDB, EDF)."""
    c = Case
    ptb_hea, cinc_hea = "records500/*/*_hr.hea", "WFDB_*/*.hea"
    return [
        c("wfdb_unit_not_voltage", "wfdb", "ptbxl", "header units mV -> mmHg", "decode", "bad_unit",
          _wfdb_unit(ptb_hea, "(0)/mV ", "(0)/mmHg ")),
        c("cinc_unit_not_voltage", "cinc_mat", "chapman", "header units mV -> mmHg", "decode", "bad_unit",
          _wfdb_unit(cinc_hea, "/mV ", "/mmHg ")),
        c("edf_unit_not_voltage", "edf", "tuab", "EEG FP1-REF physical dimension uV -> degC", "decode",
          "bad_unit", _edf_field(0, "dimension", "degC")),
        c("edf_channel_rate_too_low", "edf", "tuab", "EEG FP1-REF at 50 Hz, the other EEG signals at 250 Hz",
          "decode", "bad_sampling_rate", _edf_rates),
        c("eeg_ambiguous_channel", "edf", "tuab", "EEG T1-REF relabelled EEG T7-REF (T7 = T3, already there)",
          "decode", "ambiguous_channel", _edf_field(21, "label", "EEG T7-REF")),
    ]  # fmt: skip


def file_cases() -> list[Case]:
    """Files as sites send them: links, encodings, empty tables, what ingest/validate/standardize must refuse."""
    c = Case
    dat = "records500/*/*.dat"
    return [
        c("ingest_symlink_outside_root", "wfdb", "ptbxl", "a signal file is a symlink to a file outside the root",
          "ingest", "unsafe_path", _relink(dat, lambda root, f: outside_copy(root, f, f.name))),
        c("ingest_symlink_loop", "wfdb", "ptbxl", "a signal file is a symlink to itself (a loop)", "ingest",
          "symlink_loop", _relink(dat, lambda _root, f: Path(f.name))),
        c("ingest_dangling_symlink", "wfdb", "ptbxl", "a signal file is a symlink to a missing file", "ingest",
          "dangling_link", _relink(dat, lambda _root, _f: Path("no-such-file.dat"))),
    ]  # fmt: skip


def _relink(pattern: str, target: Callable[[Path, Path], Path]) -> Callable[[Path], None]:
    """Replace the first file matching ``pattern`` by a symlink to ``target(root, file)``."""

    def build(root: Path) -> None:
        path = first(root, pattern)
        dest = target(root, path)
        path.unlink()
        path.symlink_to(dest)

    return build


def label_cases() -> list[Case]:
    """Label vocabularies, identities and DICOM metadata."""
    c = Case
    return [
        c("dicom_zero_spacing", "dicom", "vindr_cxr", "Pixel Spacing 0\\0 mm", "decode", "bad_pixel_spacing",
          lambda r: set_dicom(_dicom_file(r), PixelSpacing=[0, 0])),
        c("cbis_dicom_negative_spacing", "dicom", "cbis_ddsm", "Pixel Spacing -0.05\\0.05 mm", "decode",
          "bad_pixel_spacing", lambda r: set_dicom(_dicom_file(r), PixelSpacing=[-0.05, 0.05])),
        c("vindr_mediastinal_shift_only", "csv", "vindr_cxr",
          "every reader of an image marks only Mediastinal shift (a displacement: no CheXpert-14 class)",
          "index", "no_mappable_label", _vindr_only("Mediastinal shift")),
    ]  # fmt: skip


def _vindr_only(label: str) -> Callable[[Path], None]:
    """Every reader of the first training image marks ``label`` and nothing else."""
    from climbflow.catalog.vindr_cxr import VINDR_LABELS as labels

    def build(root: Path) -> None:
        def edit(rows: list[dict[str, str]], header: list[str]) -> None:
            image_id = rows[0]["image_id"]
            for r in rows:
                if r["image_id"] == image_id:
                    r.update({name: "1" if name == label else "0" for name in header if name in labels})

        edit_csv(root / "annotations/image_labels_train.csv", edit)

    return build


# ------------------------------------------------------------------------------------------------- runner
@contextmanager
def _salt() -> Iterator[None]:
    old = os.environ.get("CLIMBFLOW_DEID_SALT")
    os.environ["CLIMBFLOW_DEID_SALT"] = SALT
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CLIMBFLOW_DEID_SALT", None)
        else:
            os.environ["CLIMBFLOW_DEID_SALT"] = old


class Corpus:
    """Builds case copies under ``workdir`` (one pristine sample copy per dataset, written once)."""

    def __init__(self, workdir: Path, n_records: int = SAMPLE_RECORDS, seed: int = 0):
        self.workdir = Path(workdir)
        self.n_records = n_records
        self.seed = seed

    def pristine(self, dataset: str) -> Path:
        from climbflow import sampledata

        root = self.workdir / "_pristine" / dataset
        if not root.is_dir():
            with _salt():
                sampledata.write(dataset, root, self.n_records, seed=self.seed)
        return root

    def build(self, case: Case) -> Path:
        """A fresh copy of the case's files (``<workdir>/<id>/<dataset>``, or ``<workdir>/<id>`` for YAML)."""
        base = self.workdir / case.id
        if base.exists():
            shutil.rmtree(base)
        if case.dataset is None:
            base.mkdir(parents=True)
            case.build(base)
            return base
        root = base / case.dataset
        shutil.copytree(self.pristine(case.dataset), root)
        case.build(root)
        return root


def _config_rule(message: str) -> str:
    if "not valid YAML" in message:
        return "bad_yaml"
    if "must be a mapping" in message:
        return "not_a_mapping"
    if "unknown key" in message:
        return "unknown_key"
    return "bad_value"


def _params() -> Any:
    """The parts of the default params the checks read (seed, standardize): no dataset needs configuring."""
    from types import SimpleNamespace

    from climbflow.config import StandardizeConfig

    return SimpleNamespace(seed=0, standardize=StandardizeConfig())


def _validate_rules(spec: Any, root: Path, records: list[Any]) -> list[str]:
    from climbflow.stages.standardize import assign_split
    from climbflow.stages.validate import records_frame
    from climbflow.validate.suites import duplicate_content_check, leakage_check

    params = _params()
    has_test = any(r.split == "test" for r in records)
    splits = [assign_split(r, has_test, params) for r in records]
    sha = {
        r.files[0]: _sha256(root / r.files[0]) for r in records if r.files and (root / r.files[0]).is_file()
    }
    frame = records_frame(records, splits, sha)
    checks = [leakage_check(frame), duplicate_content_check(frame)]
    return [c["rule"] for c in checks if not c["success"]]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evaluate(case: Case, root: Path) -> str:
    """What climbflow does with the case's files: the rule(s) it names, ``accepted``, or ``traceback: ...``."""
    from climbflow import catalog, modalities
    from climbflow.catalog.base import CatalogError, RecordError, Rejected
    from climbflow.config import ConfigError, load

    try:
        if case.stage == "ingest":
            from climbflow.stages.ingest import hash_tree

            _, refused = hash_tree(root, root.parent / "ingest-hashes.json")
            return ",".join(sorted({r["rule"] for r in refused})) or "accepted"
        if case.stage == "config":
            try:
                load(root / "params.yaml")
            except ConfigError as exc:
                return _config_rule(str(exc))
            return "accepted"
        spec = catalog.get(case.dataset or "")()
        with _salt():
            try:
                items = list(spec.index(root))
            except CatalogError:
                return "catalog_error"
            rejected = sorted({i.rule for i in items if isinstance(i, Rejected)})
            records = [i for i in items if not isinstance(i, Rejected)]
            if rejected:
                return ",".join(rejected)
            if case.stage == "validate":
                return ",".join(_validate_rules(spec, root, records)) or "accepted"
            if case.stage != "decode":
                return "accepted"
            cfg = _params().standardize
            rules: set[str] = set()
            for record in records:
                try:
                    raw, props = spec.decode(root, record)
                    modalities.standardize(spec.modality, raw, props, cfg)
                except RecordError as exc:
                    rules.add(exc.rule)
            return ",".join(sorted(rules)) or "accepted"
    except Exception as exc:  # noqa: BLE001 - anything else is a miss, reported as such
        return f"traceback: {type(exc).__name__}: {str(exc)[:200]}"


def run(workdir: Path, selected: list[Case] | None = None) -> list[Outcome]:
    """Build and evaluate every case (or ``selected``) under ``workdir``."""
    corpus = Corpus(workdir)
    outcomes = []
    for case in selected if selected is not None else cases():
        root = corpus.build(case)
        outcomes.append(Outcome(case, evaluate(case, root)))
    return outcomes


def manifest() -> list[dict[str, Any]]:
    return [case.manifest_row() for case in cases()]


def write_manifest(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest(), indent=1) + "\n")


def report(outcomes: list[Outcome]) -> str:
    """``caught N / total`` plus a per-reader table and one line per miss."""
    caught = sum(o.caught for o in outcomes)
    lines = [f"bad-input corpus: caught {caught} / {len(outcomes)}", ""]
    lines.append(f"{'reader':<10} {'caught':>6} {'total':>6}")
    readers: dict[str, list[Outcome]] = {}
    for o in outcomes:
        readers.setdefault(o.case.reader, []).append(o)
    for reader in sorted(readers):
        group = readers[reader]
        lines.append(f"{reader:<10} {sum(o.caught for o in group):>6} {len(group):>6}")
    misses = [o for o in outcomes if not o.caught]
    if misses:
        lines += ["", "missed:"]
        lines += [f"  {o.case.id}: expected {o.case.rule}, got {o.got}" for o in misses]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m climbflow.hardening.badinput", description=__doc__)
    parser.add_argument("--out", type=Path, help="keep the generated corpus in this folder")
    parser.add_argument("--manifest", type=Path, help="write the case manifest (JSON) to this file")
    parser.add_argument("--case", action="append", help="run only these case ids")
    args = parser.parse_args(argv)
    if args.manifest:
        write_manifest(args.manifest)
    selected = [c for c in cases() if not args.case or c.id in args.case]
    if args.out:
        outcomes = run(args.out, selected)
    else:
        with tempfile.TemporaryDirectory(prefix="climb-bad-") as tmp:
            outcomes = run(Path(tmp), selected)
    print(report(outcomes))
    return 0 if all(o.caught for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
