"""PhysioNet/CinC Challenge 2020/2021 ECG sets in their real layout: Chapman-Shaoxing, Georgia, CPSC-2018.

Each record is a WFDB header ``<rec>.hea`` plus ``<rec>.mat`` (a MATLAB v4 file holding one int16 matrix
``val`` of shape (leads, samples); the header names it with format ``16+24``: int16 samples after the
24-byte MAT header), e.g. ``WFDB_ChapmanShaoxing/JS00001.{hea,mat}``, ``WFDB_Ga/E00001.*``,
``WFDB_CPSC2018/A0001.*`` (the PhysioNet 2021 copy nests them as ``g1/``, ``g2/``...: any depth is read).
The header comments carry ``#Age``, ``#Sex`` and ``#Dx`` (comma-separated SNOMED-CT codes).

Labels are CLIMB's 7 ECG superclasses (same order as PTB-XL), kept multi-label: CLIMB reduces them to one
class by a random tie-break, and its per-dataset tables (``ecg/generate_labels.py``, from BenchMD) disagree
with each other (CPSC AF is both CD and AFIB, Georgia AF matches no class because of letter case, Chapman
RBBB matches nothing, sinus brady/tachycardia count as normal); we use one table, :data:`SNOMED`, for all
three sets: every CinC 2021 scored and unscored code, mapped by finding. The policy is the one of
:mod:`climbflow.catalog.ptbxl` (PTB-XL's form statements get the class of the same finding here), so a
finding lands in the same column of the merged ECG vocabulary whichever set it comes from:

* NORM: sinus rhythm 426783006, **only when nothing abnormal is present** (the policy of both tables,
  :func:`~climbflow.catalog.ptbxl.norm_only_if_alone`; ``sinus_rhythm="norm"`` restores CLIMB's NORM on any
  sinus-rhythm record, e.g. sinus rhythm + LBBB, and is for reproducing CLIMB only);
* AFIB: atrial fibrillation and/or flutter;  CD: bundle-branch, fascicular and AV blocks, IVCD, WPW,
  prolonged PR;
* HYP: ventricular hypertrophy / high voltage, atrial enlargement;  MI: infarction (any age), abnormal Q waves;
* STTC: ST depression/elevation, T-wave abnormality/inversion, ischaemia, long QT (PTB-XL's LNGQT is STTC);
* OTHER: every other known code (other rhythms, ectopic beats, axis deviation, low voltage, pacing...).

A code not in the table rejects the record (``unknown_snomed_code``). There is no official split and no
patient identifier: ``patient_id`` is the record name. Records are 500 Hz; Chapman and Georgia last 10 s,
CPSC-2018 6-60 s (standardize crops or pads; CLIMB drops every record that is not exactly 5000 samples).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from climbflow.catalog import units
from climbflow.catalog.base import (
    CatalogError,
    DatasetSpec,
    RawRecord,
    RecordError,
    Rejected,
    TaskType,
    unsafe_path,
)
from climbflow.catalog.ptbxl import CLASSES, LABELS_VERSION, norm_only_if_alone
from climbflow.modalities import ecg

logger = logging.getLogger(__name__)

LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
MAT_HEADER_BYTES = 24  # MATLAB v4: 5 int32 (type, rows, cols, imag, name length) + b"val\0"
MAT_INT16_TYPE = 30  # MATLAB v4 type code: little-endian, int16, full matrix
FLAT_PEAK_TO_PEAK_MV = 0.01  # a lead whose range stays below 10 uV carries no ECG
AGE_CAP = 90.0  # ages above 89 are reported as 90 (HIPAA)

# SNOMED-CT code -> (CinC abbreviation, CLIMB superclass). CinC 2021 dx_mapping_scored.csv and
# dx_mapping_unscored.csv (physionetchallenges/evaluation-2021), plus codes the Georgia headers also use.
SNOMED: dict[str, tuple[str, str]] = {
    # NORM
    "426783006": ("NSR", "NORM"),
    # AFIB
    "164889003": ("AF", "AFIB"),
    "164890007": ("AFL", "AFIB"),
    "195080001": ("AFAFL", "AFIB"),
    "426749004": ("CAF", "AFIB"),
    "282825002": ("PAF", "AFIB"),
    "314208002": ("RAF", "AFIB"),
    # CD: conduction disturbances
    "6374002": ("BBB", "CD"),
    "733534002": ("CLBBB", "CD"),
    "164909002": ("LBBB", "CD"),
    "713427006": ("CRBBB", "CD"),
    "59118001": ("RBBB", "CD"),
    "713426002": ("IRBBB", "CD"),
    "251120003": ("ILBBB", "CD"),
    "445118002": ("LAnFB", "CD"),
    "445211001": ("LPFB", "CD"),
    "698252002": ("NSIVCB", "CD"),
    "82226007": ("DIB", "CD"),
    "270492004": ("IAVB", "CD"),
    "164947007": ("LPR", "CD"),
    "195042002": ("IIAVB", "CD"),
    "54016002": ("MoI", "CD"),
    "426183003": ("IIAVBII", "CD"),
    "28189009": ("IIAVBII", "CD"),
    "164903001": ("AVB21", "CD"),
    "27885002": ("CHB", "CD"),
    "204384007": ("CIAHB", "CD"),
    "233917008": ("AVB", "CD"),
    "50799005": ("AVD", "CD"),
    "65778007": ("SAB", "CD"),
    "74390002": ("WPW", "CD"),
    "195060002": ("VPEx", "CD"),
    "49578007": ("SPRI", "CD"),
    # HYP: hypertrophy / enlargement
    "164873001": ("LVH", "HYP"),
    "55827005": ("LVHV", "HYP"),
    "370365005": ("LVS", "HYP"),
    "89792004": ("RVH", "HYP"),
    "266249003": ("VH", "HYP"),
    "195126007": ("AH", "HYP"),
    "253352002": ("LAA", "HYP"),
    "67741000119109": ("LAE", "HYP"),
    "446813000": ("LAH", "HYP"),
    "253339007": ("RAAb", "HYP"),
    "446358003": ("RAH", "HYP"),
    "67751000119106": ("RAHV", "HYP"),
    # MI: infarction, Q waves
    "164865005": ("MI", "MI"),
    "57054005": ("AMI", "MI"),
    "54329005": ("AnMI", "MI"),
    "164867002": ("OldMI", "MI"),
    "164917005": ("QAb", "MI"),
    # STTC: ST/T changes, ischaemia, long QT
    "429622005": ("STD", "STTC"),
    "164931005": ("STE", "STTC"),
    "164930006": ("STIAb", "STTC"),
    "55930002": ("STC", "STTC"),
    "428750005": ("NSSTTA", "STTC"),
    "704997005": ("ISTD", "STTC"),
    "164934002": ("TAb", "STTC"),
    "59931005": ("TInv", "STTC"),
    "251259000": ("HTV", "STTC"),
    "164861001": ("MIs", "STTC"),
    "413444003": ("AMIs", "STTC"),
    "413844008": ("CMI", "STTC"),
    "426434006": ("AnMIs", "STTC"),
    "425419005": ("IIs", "STTC"),
    "425623009": ("LIs", "STTC"),
    "111975006": ("LQT", "STTC"),
    # OTHER: rhythms, ectopy, axis, voltage, pacing, non-ECG diagnoses
    "426627000": ("Brady", "OTHER"),
    "426177001": ("SB", "OTHER"),
    "427084000": ("STach", "OTHER"),
    "427393009": ("SA", "OTHER"),
    "284470004": ("PAC", "OTHER"),
    "63593006": ("SVPB", "OTHER"),
    "251170000": ("BPAC", "OTHER"),
    "427172004": ("PVC", "OTHER"),
    "17338001": ("VPB", "OTHER"),
    "164884008": ("VEB", "OTHER"),
    "251182009": ("VPVC", "OTHER"),
    "11157007": ("VBig", "OTHER"),
    "251180001": ("VTrig", "OTHER"),
    "251173003": ("AB", "OTHER"),
    "251168009": ("SVB", "OTHER"),
    "10370003": ("PR", "OTHER"),
    "251268003": ("AP", "OTHER"),
    "251266004": ("VPP", "OTHER"),
    "39732003": ("LAD", "OTHER"),
    "47665007": ("RAD", "OTHER"),
    "251200008": ("ICA", "OTHER"),
    "251199005": ("CCR", "OTHER"),
    "251198002": ("CR", "OTHER"),
    "61721007": ("CVCL", "OTHER"),
    "251146004": ("LQRSV", "OTHER"),
    "251147008": ("LQRSVLL", "OTHER"),
    "251148003": ("LQRSVPL", "OTHER"),
    "365413008": ("PRWP", "OTHER"),
    "164951009": ("abQRS", "OTHER"),
    "164942001": ("FQRS", "OTHER"),
    "164921003": ("RAb", "OTHER"),
    "164912004": ("PWC", "OTHER"),
    "251205003": ("PPW", "OTHER"),
    "251223006": ("TPW", "OTHER"),
    "164937009": ("UAb", "OTHER"),
    "251242005": ("TUW", "OTHER"),
    "77867006": ("SQT", "OTHER"),
    "428417006": ("ERe", "OTHER"),
    "418818005": ("BRU", "OTHER"),
    "423863005": ("EA", "OTHER"),
    "251139008": ("ALR", "OTHER"),
    "251143007": ("ART", "OTHER"),
    "233892002": ("AAR", "OTHER"),
    "251187003": ("AED", "OTHER"),
    "61277005": ("AIVR", "OTHER"),
    "426664006": ("AJR", "OTHER"),
    "106068003": ("ARH", "OTHER"),
    "713422000": ("ATach", "OTHER"),
    "713423005": ("MATach", "OTHER"),
    "29320008": ("AVJR", "OTHER"),
    "251166008": ("AVNRT", "OTHER"),
    "233897008": ("AVRT", "OTHER"),
    "74615001": ("BTS", "OTHER"),
    "698247007": ("CD", "OTHER"),
    "13640000": ("FB", "OTHER"),
    "49260003": ("IR", "OTHER"),
    "426995002": ("JE", "OTHER"),
    "251164006": ("JPC", "OTHER"),
    "426648003": ("JTach", "OTHER"),
    "67198005": ("PSVT", "OTHER"),
    "426761007": ("SVT", "OTHER"),
    "425856008": ("PVT", "OTHER"),
    "164895002": ("VTach", "OTHER"),
    "164896001": ("VF", "OTHER"),
    "111288001": ("VFL", "OTHER"),
    "75532003": ("VEsB", "OTHER"),
    "81898007": ("VEsR", "OTHER"),
    "17366009": ("SAAWR", "OTHER"),
    "195101003": ("WAP", "OTHER"),
    "5609005": ("SARR", "OTHER"),
    "60423000": ("SND", "OTHER"),
    "53741008": ("CHD", "OTHER"),
    "84114007": ("HF", "OTHER"),
    "368009": ("HVD", "OTHER"),
    "266257000": ("TIA", "OTHER"),
    "78069008": ("CRP", "OTHER"),
}
SINUS_RHYTHM = "426783006"


class CinCOptions(BaseModel):
    """``sinus_rhythm``: ``norm_if_alone`` (default, the policy of every ECG table) sets NORM only when no
    other class is found; ``norm`` sets it whenever #Dx lists sinus rhythm (CLIMB). ``max_flat_leads``: a
    record with more flat leads (range < 10 uV) is refused (``flat_signal``); the default refuses only
    all-flat records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sinus_rhythm: Literal["norm", "norm_if_alone"] = "norm_if_alone"
    max_flat_leads: int = Field(11, ge=0, le=12)


def dx_target(codes: list[str], sinus_rhythm: str = "norm_if_alone") -> tuple[float, ...]:
    """Multi-hot target over :data:`CLASSES` of known SNOMED codes (see :class:`CinCOptions`)."""
    target = [0.0] * len(CLASSES)
    for code in codes:
        target[CLASSES.index(SNOMED[code][1])] = 1.0
    return tuple(norm_only_if_alone(target) if sinus_rhythm == "norm_if_alone" else target)


class _Header:
    """The fields of a CinC WFDB header that indexing needs (parsed as text: no signal is read)."""

    def __init__(self, text: str):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        records = [line for line in lines if not line.startswith("#")]
        if not records:
            raise ValueError("no record line")
        fields = records[0].split()
        if len(fields) < 4:
            raise ValueError(f"record line {records[0]!r} lacks name, signals, frequency and length")
        self.name = fields[0]
        self.n_sig = int(fields[1])
        self.fs = float(re.split(r"[/(]", fields[2])[0])
        self.sig_len = int(fields[3])
        signal_lines = records[1:]
        if len(signal_lines) != self.n_sig:
            raise ValueError(f"{self.n_sig} signals declared but {len(signal_lines)} signal lines")
        self.files = sorted({line.split()[0] for line in signal_lines})
        self.comments: dict[str, str] = {}
        for line in lines:
            if line.startswith("#") and ":" in line:
                key, _, value = line[1:].partition(":")
                self.comments.setdefault(key.strip().lower(), value.strip())


class _CinC2021(DatasetSpec):
    """Shared reader; subclasses name the record prefix and the challenge's folder name."""

    modality: ClassVar[str] = "ecg"
    task: ClassVar[TaskType] = "multilabel"
    classes: ClassVar[tuple[str, ...]] = CLASSES
    official_split: ClassVar[bool] = False
    Options: ClassVar[type[BaseModel]] = CinCOptions
    prefix: ClassVar[str]
    folder: ClassVar[str]

    def cache_token(self) -> str | None:
        return f"{LABELS_VERSION}; {units.SIGNAL_VERSION}"

    def _is_record(self, stem: str) -> bool:
        return re.fullmatch(rf"{self.prefix}\d+", stem) is not None

    def detect(self, root: Path) -> bool:
        root = Path(root)
        for pattern in (f"{self.prefix}*.hea", f"*/{self.prefix}*.hea", f"*/*/{self.prefix}*.hea"):
            if any(self._is_record(p.stem) for p in root.glob(pattern)):
                return True
        return False

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        if not root.is_dir():
            raise CatalogError(f"{root}: not a directory ({self.title} needs {self.layout})")
        headers = sorted(p for p in root.rglob("*.hea") if p.is_file())
        mats = sorted(p for p in root.rglob("*.mat") if p.is_file())
        if not headers and not mats:
            raise CatalogError(f"{root}: no .hea/.mat records found; expected {self.layout}")
        counts: dict[str, int] = {}
        seen: dict[str, str] = {}

        def tally(item: RawRecord | Rejected) -> RawRecord | Rejected:
            key = item.rule if isinstance(item, Rejected) else "ok"
            counts[key] = counts.get(key, 0) + 1
            return item

        for hea in headers:
            rel = hea.relative_to(root).as_posix()
            stem = hea.stem
            if not self._is_record(stem):
                message = f"{rel}: record name {stem!r} is not a {self.title} record ({self.prefix}<number>)"
                yield tally(Rejected(stem, rel, "foreign_record", message))
                continue
            if stem in seen:
                message = f"{rel}: record {stem} also stored as {seen[stem]}"
                yield tally(Rejected(stem, rel, "duplicate_record", message))
                continue
            seen[stem] = rel
            yield tally(self._record(root, hea, rel))
        for mat in mats:  # signal files without a header cannot be labelled
            if not mat.with_suffix(".hea").is_file() and self._is_record(mat.stem):
                rel = mat.relative_to(root).as_posix()
                hea_rel = Path(rel).with_suffix(".hea").as_posix()
                message = f"{rel}: header {hea_rel} not found"
                yield tally(Rejected(mat.stem, hea_rel, "missing_file", message))
        logger.info("%s %s: %s", self.name, root, counts)

    def _record(self, root: Path, hea: Path, rel: str) -> RawRecord | Rejected:
        stem = hea.stem
        raw = hea.read_bytes()
        if not raw.strip():
            return Rejected(stem, rel, "empty_file", f"{rel}: header is empty")
        try:
            header = _Header(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as exc:
            return Rejected(stem, rel, "corrupt_header", f"{rel}: header unreadable ({exc})")
        if header.name != stem:
            message = f"{rel}: header names record {header.name!r}, file is {stem!r}"
            return Rejected(stem, rel, "record_name_mismatch", message)
        escaping = [f for f in header.files if unsafe_path(f)]
        if escaping:
            message = f"{rel}: signal file {unsafe_path(escaping[0])}"
            return Rejected(stem, rel, "unsafe_path", message)
        if header.files != [f"{stem}.mat"]:
            message = f"{rel}: signals stored in {header.files}, expected the challenge's {stem}.mat"
            return Rejected(stem, rel, "corrupt_header", message)
        dx = header.comments.get("dx", "")
        codes = [c.strip() for c in dx.split(",") if c.strip()]
        if not codes:
            return Rejected(stem, rel, "missing_dx", f"{rel}: no #Dx diagnosis codes")
        bad = [c for c in codes if not c.isdigit()]
        if bad:
            return Rejected(stem, rel, "bad_dx", f"{rel}: #Dx {dx!r} has non-SNOMED entries {bad}")
        unknown = [c for c in codes if c not in SNOMED]
        if unknown:
            message = f"{rel}: SNOMED-CT code(s) {unknown} in #Dx {dx!r} are not in the CinC 2021 code table"
            return Rejected(stem, rel, "unknown_snomed_code", message)
        mat_rel = (Path(rel).parent / f"{stem}.mat").as_posix()
        if not (root / mat_rel).is_file():
            return Rejected(stem, mat_rel, "missing_file", f"{rel}: signal file {mat_rel} not found")
        return RawRecord(
            record_id=stem,
            patient_id=stem,
            files=(rel, mat_rel),
            target=dx_target(codes, self.options.sinus_rhythm),
            source_labels=dx,
            split=None,
            meta={
                "age": _age(header.comments.get("age", "")),
                "sex": _sex(header.comments.get("sex", "")),
                "sampling_rate": header.fs,
                "duration_s": header.sig_len / header.fs if header.fs > 0 else None,
                "dx": [SNOMED[c][0] for c in codes],
            },
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """float32 (T, 12) signal in mV + ``sampling_rate``, ``lead_names`` and ``meta``.

        Rules: ``missing_file``, ``empty_file``, ``corrupt_mat`` (not the v4 int16 ``val`` matrix the header
        describes, or truncated), ``corrupt_wfdb`` (wfdb cannot read the record), ``bad_sampling_rate``,
        ``missing_leads`` (not the 12 standard leads), ``nonfinite`` (NaN: wfdb's invalid-sample value),
        ``bad_unit`` (a header unit that is not a voltage; others are converted to mV), ``flat_signal``
        (more flat leads than ``max_flat_leads``).
        """
        import wfdb

        root = Path(root)
        hea, mat = record.files[0], record.files[1]
        for rel in (hea, mat):
            if not (root / rel).is_file():
                raise RecordError("missing_file", f"{rel} not found under {root}")
            if (root / rel).stat().st_size == 0:
                raise RecordError("empty_file", f"{rel} is empty (0 bytes)")
        base = str(root / hea)[: -len(".hea")]
        try:
            header = wfdb.rdheader(base)
        except Exception as exc:  # wfdb raises many types on malformed headers
            raise RecordError(
                "corrupt_wfdb", f"{hea}: header unreadable ({type(exc).__name__}: {exc})"
            ) from None
        files = list(header.file_name or [])
        if not header.n_sig or len(files) != header.n_sig or not header.sig_len:
            message = (
                f"{hea}: {header.n_sig} signals declared, {len(files)} signal lines, length {header.sig_len}"
            )
            raise RecordError("corrupt_wfdb", message)
        if set(files) != {Path(mat).name}:
            raise RecordError(
                "corrupt_wfdb", f"{hea}: signals stored in {sorted(set(files))}, not {Path(mat).name}"
            )
        _check_mat(root / mat, mat, header.n_sig, header.sig_len)
        try:
            rec = wfdb.rdrecord(base)
        except Exception as exc:
            raise RecordError(
                "corrupt_wfdb", f"{mat}: signal unreadable ({type(exc).__name__}: {exc})"
            ) from None
        fs = float(rec.fs) if rec.fs is not None else math.nan
        if not math.isfinite(fs) or fs <= 0:
            raise RecordError("bad_sampling_rate", f"{hea}: sampling frequency {rec.fs!r}")
        names = [str(n) for n in rec.sig_name]
        missing = [lead for lead in LEADS if lead.upper() not in {n.upper() for n in names}]
        if missing:
            raise RecordError("missing_leads", f"{hea}: leads {missing} missing (leads {names})")
        signal = np.asarray(rec.p_signal, dtype=np.float64)
        if signal.ndim != 2 or signal.shape[0] == 0:
            raise RecordError("corrupt_wfdb", f"{mat}: no samples (shape {signal.shape})")
        if not np.isfinite(signal).all():
            bad = int((~np.isfinite(signal)).sum())
            raise RecordError("nonfinite", f"{mat}: {bad} invalid (NaN) samples of {signal.size}")
        factors, unit_meta = units.conversion(
            units.wfdb_header_units(root / hea, len(names)), names, ecg.UNIT, units.WFDB_DEFAULT_UNIT, hea
        )
        signal = signal * factors
        flat = [names[i] for i in np.flatnonzero(np.ptp(signal, axis=0) < FLAT_PEAK_TO_PEAK_MV)]
        if len(flat) > self.options.max_flat_leads:
            message = f"{mat}: {len(flat)} flat leads {flat} (range < {FLAT_PEAK_TO_PEAK_MV} mV)"
            raise RecordError("flat_signal", message)
        meta = {
            "n_samples": int(signal.shape[0]),
            "duration_s": signal.shape[0] / fs,
            "flat_leads": flat,
            **unit_meta,
        }
        props = {"sampling_rate": fs, "lead_names": names, "meta": meta}
        return signal.astype(np.float32), props


def _layout(folder: str, example: str, duration: str) -> str:
    return (
        f"<root>/{folder}/{example}.hea + {example}.mat (or the PhysioNet copy's g1/, g2/... subfolders, or "
        f"<root> = {folder}): WFDB header (12 leads I..V6, 500 Hz, {duration}, signal file <rec>.mat format "
        "16+24, gain per lead in mV) with comments #Age, #Sex, #Dx (SNOMED-CT codes), #Rx, #Hx, #Sx; "
        "<rec>.mat = MATLAB v4 int16 matrix 'val' (12, samples)"
    )


def _check_mat(path: Path, rel: str, n_sig: int, sig_len: int) -> None:
    """The challenge's .mat: a MATLAB v4 header for an int16 (n_sig, sig_len) matrix ``val``, then the data."""
    with path.open("rb") as fh:
        head = fh.read(MAT_HEADER_BYTES)
    if len(head) < MAT_HEADER_BYTES:
        raise RecordError("corrupt_mat", f"{rel}: {len(head)} bytes, shorter than a MATLAB v4 header")
    mtype, rows, cols, imag, namelen = np.frombuffer(head[:20], dtype="<i4").tolist()
    name = head[20 : 20 + max(0, min(namelen, 4))]
    if (mtype, imag, namelen, name) != (MAT_INT16_TYPE, 0, 4, b"val\x00"):
        message = (
            f"{rel}: not a MATLAB v4 int16 matrix 'val' (type {mtype}, imag {imag}, name {name!r}); "
            "re-saved as MATLAB v5/7 or another type?"
        )
        raise RecordError("corrupt_mat", message)
    if (rows, cols) != (n_sig, sig_len):
        message = f"{rel}: 'val' is {rows}x{cols}, the header describes {n_sig} signals x {sig_len} samples"
        raise RecordError("corrupt_mat", message)
    expected = MAT_HEADER_BYTES + 2 * rows * cols
    size = path.stat().st_size
    if size != expected:
        raise RecordError("corrupt_mat", f"{rel}: {size} bytes, a {rows}x{cols} int16 'val' needs {expected}")


def _age(raw: str) -> float | None:
    try:
        age = float(raw)
    except ValueError:
        return None
    if not math.isfinite(age) or age < 0:
        return None
    return min(age, AGE_CAP)


def _sex(raw: str) -> str | None:
    return {"male": "M", "m": "M", "female": "F", "f": "F"}.get(raw.strip().lower())


class Chapman(_CinC2021):
    name: ClassVar[str] = "chapman"
    title: ClassVar[str] = (
        "Chapman-Shaoxing 12-lead ECG (PhysioNet/CinC 2021), 7 CLIMB superclasses, multi-label"
    )
    license: ClassVar[str] = "CC-BY-4.0 (PhysioNet/CinC Challenge 2021 open access)"
    prefix: ClassVar[str] = "JS"
    folder: ClassVar[str] = "WFDB_ChapmanShaoxing"
    layout: ClassVar[str] = _layout("WFDB_ChapmanShaoxing", "JS00001", "10 s")


class Georgia(_CinC2021):
    name: ClassVar[str] = "georgia"
    title: ClassVar[str] = (
        "Georgia 12-lead ECG (G12EC, PhysioNet/CinC 2021), 7 CLIMB superclasses, multi-label"
    )
    license: ClassVar[str] = "CC-BY-4.0 (PhysioNet/CinC Challenge 2021 open access)"
    prefix: ClassVar[str] = "E"
    folder: ClassVar[str] = "WFDB_Ga"
    layout: ClassVar[str] = _layout("WFDB_Ga", "E00001", "10 s")


class CPSC2018(_CinC2021):
    name: ClassVar[str] = "cpsc2018"
    title: ClassVar[str] = "CPSC 2018 12-lead ECG (PhysioNet/CinC 2021), 7 CLIMB superclasses, multi-label"
    license: ClassVar[str] = "CC-BY-4.0 (PhysioNet/CinC Challenge 2021 open access)"
    prefix: ClassVar[str] = "A"
    folder: ClassVar[str] = "WFDB_CPSC2018"
    layout: ClassVar[str] = _layout("WFDB_CPSC2018", "A0001", "6-60 s")
