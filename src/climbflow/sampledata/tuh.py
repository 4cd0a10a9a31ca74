"""Small deterministic TUAB and TUEV copies in their real layouts: TUH-style EDF files written with pyedflib.

Recordings are 250 Hz, referential (``EEG FP1-REF`` ... plus A1/A2/T1/T2, ``EEG EKG1-REF`` and ``PHOTIC-REF``
in TUH's signal order), 20-40 s long (whole 1 s data records), with TUH's header patient field
``<subject> <sex> <birthdate> <subject> Age:<years>``. No real EEG ships with a PyPI package (the only EDF
generator, ``pyedflib.data.test_generator``, is test tones), so the background EEG is synthesized:

* background: 1/f (pink) noise from spatially smooth latent sources plus a little per-electrode noise;
* posterior dominant (alpha) rhythm: narrow-band 8.5-12 Hz noise (waxing and waning) over O1/O2/P3/P4/T5/T6,
  its amplitude log-normal across subjects; low-amplitude frontocentral beta;
* eye blinks at FP1/FP2, an ECG channel with a small ECG artefact on the EEG, some mains hum (60 Hz).

TUAB (``write_tuab``), recording-level label. Abnormal recordings have one or two of: a slowed and weaker
posterior rhythm with diffuse theta, intermittent focal polymorphic delta, intermittent generalized (frontal)
rhythmic delta, focal sharp waves, or an alpha asymmetry. Normal recordings vary too (drowsiness adds theta
and lowers alpha, high-voltage and fast-alpha variants, muscle artefacts), and about 5% of the folders are
wrong (``LABEL_NOISE``), so the classes overlap. Subjects are patient-disjoint between train and eval.

TUEV (``write_tuev``): each recording holds a few 1 s events, >= 10 s apart, each marked in the ``.rec`` file
on the TCP montage channels it is seen on (one line per channel): spsw (focal spike-and-slow-wave), gped
(generalized periodic triphasic discharges), pled (lateralized periodic discharges), eyem (blinks, lateral
eye movements), artf (muscle bursts, electrode pops, movement), bckg (nothing added). Periodic discharges run
through the whole window around their event; blinks and muscle also occur away from eyem/artf events.

``n_records`` is the number of EDF recordings. ``shuffle_labels`` permutes the labels (TUAB folders, TUEV
event codes) across recordings/events after the signals are made: a negative control.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

FS = 250
LABEL_NOISE = 0.05
PHYSICAL_RANGE = 4999.0  # µV, like TUH's +-4999.84 physical range
# TUH 01_tcp_ar signal order (electrodes), then EKG and photic channels
ELECTRODES: tuple[str, ...] = (
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
    "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ", "T1", "T2",
)  # fmt: skip
POSITIONS: dict[str, tuple[float, float]] = {  # (left-right, back-front) on a unit head disc
    "FP1": (-0.3, 0.95), "FP2": (0.3, 0.95), "F7": (-0.8, 0.6), "F3": (-0.4, 0.55), "FZ": (0.0, 0.5),
    "F4": (0.4, 0.55), "F8": (0.8, 0.6), "T3": (-1.0, 0.0), "C3": (-0.5, 0.0), "CZ": (0.0, 0.0),
    "C4": (0.5, 0.0), "T4": (1.0, 0.0), "T5": (-0.8, -0.6), "P3": (-0.4, -0.55), "PZ": (0.0, -0.5),
    "P4": (0.4, -0.55), "T6": (0.8, -0.6), "O1": (-0.3, -0.95), "O2": (0.3, -0.95),
    "A1": (-1.15, -0.15), "A2": (1.15, -0.15), "T1": (-0.95, 0.3), "T2": (0.95, 0.3),
}  # fmt: skip
XY = np.array([POSITIONS[e] for e in ELECTRODES])
# TUEV's 22-channel TCP montage: the .rec channel index is the index of the pair here
TCP_PAIRS: tuple[tuple[str, str], ...] = (
    ("FP1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"), ("FP2", "F8"), ("F8", "T4"), ("T4", "T6"),
    ("T6", "O2"), ("A1", "T3"), ("T3", "C3"), ("C3", "CZ"), ("CZ", "C4"), ("C4", "T4"), ("T4", "A2"),
    ("FP1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"), ("FP2", "F4"), ("F4", "C4"), ("C4", "P4"),
    ("P4", "O2"),
)  # fmt: skip
EVENT_CODES: dict[str, int] = {"spsw": 1, "gped": 2, "pled": 3, "eyem": 4, "artf": 5, "bckg": 6}
EVENT_WEIGHTS: dict[str, float] = {
    "spsw": 0.15,
    "gped": 0.14,
    "pled": 0.15,
    "eyem": 0.16,
    "artf": 0.16,
    "bckg": 0.24,
}


# --- signal building blocks -------------------------------------------------------------------------------


def _band(
    rng: np.random.Generator, n: int, lo: float, hi: float, rows: int = 1, pink: bool = False
) -> np.ndarray:
    """(rows, n) noise band-limited to [lo, hi] Hz (1/f-shaped if ``pink``), unit standard deviation."""
    freqs = np.fft.rfftfreq(n, 1.0 / FS)
    spec = rng.normal(size=(rows, freqs.size)) + 1j * rng.normal(size=(rows, freqs.size))
    mask = ((freqs >= lo) & (freqs <= hi)).astype(float)
    if pink:
        mask = mask / np.sqrt(np.maximum(freqs, lo))
    x = np.fft.irfft(spec * mask, n=n, axis=1)
    return x / (x.std(axis=1, keepdims=True) + 1e-12)


def _field(centre: tuple[float, float], sigma: float) -> np.ndarray:
    """(electrodes,) weights of a source at ``centre`` with spatial spread ``sigma``."""
    d2 = ((XY - np.asarray(centre)) ** 2).sum(axis=1)
    return np.exp(-0.5 * d2 / sigma**2)


def _envelope(rng: np.random.Generator, n: int, duty: float, mean_burst: float = 3.0) -> np.ndarray:
    """(n,) smooth on/off envelope: bursts of ~``mean_burst`` s covering about ``duty`` of the time."""
    env = np.zeros(n)
    t = rng.uniform(-mean_burst, mean_burst)
    while t < n / FS:
        length = rng.uniform(0.5, 1.5) * mean_burst
        if rng.random() < duty:
            i0, i1 = max(0, int(t * FS)), min(n, int((t + length) * FS))
            env[i0:i1] = 1.0
        t += length
    kernel = np.hanning(int(0.5 * FS))
    return np.convolve(env, kernel / kernel.sum(), mode="same")


def _bump(n: int, centre: float, width: float) -> np.ndarray:
    """(n,) raised-cosine bump of ``width`` s centred at ``centre`` s."""
    out = np.zeros(n)
    lo, hi = (
        max(0, int(np.floor((centre - width / 2) * FS))),
        min(n, int(np.ceil((centre + width / 2) * FS)) + 1),
    )
    if hi > lo:
        t = np.arange(lo, hi) / FS - centre
        out[lo:hi] = np.where(np.abs(t) < width / 2, 0.5 + 0.5 * np.cos(2 * np.pi * t / width), 0.0)
    return out


def _spike_wave(n: int, t0: float, rng: np.random.Generator) -> np.ndarray:
    """Surface-negative spike (20-70 ms) followed by a slow wave (200-350 ms), peak -1."""
    spike = _bump(n, t0, rng.uniform(0.02, 0.07))
    wave = _bump(n, t0 + rng.uniform(0.12, 0.2), rng.uniform(0.2, 0.35))
    return -(spike + rng.uniform(0.3, 0.6) * wave)


def _triphasic(n: int, t0: float, rng: np.random.Generator) -> np.ndarray:
    width = rng.uniform(0.25, 0.45)
    return (
        -0.3 * _bump(n, t0 - width / 3, width / 3)
        + _bump(n, t0, width / 2)
        - 0.45 * _bump(n, t0 + width / 2, width / 2)
    )


@dataclass(frozen=True)
class _Subject:
    subject: str
    age: int
    sex: str
    alpha_freq: float
    alpha_amp: float  # µV
    background: float  # µV rms
    hum: float  # µV of 60 Hz


def _subject_id(rng: np.random.Generator, used: set[str]) -> str:
    while True:
        sid = "".join(chr(ord("a") + int(c)) for c in rng.integers(0, 26, 8))
        if sid not in used:
            used.add(sid)
            return sid


def _new_subject(rng: np.random.Generator, sid: str, abnormal: bool) -> _Subject:
    age = int(rng.integers(25, 90)) if abnormal else int(rng.integers(18, 80))
    return _Subject(
        subject=sid,
        age=age,
        sex=str(rng.choice(["M", "F"])),
        alpha_freq=float(np.clip(rng.normal(10.2 - 0.01 * (age - 40), 0.7), 8.6, 12.0)),
        alpha_amp=float(np.exp(rng.normal(np.log(22.0), 0.35))),
        background=float(rng.uniform(7.0, 14.0)),
        hum=float(rng.uniform(0.0, 4.0)) if rng.random() < 0.5 else 0.0,
    )


def _background(
    rng: np.random.Generator, s: _Subject, n: int, alpha_scale: np.ndarray | float = 1.0
) -> np.ndarray:
    """(electrodes, n) µV of normal awake background EEG for subject ``s``."""
    n_src = 10
    centres = rng.uniform(-1.0, 1.0, (n_src, 2))
    mix = np.stack([_field(tuple(c), 0.5) for c in centres], axis=1)  # (E, n_src)
    x = mix @ _band(rng, n, 0.3, 70, rows=n_src, pink=True)
    x += 0.5 * _band(rng, n, 0.3, 70, rows=len(ELECTRODES), pink=True)
    x *= s.background / (x.std() + 1e-12)
    f = s.alpha_freq + rng.normal(0, 0.2)
    alpha = _band(rng, n, f - 0.6, f + 0.6)[0] * (0.6 + 0.4 * _envelope(rng, n, 0.7, 4.0))
    post = 0.5 * (_field((-0.3, -0.85), 0.45) + _field((0.3, -0.85), 0.45))
    x += s.alpha_amp * np.asarray(alpha_scale).reshape(-1, 1) * post[:, None] * alpha
    x += rng.uniform(1.5, 4.0) * _field((0.0, 0.35), 0.6)[:, None] * _band(rng, n, 15, 25)
    return x


def _common_artefacts(
    rng: np.random.Generator, s: _Subject, n: int, blink_rate: float = 0.12
) -> tuple[np.ndarray, np.ndarray]:
    """Blinks, ECG artefact and mains hum on the electrodes, and the EKG channel: ((E, n), (n,)) µV."""
    t = np.arange(n) / FS
    x = np.zeros((len(ELECTRODES), n))
    frontal = _field((0.0, 1.15), 0.4)
    for tb in np.sort(rng.uniform(0, n / FS, rng.poisson(blink_rate * n / FS))):
        x += rng.uniform(50, 110) * frontal[:, None] * _bump(n, tb, rng.uniform(0.25, 0.4))
    rr = 60.0 / rng.uniform(55, 95)
    beats = np.arange(rng.uniform(0, rr), n / FS, rr)
    qrs = sum((_bump(n, b, 0.06) - 0.25 * _bump(n, b + 0.25, 0.16) for b in beats), np.zeros(n))
    ekg = rng.uniform(400, 900) * qrs + 20 * _band(rng, n, 0.5, 40)[0]
    x += rng.uniform(0.5, 3.0) * _field((-0.9, -0.3), 0.8)[:, None] * qrs
    x += s.hum * np.sin(2 * np.pi * 60.0 * t + rng.uniform(0, 2 * np.pi))
    return x, ekg


def _muscle(
    rng: np.random.Generator, n: int, centre: tuple[float, float], amp: float, env: np.ndarray
) -> np.ndarray:
    return amp * _field(centre, 0.35)[:, None] * _band(rng, n, 20, 70, rows=len(ELECTRODES)) * env


def write_edf(path: Path, s: _Subject, eeg: np.ndarray, ekg: np.ndarray, session_year: int) -> None:
    """TUH-style EDF: 250 Hz, 1 s data records, ``EEG <E>-REF`` labels, µV, TUH's patient field."""
    import pyedflib
    from pyedflib import highlevel

    labels = [f"EEG {e}-REF" for e in ELECTRODES] + ["EEG EKG1-REF", "PHOTIC-REF"]
    signals = np.concatenate([eeg, ekg[None], np.zeros((1, eeg.shape[1]))])
    signals = np.clip(signals, -PHYSICAL_RANGE, PHYSICAL_RANGE)
    headers = highlevel.make_signal_headers(
        labels, dimension="uV", sample_frequency=FS, physical_min=-PHYSICAL_RANGE, physical_max=PHYSICAL_RANGE
    )
    header = {
        "technician": "",
        "recording_additional": "",
        "patientname": s.subject,
        "patient_additional": f"Age:{s.age}",
        "patientcode": s.subject,
        "equipment": "",
        "admincode": "",
        "sex": s.sex,
        "startdate": datetime(session_year, 1, 1),
        "birthdate": f"01 Jan {session_year - s.age}",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    highlevel.write_edf(str(path), signals, headers, header, file_type=pyedflib.FILETYPE_EDF)


# --- TUAB -------------------------------------------------------------------------------------------------

ABNORMAL_FINDINGS = ("slow_pdr", "focal_delta", "generalized_delta", "sharp_waves", "asymmetry")


def _tuab_signal(
    rng: np.random.Generator, s: _Subject, n: int, abnormal: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(electrodes, n) EEG and (n,) EKG of a TUAB recording (see the module docstring)."""
    findings: set[str] = set()
    if abnormal:
        findings = set(rng.choice(ABNORMAL_FINDINGS, size=1 + int(rng.random() < 0.4), replace=False))
    alpha_scale: np.ndarray | float = 1.0
    subj = s
    if "slow_pdr" in findings:
        subj = replace(s, alpha_freq=rng.uniform(6.5, 8.2), alpha_amp=s.alpha_amp * rng.uniform(0.4, 0.8))
    drowsy = not abnormal and rng.random() < 0.25
    if drowsy:
        subj = replace(subj, alpha_amp=subj.alpha_amp * rng.uniform(0.4, 0.8))
    if "asymmetry" in findings:
        side = 1 if rng.random() < 0.5 else -1
        alpha_scale = np.where(np.sign(XY[:, 0]) == side, rng.uniform(0.25, 0.55), 1.0)
    x = _background(rng, subj, n, alpha_scale)
    if "slow_pdr" in findings or drowsy:
        amp = rng.uniform(6, 16) if "slow_pdr" in findings else rng.uniform(4, 10)
        x += amp * _field((0, 0.1), 0.9)[:, None] * _band(rng, n, 4, 7.5)[0] * _envelope(rng, n, 0.6)
    if "focal_delta" in findings:
        centre = (rng.choice([-1, 1]) * rng.uniform(0.6, 1.0), rng.uniform(-0.5, 0.6))
        env = _envelope(rng, n, rng.uniform(0.4, 0.9), rng.uniform(2.0, 5.0))
        x += rng.uniform(15, 45) * _field(centre, 0.4)[:, None] * _band(rng, n, 1.0, 3.5)[0] * env
    if "generalized_delta" in findings:
        f = rng.uniform(1.8, 3.0)
        t = np.arange(n) / FS
        env = _envelope(rng, n, rng.uniform(0.3, 0.7), rng.uniform(2.0, 4.0))
        x += rng.uniform(15, 40) * _field((0, 0.7), 0.8)[:, None] * np.sin(2 * np.pi * f * t) * env
    if "sharp_waves" in findings:
        centre = (rng.uniform(-1, 1), rng.uniform(-0.8, 0.8))
        for t0 in np.sort(rng.uniform(0.5, n / FS - 0.5, rng.poisson(0.2 * n / FS) + 1)):
            x += rng.uniform(50, 120) * _field(centre, 0.35)[:, None] * _spike_wave(n, t0, rng)
    if rng.random() < 0.3:  # muscle artefact bursts, in any recording
        side = rng.choice([-1, 1])
        x += _muscle(rng, n, (side * 0.95, 0.2), rng.uniform(5, 20), _envelope(rng, n, 0.3, 2.0))
    if not abnormal and rng.random() < 0.15:  # benign high-voltage background
        x *= rng.uniform(1.2, 1.5)
    art, ekg = _common_artefacts(rng, s, n)
    return x + art, ekg


def _splits(rng: np.random.Generator, labels: np.ndarray, eval_fraction: float) -> np.ndarray:
    """True for eval, stratified by label, at least one per label when there are two or more."""
    is_eval = np.zeros(labels.size, dtype=bool)
    for value in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == value))
        k = int(round(eval_fraction * idx.size)) if idx.size >= 2 else 0
        is_eval[idx[: max(k, 1 if idx.size >= 2 else 0)]] = True
    return is_eval


def write_tuab(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """Write ``n_records`` TUAB recordings under ``root/edf``; deterministic for a given seed."""
    if n_records < 1:
        raise ValueError(f"n_records must be >= 1, got {n_records}")
    root = Path(root)
    rng = np.random.default_rng([seed, 10])
    n_second = int(round(0.2 * n_records)) if n_records >= 5 else 0  # subjects with two sessions
    n_subjects = n_records - n_second
    abnormal = rng.permutation(np.arange(n_subjects) % 2 == 1)
    used: set[str] = set()
    subjects = [_new_subject(rng, _subject_id(rng, used), bool(a)) for a in abnormal]
    is_eval = _splits(rng, abnormal.astype(int), 0.25)
    owners = np.concatenate([np.arange(n_subjects), rng.choice(n_subjects, n_second, replace=False)])
    true = abnormal[owners]
    noisy = np.where(rng.random(owners.size) < LABEL_NOISE, ~true, true)
    folders = np.random.default_rng([seed, 12]).permutation(noisy) if shuffle_labels else noisy
    sessions: dict[int, int] = {}
    for i, owner in enumerate(owners):
        s = subjects[owner]
        sessions[owner] = sessions.get(owner, 0) + int(rng.integers(1, 4))
        seconds = int(rng.integers(20, 41))
        signal, ekg = _tuab_signal(np.random.default_rng([seed, 11, i]), s, seconds * FS, bool(true[i]))
        split = "eval" if is_eval[owner] else "train"
        label = "abnormal" if folders[i] else "normal"
        name = f"{s.subject}_s{sessions[owner]:03d}_t{int(rng.integers(0, 3)):03d}.edf"
        write_edf(
            root / "edf" / split / label / "01_tcp_ar" / name, s, signal, ekg, 2002 + int(rng.integers(0, 15))
        )
    logger.info("wrote %d TUAB recordings (%d subjects) to %s", n_records, n_subjects, root)
    return root


# --- TUEV -------------------------------------------------------------------------------------------------


def _tcp_channels(weights: np.ndarray, threshold: float) -> list[int]:
    """TCP montage channels (indices) with an electrode weighted above ``threshold``; at least one."""
    w = dict(zip(ELECTRODES, weights, strict=True))
    chans = [i for i, (a, b) in enumerate(TCP_PAIRS) if max(w[a], w[b]) > threshold]
    return chans or [int(np.argmax([max(w[a], w[b]) for a, b in TCP_PAIRS]))]


def _add_event(rng: np.random.Generator, x: np.ndarray, kind: str, start: float) -> list[int]:
    """Add an event of ``kind`` whose 1 s epoch starts at ``start`` to ``x``; returns its TCP channels."""
    n = x.shape[1]
    centre = start + 0.5
    if kind == "spsw":
        where = (rng.uniform(-1, 1), rng.uniform(-0.8, 0.8))
        field = _field(where, rng.uniform(0.3, 0.45))
        for t0 in centre + rng.uniform(-0.35, 0.35, 1 + int(rng.random() < 0.3)):
            x += rng.uniform(45, 140) * field[:, None] * _spike_wave(n, t0, rng)
        return _tcp_channels(field, 0.5)
    if kind in ("pled", "gped"):
        period = rng.uniform(0.8, 2.0) if kind == "pled" else rng.uniform(0.6, 1.8)
        if kind == "pled":
            field = _field(
                (rng.choice([-1, 1]) * rng.uniform(0.5, 0.8), rng.uniform(-0.5, 0.5)), rng.uniform(0.45, 0.7)
            )
        else:
            field = 0.6 + 0.4 * _field((0, 0.8), 1.0)
        amp = rng.uniform(50, 140)
        times = centre + period * np.arange(-int(4.5 / period), int(4.5 / period) + 1)
        times = times + rng.normal(0, 0.03, times.size)
        for t0 in times[(times > 0.3) & (times < n / FS - 0.3)]:
            shape = _spike_wave(n, t0, rng) if kind == "pled" else _triphasic(n, t0, rng)
            x += amp * rng.uniform(0.8, 1.1) * field[:, None] * shape
        return _tcp_channels(field, 0.5)
    if kind == "eyem":
        if rng.random() < 0.5:  # blinks
            field = _field((0.0, 1.15), 0.4)
            for t0 in centre + rng.uniform(-0.3, 0.3, 1 + int(rng.random() < 0.5)):
                x += rng.uniform(90, 220) * field[:, None] * _bump(n, t0, rng.uniform(0.25, 0.45))
        else:  # lateral eye movement: F7 and F8 deflect in opposite directions
            field = _field((-0.9, 0.75), 0.35) - _field((0.9, 0.75), 0.35)
            step = np.clip((np.arange(n) / FS - centre + 0.3) * 8, 0, 1) * np.exp(
                -np.clip(np.arange(n) / FS - centre, 0, None) / rng.uniform(0.4, 1.2)
            )
            x += rng.choice([-1, 1]) * rng.uniform(60, 150) * field[:, None] * step
        return _tcp_channels(np.abs(field), 0.5)
    if kind == "artf":
        choice = rng.random()
        if choice < 0.45:  # muscle burst
            where = (rng.choice([-1, 1]) * 0.95, rng.uniform(-0.2, 0.6))
            env = _bump(n, centre, rng.uniform(1.0, 2.5))
            x += _muscle(rng, n, where, rng.uniform(15, 45), env)
            return _tcp_channels(_field(where, 0.35), 0.5)
        if choice < 0.75:  # electrode pop on one electrode
            e = int(rng.integers(len(ELECTRODES)))
            t = np.arange(n) / FS - (centre - 0.2)
            x[e] += (
                rng.choice([-1, 1])
                * rng.uniform(100, 300)
                * np.where(t >= 0, np.exp(-t / rng.uniform(0.15, 0.5)), 0)
            )
            return _tcp_channels(np.eye(len(ELECTRODES))[e], 0.5)
        field = rng.uniform(0.5, 1.0, len(ELECTRODES))  # movement: large slow swing on many electrodes
        x += (
            rng.uniform(80, 250)
            * field[:, None]
            * _band(rng, n, 0.5, 2.0)[0]
            * _bump(n, centre, rng.uniform(1.5, 3.0))
        )
        return _tcp_channels(field, 0.7)
    return list(range(len(TCP_PAIRS)))  # bckg: marked on every channel


def write_tuev(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """Write ``n_records`` TUEV recordings (EDF + ``.rec``) under ``root/edf``; deterministic for a seed."""
    if n_records < 1:
        raise ValueError(f"n_records must be >= 1, got {n_records}")
    root = Path(root)
    rng = np.random.default_rng([seed, 20])
    n_subjects = max(1, n_records - int(round(0.25 * n_records)))
    used: set[str] = set()
    subjects = [_new_subject(rng, _subject_id(rng, used), rng.random() < 0.7) for _ in range(n_subjects)]
    is_eval = _splits(rng, np.zeros(n_subjects, dtype=int), 0.25)
    owners = np.concatenate([np.arange(n_subjects), rng.integers(0, n_subjects, n_records - n_subjects)])
    kinds = list(EVENT_WEIGHTS)
    probs = np.array(list(EVENT_WEIGHTS.values()))
    plans = []
    for i, owner in enumerate(owners):
        seconds = int(rng.integers(30, 41))
        n_events = int((seconds - 2) // 11)
        starts = [6.0 + 11.0 * k + float(rng.integers(-1, 2)) for k in range(n_events)]
        events = [str(rng.choice(kinds, p=probs)) for _ in starts]
        plans.append((i, owner, seconds, starts, events))
    true = [e for *_, events in plans for e in events]
    noisy = [str(rng.choice(kinds, p=probs)) if rng.random() < LABEL_NOISE else e for e in true]
    names = (
        list(np.asarray(noisy)[np.random.default_rng([seed, 22]).permutation(len(noisy))])
        if shuffle_labels
        else noisy
    )
    k = 0
    file_no: dict[int, int] = {}
    for i, owner, seconds, starts, events in plans:
        s = subjects[owner]
        r = np.random.default_rng([seed, 21, i])
        n = seconds * FS
        x = _background(r, s, n)
        art, ekg = _common_artefacts(r, s, n, blink_rate=0.05)
        x += art
        if r.random() < 0.25:
            x += _muscle(r, n, (r.choice([-1, 1]) * 0.95, 0.2), r.uniform(5, 15), _envelope(r, n, 0.2, 1.5))
        lines = []
        for start, kind in zip(starts, events, strict=True):
            for ch in _add_event(r, x, kind, start):
                lines.append((ch, start, start + 1.0, EVENT_CODES[names[k]]))
            k += 1
        file_no[owner] = file_no.get(owner, 0) + 1
        stem = f"{s.subject}_{file_no[owner]:08d}"
        folder = root / "edf" / ("eval" if is_eval[owner] else "train") / s.subject
        write_edf(folder / f"{stem}.edf", s, x, ekg, 2005 + int(rng.integers(0, 10)))
        text = "".join(f"{ch},{a:.4f},{b:.4f},{code}\n" for ch, a, b, code in sorted(lines))
        (folder / f"{stem}.rec").write_text(text, encoding="ascii")
    logger.info(
        "wrote %d TUEV recordings (%d events, %d subjects) to %s", n_records, len(true), n_subjects, root
    )
    return root
