"""Small deterministic copies of the CinC 2020/2021 ECG sets (Chapman-Shaoxing, Georgia, CPSC-2018).

Real layout: ``<root>/WFDB_ChapmanShaoxing/JS00001.{hea,mat}`` (``WFDB_Ga/E00001``, ``WFDB_CPSC2018/A0001``):
a MATLAB v4 ``.mat`` holding the int16 matrix ``val`` (12, samples), written with ``scipy.io.savemat(...,
format="4")`` (24-byte header, hence the header's ``16+24`` format), and a WFDB header with gain 1000/mV,
the leads I..V6 and the comments ``#Age``, ``#Sex``, ``#Dx`` (SNOMED-CT), ``#Rx/#Hx/#Sx: Unknown``.

Signals reuse the PTB-XL sample's synthesis (:mod:`climbflow.sampledata.ptbxl`: beats rebuilt from the real
12-lead ECG pydicom ships, patient and record variation, small class-dependent effects) with each set's own
SNOMED vocabulary, mapped to the synthesis findings: bundle-branch blocks (CD), LVH / LV high voltage (HYP),
MI / abnormal Q waves (MI), ST depression and T-wave changes (STTC), AF and flutter (AFIB), sinus
brady/tachycardia and premature ventricular beats (OTHER; the PVCs are added here). Chapman and Georgia list
sinus rhythm next to non-rhythm findings (as their headers do); CPSC-2018 has its 9 classes only (no HYP or
MI; sinus rhythm = its "Normal" class) and records of 6-60 s. About 5% of the #Dx lines have one finding
wrong or missing; the signal follows the true findings. ``shuffle_labels`` permutes the #Dx lines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
from scipy.signal import find_peaks

from climbflow.catalog.cinc2021 import LEADS, SINUS_RHYTHM, SNOMED
from climbflow.sampledata.ptbxl import (
    FS,
    SECONDS,
    derive_limb_leads,
    frontal_weights,
    gauss,
    new_patient,
    patient_template,
    synthesize,
)

logger = logging.getLogger(__name__)

GAIN = 1000.0  # adc units per mV, as in the challenge headers
LABEL_NOISE = 0.05
RHYTHM_SYNTH = frozenset({"AFIB", "AFLT", "SBRAD", "STACH"})
CROSSFADE = 100  # samples blended where 10 s segments of a longer record meet
_INDEPENDENT = [0, 1, 6, 7, 8, 9, 10, 11]  # I, II, V1..V6 of LEADS
MI_SYNTH = ("IMI", "AMI", "ASMI")
STTC_SYNTH = ("ISC_", "NDT")

# class -> ((SNOMED code, synthesis findings to pick one of), weight)
Vocabulary = dict[str, tuple[tuple[str, tuple[str, ...], float], ...]]


@dataclass(frozen=True)
class _Dataset:
    salt: int  # keeps the sets' records apart for the same seed
    folder: str
    prefix: str
    digits: int
    vocabulary: Vocabulary
    class_weights: dict[str, float]
    p_norm: float  # records with sinus rhythm only
    p_two: float  # of the abnormal records, those with two findings
    sinus_with_findings: bool  # sinus rhythm listed next to non-rhythm findings
    durations: tuple[tuple[float, ...], tuple[float, ...]]  # seconds, probabilities
    record_line_suffix: str = ""


CHAPMAN = _Dataset(
    salt=1,
    folder="WFDB_ChapmanShaoxing",
    prefix="JS",
    digits=5,
    vocabulary={
        "CD": (("59118001", ("CRBBB",), 0.65), ("164909002", ("CLBBB",), 0.35)),
        "HYP": (("55827005", ("LVH",), 0.85), ("164873001", ("LVH",), 0.15)),
        "MI": (("164917005", MI_SYNTH, 0.8), ("164865005", MI_SYNTH, 0.2)),
        "STTC": (
            ("164934002", ("NDT",), 0.45),
            ("59931005", ("NDT",), 0.1),
            ("429622005", ("ISC_",), 0.15),
            ("428750005", STTC_SYNTH, 0.3),
        ),
        "AFIB": (("164889003", ("AFIB",), 0.8), ("164890007", ("AFLT",), 0.2)),
        "OTHER": (
            ("426177001", ("SBRAD",), 0.5),
            ("427084000", ("STACH",), 0.2),
            ("17338001", ("PVC",), 0.3),
        ),
    },
    class_weights={"CD": 0.2, "HYP": 0.13, "MI": 0.12, "STTC": 0.2, "AFIB": 0.17, "OTHER": 0.18},
    p_norm=0.3,
    p_two=0.3,
    sinus_with_findings=True,
    durations=((10.0,), (1.0,)),
)
GEORGIA = _Dataset(
    salt=2,
    folder="WFDB_Ga",
    prefix="E",
    digits=5,
    vocabulary={
        "CD": (
            ("59118001", ("CRBBB",), 0.35),
            ("713427006", ("CRBBB",), 0.1),
            ("164909002", ("CLBBB",), 0.25),
            ("713426002", ("IRBBB",), 0.3),
        ),
        "HYP": (("164873001", ("LVH",), 1.0),),
        "MI": (("164917005", MI_SYNTH, 0.85), ("164865005", MI_SYNTH, 0.15)),
        "STTC": (
            ("164934002", ("NDT",), 0.4),
            ("59931005", ("NDT",), 0.15),
            ("428750005", STTC_SYNTH, 0.3),
            ("429622005", ("ISC_",), 0.15),
        ),
        "AFIB": (("164889003", ("AFIB",), 0.75), ("164890007", ("AFLT",), 0.25)),
        "OTHER": (
            ("426177001", ("SBRAD",), 0.4),
            ("427084000", ("STACH",), 0.35),
            ("17338001", ("PVC",), 0.25),
        ),
    },
    class_weights={"CD": 0.2, "HYP": 0.14, "MI": 0.13, "STTC": 0.2, "AFIB": 0.15, "OTHER": 0.18},
    p_norm=0.3,
    p_two=0.3,
    sinus_with_findings=True,
    durations=((10.0,), (1.0,)),
)
CPSC2018 = _Dataset(
    salt=3,
    folder="WFDB_CPSC2018",
    prefix="A",
    digits=4,
    vocabulary={
        "CD": (("59118001", ("CRBBB",), 0.8), ("164909002", ("CLBBB",), 0.2)),
        "STTC": (("429622005", ("ISC_",), 1.0),),
        "AFIB": (("164889003", ("AFIB",), 1.0),),
        "OTHER": (("164884008", ("PVC",), 1.0),),
    },
    class_weights={"CD": 0.35, "STTC": 0.2, "AFIB": 0.3, "OTHER": 0.15},
    p_norm=0.25,
    p_two=0.1,
    sinus_with_findings=False,
    durations=((6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 30.0), (0.1, 0.15, 0.3, 0.2, 0.12, 0.08, 0.05)),
    record_line_suffix=" 05-Feb-2020 11:39:16",
)


def write_cinc_record(
    directory: Path, name: str, signal: np.ndarray, fs: int, comments: list[str], record_line_suffix: str = ""
) -> None:
    """Write (12, T) mV as the challenge does: ``<name>.mat`` (MATLAB v4, int16 ``val``, 1000/mV) + header
    (record line, 12 signal lines ``<name>.mat 16+24 1000/mV 16 0 <first> <checksum> 0 <lead>``, comments)."""
    digital = np.clip(np.round(np.asarray(signal) * GAIN), -32767, 32767).astype(np.int16)
    scipy.io.savemat(directory / f"{name}.mat", {"val": digital}, format="4")
    checksums = (digital.astype(np.int64).sum(axis=1) + 32768) % 65536 - 32768  # signed 16-bit, as WFDB
    lines = [f"{name} {digital.shape[0]} {fs} {digital.shape[1]}{record_line_suffix}"]
    lines += [
        f"{name}.mat 16+24 {GAIN:g}/mV 16 0 {digital[ch, 0]} {checksums[ch]} 0 {lead}"
        for ch, lead in enumerate(LEADS)
    ]
    (directory / f"{name}.hea").write_text("\n".join(lines + comments) + "\n", encoding="ascii")


def _pick(
    rng: np.random.Generator, options: tuple[tuple[str, tuple[str, ...], float], ...]
) -> tuple[str, str]:
    weights = np.array([w for _, _, w in options])
    code, synth, _ = options[int(rng.choice(len(options), p=weights / weights.sum()))]
    return code, str(rng.choice(synth))


def _findings(rng: np.random.Generator, ds: _Dataset, classes: list[str]) -> list[tuple[str, str]]:
    """(SNOMED code, synthesis finding) per class; at most one rhythm finding (AF/AFL/SB/STach)."""
    out: list[tuple[str, str]] = []
    for klass in classes:
        options = ds.vocabulary[klass]
        if any(s in RHYTHM_SYNTH for _, s in out):
            options = tuple(o for o in options if not set(o[1]) & RHYTHM_SYNTH) or options
        out.append(_pick(rng, options))
    return out


def _dx(rng: np.random.Generator, ds: _Dataset, findings: list[tuple[str, str]]) -> list[str]:
    """The #Dx codes of a record's findings: sinus rhythm added where the rhythm is sinus."""
    codes = [code for code, _ in findings]
    sinus = not any(s in RHYTHM_SYNTH for _, s in findings)
    if not findings or (sinus and ds.sinus_with_findings):
        codes.append(SINUS_RHYTHM)
    return [codes[i] for i in rng.permutation(len(codes))]


def _sample_classes(rng: np.random.Generator, ds: _Dataset) -> list[str]:
    if rng.random() < ds.p_norm:
        return []
    names = list(ds.class_weights)
    weights = np.array([ds.class_weights[n] for n in names])
    k = 2 if rng.random() < ds.p_two else 1
    return sorted(str(c) for c in rng.choice(names, size=k, replace=False, p=weights / weights.sum()))


def _annotation_error(rng: np.random.Generator, ds: _Dataset, findings: list[tuple[str, str]]) -> list[str]:
    """#Dx with one finding missing or wrong (a second finding missed, a finding read as normal or as
    another class, a normal record over-read)."""
    if len(findings) > 1:
        return _dx(rng, ds, [findings[int(rng.integers(len(findings)))]])
    if findings and rng.random() < 0.5:
        return _dx(rng, ds, [])
    current = {SNOMED[code][1] for code, _ in findings}
    others = [c for c in ds.class_weights if c not in current]
    return _dx(rng, ds, _findings(rng, ds, [str(rng.choice(others))]))


def _add_pvcs(rng: np.random.Generator, x12: np.ndarray) -> np.ndarray:
    """1-3 premature ventricular complexes (wide, 0.8-1.8 mV, discordant T) at 55-70% of an RR interval."""
    x8 = x12[_INDEPENDENT].copy()
    energy = np.convolve(np.abs(np.diff(x8, axis=1)).sum(axis=0), np.ones(15) / 15, mode="same")
    peaks, _ = find_peaks(energy, distance=int(0.3 * FS), height=0.3 * np.percentile(energy, 99))
    if peaks.size < 3:
        return x12
    t = np.arange(-150.0, 500.0, 1000.0 / FS)  # ms around the ectopic QRS
    # a ventricular focus: frontal axis anywhere, precordial polarity reversing from V1 to V6 (LBBB-/RBBB-like)
    precordial = rng.choice([-1.0, 1.0]) * np.linspace(-1.0, 1.0, 6) + rng.normal(0.0, 0.25, 6)
    direction = np.concatenate([frontal_weights(rng.uniform(0, 360)), precordial])
    sigma = rng.uniform(22, 32)
    shape = gauss(t, 0, sigma) - 0.35 * gauss(t, 230 + 3 * sigma, 60)
    amp = rng.uniform(0.8, 1.8)
    starts = rng.choice(peaks.size - 1, size=min(peaks.size - 1, int(rng.integers(1, 4))), replace=False)
    for k in starts:
        centre = int(peaks[k] + rng.uniform(0.55, 0.7) * (peaks[k + 1] - peaks[k]))
        lo, hi = max(0, centre - 75), min(x8.shape[1], centre - 75 + t.size)
        x8[:, lo:hi] += amp * direction[:, None] * shape[None, lo - (centre - 75) : hi - (centre - 75)]
    return derive_limb_leads(x8)


def _signal(
    seed: int,
    salt: int,
    index: int,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    findings: list[tuple[str, str]],
    early_repol: float,
    n: int,
) -> np.ndarray:
    """(12, n) mV: 10 s segments of the PTB-XL synthesis, joined with a short crossfade."""
    codes = {s for _, s in findings}
    segments = []
    for seg in range(-(-n // (FS * SECONDS))):
        rng = np.random.default_rng([seed, salt, 1, index, seg])
        x = synthesize(rng, parts, codes - {"PVC"}, early_repol)
        if "PVC" in codes:
            x = _add_pvcs(rng, x)
        segments.append(x)
    out = segments[0]
    ramp = np.linspace(0.0, 1.0, CROSSFADE)
    for x in segments[1:]:
        blended = out[:, -CROSSFADE:] * (1 - ramp) + x[:, :CROSSFADE] * ramp
        out = np.concatenate([out[:, :-CROSSFADE], blended, x[:, CROSSFADE:]], axis=1)
    return out[:, :n]


def _write(ds: _Dataset, root: Path, n_records: int, seed: int, shuffle_labels: bool) -> Path:
    if n_records < 1:
        raise ValueError(f"n_records must be >= 1, got {n_records}")
    root = Path(root)
    directory = root / ds.folder
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, ds.salt, 0])
    records = []  # annotation first (small); signals are made and written one at a time
    for i in range(1, n_records + 1):
        patient = new_patient(rng, i)
        findings = _findings(rng, ds, _sample_classes(rng, ds))
        dx = _annotation_error(rng, ds, findings) if rng.random() < LABEL_NOISE else _dx(rng, ds, findings)
        seconds = float(rng.choice(ds.durations[0], p=ds.durations[1]))
        n = int(round(seconds * FS)) + (int(rng.integers(0, FS)) if len(ds.durations[0]) > 1 else 0)
        records.append((i, patient, findings, n, dx))
    dx_lines = [dx for *_, dx in records]
    if shuffle_labels:
        order = np.random.default_rng([seed, ds.salt, 2]).permutation(n_records)
        dx_lines = [dx_lines[k] for k in order]
    for (i, patient, findings, n, _), dx in zip(records, dx_lines, strict=True):
        signal = _signal(seed, ds.salt, i, patient_template(patient), findings, patient.early_repol, n)
        comments = [
            f"#Age: {patient.age}",
            f"#Sex: {'Male' if patient.sex == 0 else 'Female'}",
            f"#Dx: {','.join(dx)}",
            "#Rx: Unknown",
            "#Hx: Unknown",
            "#Sx: Unknown",
        ]
        write_cinc_record(
            directory, f"{ds.prefix}{i:0{ds.digits}d}", signal, FS, comments, ds.record_line_suffix
        )
    logger.info("wrote %d %s records to %s", n_records, ds.folder, directory)
    return root


def write_chapman(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """Chapman-Shaoxing sample: ``<root>/WFDB_ChapmanShaoxing/JS00001.{hea,mat}``, 10 s at 500 Hz."""
    return _write(CHAPMAN, root, n_records, seed, shuffle_labels)


def write_georgia(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """Georgia (G12EC) sample: ``<root>/WFDB_Ga/E00001.{hea,mat}``, 10 s at 500 Hz."""
    return _write(GEORGIA, root, n_records, seed, shuffle_labels)


def write_cpsc2018(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """CPSC-2018 sample: ``<root>/WFDB_CPSC2018/A0001.{hea,mat}``, 6-31 s at 500 Hz."""
    return _write(CPSC2018, root, n_records, seed, shuffle_labels)
