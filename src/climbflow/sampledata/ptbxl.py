"""A small deterministic PTB-XL copy in the real layout, built from the real 12-lead ECG shipped with pydicom.

The beat morphology comes from ``pydicom``'s ``waveform_ecg.dcm`` (a real normal sinus-rhythm 12-lead ECG,
1000 Hz): the median beat of leads I, II, V1-V6 is split into P, QRS and ST-T parts, and each record rebuilds
beats from those parts with class-dependent, physiologically motivated changes. The effects are kept small,
variable (often in only some of the leads they belong to) and overlapping normal variation, so that a small
model learns them well but not perfectly:

* NORM: sinus rhythm (respiratory RR variation, occasional premature beats), 55-95 bpm;
* MI (IMI/AMI/ASMI): (sub)acute: ST elevation of 0.1-0.3 mV, Q waves in most; old: Q waves and R loss;
  T-wave flattening or inversion in some; in some of the infarct's leads (inferior: along a 60-110 deg axis);
* STTC (ISC_/NDT): 0.03-0.15 mV ST depression in some lateral leads, or T waves flattened or inverted in some
  of V4-V6 and I;
* HYP (LVH): QRS amplitude x1.2-1.8 in the precordial leads (normal voltages vary log-normally and overlap
  it), lateral strain pattern in some;
* CD (CLBBB/CRBBB/IRBBB): QRS time-stretched (x1.15-1.6), small terminal R' in V1-V2 for right bundle branch
  blocks, notched lateral QRS for left;
* AFIB (AFIB/AFLT): irregular RR (sometimes only mildly), fine fibrillatory (4-9 Hz) waves and in some records
  P-like coarse waves at some beats; flutter sawtooth with variable or fixed (regular) 2:1/4:1 conduction;
* OTHER (PACE/STACH/SBRAD): pacing spikes (a wide QRS for some), sinus tachycardia or bradycardia.

Limb leads III, aVR, aVL, aVF are derived from I and II (Einthoven/Goldberger), as ECG carts do. Patients
vary in frontal axis (+-40 degrees), limb and chest voltages, electrode placement, T-wave amplitude and benign
early repolarisation (V2-V4 ST elevation, 10%); records in heart rate, QRS width, gain, noise, muscle-noise
bursts, baseline wander and mains hum. About 5% of the annotations (``LABEL_NOISE``) have one superclass
wrong or missing, as in real PTB-XL; the signal always follows the true findings. WFDB files are written
byte-identical to ``wfdb.wrsamp(..., fmt=['16']*12, adc_gain=[1000.]*12, baseline=[0]*12)`` (checked by the
tests) without its per-call overhead; 100 Hz copies (``records100``, block-averaged) are written too.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import find_peaks

logger = logging.getLogger(__name__)

FS = 500
FS_LR = 100
SECONDS = 10
LEADS: tuple[str, ...] = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
# independent channels of the synthesis: I, II, V1..V6 (indices 0..7)
_I, _II = 0, 1
_V = {f"V{k}": 1 + k for k in range(1, 7)}

# scp_statements.csv subset (real values):
# code -> (description, diagnostic, form, rhythm, diagnostic_class, diagnostic_subclass)
SCP_STATEMENTS: dict[str, tuple[str, float, float, float, str, str]] = {
    "NDT": ("non-diagnostic T abnormalities", 1.0, 1.0, np.nan, "STTC", "STTC"),
    "NORM": ("normal ECG", 1.0, np.nan, np.nan, "NORM", "NORM"),
    "IMI": ("inferior myocardial infarction", 1.0, np.nan, np.nan, "MI", "IMI"),
    "ASMI": ("anteroseptal myocardial infarction", 1.0, np.nan, np.nan, "MI", "AMI"),
    "LVH": ("left ventricular hypertrophy", 1.0, np.nan, np.nan, "HYP", "LVH"),
    "IRBBB": ("incomplete right bundle branch block", 1.0, np.nan, np.nan, "CD", "IRBBB"),
    "CLBBB": ("complete left bundle branch block", 1.0, np.nan, np.nan, "CD", "CLBBB"),
    "CRBBB": ("complete right bundle branch block", 1.0, np.nan, np.nan, "CD", "CRBBB"),
    "ISC_": ("non-specific ischemic", 1.0, np.nan, np.nan, "STTC", "ISC_"),
    "AMI": ("anterior myocardial infarction", 1.0, np.nan, np.nan, "MI", "AMI"),
    "SR": ("sinus rhythm", np.nan, np.nan, 1.0, "", ""),
    "AFIB": ("atrial fibrillation", np.nan, np.nan, 1.0, "", ""),
    "STACH": ("sinus tachycardia", np.nan, np.nan, 1.0, "", ""),
    "SBRAD": ("sinus bradycardia", np.nan, np.nan, 1.0, "", ""),
    "PACE": ("normal functioning artificial pacemaker", np.nan, np.nan, 1.0, "", ""),
    "AFLT": ("atrial flutter", np.nan, np.nan, 1.0, "", ""),
}
NON_NORM: tuple[str, ...] = ("CD", "HYP", "MI", "STTC", "AFIB", "OTHER")
NON_NORM_WEIGHTS = np.array([0.2, 0.13, 0.22, 0.2, 0.12, 0.13])
CLASS_CODES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "CD": (("CLBBB", "CRBBB", "IRBBB"), (0.35, 0.4, 0.25)),
    "HYP": (("LVH",), (1.0,)),
    "MI": (("IMI", "AMI", "ASMI"), (0.45, 0.2, 0.35)),
    "STTC": (("ISC_", "NDT"), (0.5, 0.5)),
    "AFIB": (("AFIB", "AFLT"), (0.8, 0.2)),
    "OTHER": (("PACE", "STACH", "SBRAD"), (0.34, 0.33, 0.33)),
}
RHYTHM_CODES = frozenset({"AFIB", "AFLT", "PACE", "STACH", "SBRAD"})
LABEL_NOISE = 0.05  # fraction of records annotated with one superclass wrong or missing, as in real PTB-XL
DATABASE_COLUMNS: tuple[str, ...] = (
    "ecg_id",
    "patient_id",
    "age",
    "sex",
    "height",
    "weight",
    "nurse",
    "site",
    "device",
    "recording_date",
    "report",
    "scp_codes",
    "heart_axis",
    "infarction_stadium1",
    "infarction_stadium2",
    "validated_by",
    "second_opinion",
    "initial_autogenerated_report",
    "validated_by_human",
    "baseline_drift",
    "static_noise",
    "burst_noise",
    "electrodes_problems",
    "extra_beats",
    "pacemaker",
    "strat_fold",
    "filename_lr",
    "filename_hr",
)

_T_SRC = np.arange(-400.0, 560.0)  # ms around the R peak, 1000 Hz template grid
_T_BEAT = np.arange(-340.0, 660.0, 1000.0 / FS)  # ms, output beat grid at 500 Hz
_R_INDEX = int(np.searchsorted(_T_BEAT, 0.0))


def _ramp(t: np.ndarray, a: float, b: float) -> np.ndarray:
    """Smooth 0 -> 1 step between t=a and t=b (raised cosine)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip((t - a) / (b - a), 0.0, 1.0))


def gauss(t: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - centre) / sigma) ** 2)


def frontal_weights(axis_deg: float) -> np.ndarray:
    """Weights on (I, II) of a unit vector in the frontal plane at ``axis_deg`` (0 = lead I, 90 = aVF)."""
    a = np.deg2rad(axis_deg)
    return np.array([np.cos(a), np.cos(a - np.pi / 3)])


def derive_limb_leads(x8: np.ndarray) -> np.ndarray:
    """(8, T) channels I, II, V1..V6 -> (12, T) in ``LEADS`` order (III, aVR, aVL, aVF derived from I, II)."""
    lead_i, lead_ii = x8[_I], x8[_II]
    iii, avr = lead_ii - lead_i, -(lead_i + lead_ii) / 2
    avl, avf = lead_i - lead_ii / 2, lead_ii - lead_i / 2
    limb = np.stack([lead_i, lead_ii, iii, avr, avl, avf])
    return np.concatenate([limb, x8[2:]])


@functools.lru_cache(maxsize=1)
def real_beat_template() -> np.ndarray:
    """(8, 960) median beat of the real pydicom ECG (leads I, II, V1..V6), mV, 1000 Hz, R peak at 400 ms.

    The isoelectric level (TP segment before the P wave and after the T wave) is removed per lead.
    """
    import pydicom
    from pydicom.data import get_testdata_file

    wave = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm")).waveform_array(0) / 1000.0  # uV -> mV
    wave = wave[:, [0, 1, 6, 7, 8, 9, 10, 11]]
    peaks, _ = find_peaks(wave[:, 1], distance=300, height=0.5 * wave[:, 1].max())
    peaks = peaks[(peaks >= 400) & (peaks + 560 <= len(wave))]
    beat = np.median(np.stack([wave[p - 400 : p + 560] for p in peaks]), axis=0).T
    before = np.median(beat[:, (_T_SRC >= -400) & (_T_SRC <= -230)], axis=1, keepdims=True)
    after = np.median(beat[:, _T_SRC >= 400], axis=1, keepdims=True)
    frac = np.clip((_T_SRC + 315.0) / 795.0, 0.0, 1.0)
    return beat - (before + (after - before) * frac)


@dataclass(frozen=True)
class EcgPatient:
    patient_id: int
    age: int
    sex: int
    rotation: float  # frontal-axis rotation, degrees
    frontal_gain: float
    precordial_gain: np.ndarray  # (6,)
    precordial_mix: float  # electrode placement: blend with the neighbouring lead
    t_gain: float  # T-wave amplitude (normal variation overlaps flat T waves)
    early_repol: float  # benign ST elevation (mV) in V2-V4, 0 for most patients


def new_patient(rng: np.random.Generator, patient_id: int) -> EcgPatient:
    """Inter-patient variation: frontal axis, limb and chest voltages (log-normal: normal high voltage
    overlaps LVH), electrode placement, T-wave amplitude and benign early repolarisation."""
    voltage = float(np.exp(rng.normal(0.0, 0.15)))
    return EcgPatient(
        patient_id=patient_id,
        age=int(rng.integers(18, 90)),
        sex=int(rng.integers(0, 2)),
        rotation=float(rng.uniform(-40, 40)),
        frontal_gain=float(np.clip(np.exp(rng.normal(0.0, 0.18)), 0.55, 1.8)),
        precordial_gain=voltage * rng.uniform(0.8, 1.2, 6),
        precordial_mix=float(rng.uniform(-0.35, 0.35)),
        t_gain=float(rng.uniform(0.6, 1.3)),
        early_repol=float(rng.uniform(0.02, 0.06)) if rng.random() < 0.1 else 0.0,
    )


def patient_template(p: EcgPatient) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The real beat adapted to a patient (axis, gains), split into (P, QRS, ST-T) parts, each (8, 960)."""
    beat = real_beat_template().copy()
    # frontal plane: (I, aVF-direction) coordinates, rotated, projected back onto I and II
    x = beat[_I]
    y = (2 * beat[_II] - beat[_I]) / np.sqrt(3)
    a = np.deg2rad(p.rotation)
    xr, yr = x * np.cos(a) - y * np.sin(a), x * np.sin(a) + y * np.cos(a)
    beat[_I], beat[_II] = xr * p.frontal_gain, (xr / 2 + yr * np.sqrt(3) / 2) * p.frontal_gain
    prec = beat[2:]
    if p.precordial_mix >= 0:  # blend each V lead with its lateral (>=0) or medial (<0) neighbour
        shifted = np.concatenate([prec[1:], prec[-1:]])
    else:
        shifted = np.concatenate([prec[:1], prec[:-1]])
    m = abs(p.precordial_mix)
    beat[2:] = ((1 - m) * prec + m * shifted) * p.precordial_gain[:, None]
    up_qrs, up_t = _ramp(_T_SRC, -75, -55), _ramp(_T_SRC, 40, 60)
    p_mask = _ramp(_T_SRC, -260, -230) * (1 - up_qrs)
    qrs_mask = up_qrs * (1 - up_t)
    t_mask = up_t * (1 - _ramp(_T_SRC, 400, 440))
    return beat * p_mask, beat * qrs_mask, beat * t_mask * p.t_gain


def _beat(
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    width: float,
    qt: float,
    p_gain: float,
    qrs_gain: np.ndarray,
    t_gain: np.ndarray,
) -> np.ndarray:
    """(8, len(_T_BEAT)) beat: QRS time-stretched by ``width`` around R, P moved with the QRS onset,
    ST-T moved with the J point and time-scaled by ``qt``."""
    t = _T_BEAT
    tp, tq, tt = t + 50.0 * (width - 1.0), t / width, 50.0 + (t - 50.0 * width) / qt
    out = np.empty((8, t.size))
    for ch in range(8):
        out[ch] = (
            p_gain * np.interp(tp, _T_SRC, parts[0][ch], 0.0, 0.0)
            + qrs_gain[ch] * np.interp(tq, _T_SRC, parts[1][ch], 0.0, 0.0)
            + t_gain[ch] * np.interp(tt, _T_SRC, parts[2][ch], 0.0, 0.0)
        )
    return out


def _st_shape(width: float, qt: float, hold: float, end: float) -> np.ndarray:
    """ST-segment shift of height 1: rises at the J point, holds ``hold`` ms, gone by ``end`` ms (x qt)."""
    j = 50.0 * width
    return _ramp(_T_BEAT, j - 5, j + 20) * (1 - _ramp(_T_BEAT, j + hold * qt, j + end * qt))


def _some(rng: np.random.Generator, leads: list[int], p: float) -> list[int]:
    """A random non-empty subset of ``leads`` (each kept with probability ``p``)."""
    keep = [lead for lead in leads if rng.random() < p]
    return keep or [leads[int(rng.integers(len(leads)))]]


def _rr_series(rng: np.random.Generator, codes: set[str]) -> tuple[np.ndarray, float, float]:
    """R-peak times (s) covering the record, the mean RR (s) and the flutter-wave interval (s, AFLT only)."""
    flutter = 60.0 / rng.uniform(250, 320)
    if "AFLT" in codes:  # regular flutter waves; fixed 2:1 / 4:1 (regular rhythm) or variable AV block
        variable = rng.random() < 0.55
        ratios, p = ([2, 3, 4], [0.5, 0.3, 0.2]) if variable else ([int(rng.choice([2, 4]))], [1.0])
        mean = flutter * float(np.dot(ratios, p))

        def rr(t: float) -> float:
            return flutter * float(rng.choice(ratios, p=p))
    elif "AFIB" in codes:  # irregularly irregular, sometimes only mildly
        mean, spread = 60.0 / rng.uniform(65, 125), rng.uniform(0.08, 0.25)

        def rr(t: float) -> float:
            return float(np.clip(mean * np.exp(rng.normal(0.0, spread)), 0.33, 1.8))
    else:  # sinus: respiratory sinus arrhythmia + small jitter
        bpm = rng.uniform(105, 140) if "STACH" in codes else rng.uniform(38, 50) if "SBRAD" in codes else None
        mean = 60.0 / (bpm if bpm is not None else rng.uniform(55, 95))
        resp_period, phase, depth = rng.uniform(3.0, 6.0), rng.uniform(0, 2 * np.pi), rng.uniform(0.01, 0.07)

        def rr(t: float) -> float:
            return mean * (1 + depth * np.sin(2 * np.pi * t / resp_period + phase) + rng.normal(0.0, 0.01))

    # premature (ectopic) beats with a compensatory pause, in any rhythm
    ectopic = set(rng.integers(2, 14, int(rng.integers(1, 3)))) if rng.random() < 0.1 else set()
    times: list[float] = []
    t = float(rng.uniform(-0.3, 0.8 * mean))
    pause = 0.0
    while t < SECONDS + 0.4:
        times.append(t)
        if len(times) in ectopic:
            early = rr(t) * rng.uniform(0.6, 0.8)
            t, pause = t + early, 2 * mean - early
        else:
            t, pause = t + max(rr(t), pause), 0.0
    return np.array(times), mean, flutter


@dataclass
class _Morph:
    """One record's beat morphology, built finding by finding: QRS width and QT factors, per-lead QRS and
    T gains and added waves (8 independent leads)."""

    width: float
    qt: float
    qrs_gain: np.ndarray
    t_gain: np.ndarray
    extra: np.ndarray = field(default_factory=lambda: np.zeros((8, _T_BEAT.size)))

    def st(self, hold: float, end: float) -> np.ndarray:
        return _st_shape(self.width, self.qt, hold, end)


_LATERAL = [_V["V4"], _V["V5"], _V["V6"]]


def synthesize(
    rng: np.random.Generator,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    codes: set[str],
    early_repol: float = 0.0,
) -> np.ndarray:
    """(12, 5000) record in mV from a patient's beat parts (:func:`patient_template`) and SCP codes.

    Effects are deliberately small and variable (a finding is often visible in only some of its leads) and
    overlap the normal inter-patient variation, so the classes are learnable but not trivially separable.
    """
    n = FS * SECONDS
    t_sec = np.arange(n) / FS
    beat_times, mean_rr, flutter = _rr_series(rng, codes)
    m, paced, p_gain = _morphology(rng, codes, mean_rr)
    if early_repol:  # benign, in normal patients too: a confounder for anterior ST elevation
        leads = [_V["V2"], _V["V3"], _V["V4"]]
        m.extra[leads] += early_repol * rng.uniform(0.6, 1.2, (3, 1)) * m.st(60, 200)
    if "LVH" in codes:
        _lvh(rng, m)
    _infarcts(rng, codes, m)
    if "ISC_" in codes:
        _ischaemia(rng, m)
    if "NDT" in codes:
        idx = _some(rng, _LATERAL + [_I], 0.5)
        m.t_gain[idx] *= rng.uniform(0.15, 0.6) if rng.random() < 0.55 else -rng.uniform(0.1, 0.5)
    _conduction(rng, codes, m)
    p_gains = _p_gains(rng, codes, paced, p_gain, beat_times.size)
    x8 = _place_beats(rng, parts, m, beat_times, p_gains, n)
    if "AFIB" in codes:
        x8 += _fibrillation_waves(rng, t_sec)
    if "AFLT" in codes:
        x8 += _flutter_waves(rng, t_sec, flutter)
    _record_noise(rng, t_sec, x8)
    return derive_limb_leads(x8)


def _morphology(rng: np.random.Generator, codes: set[str], mean_rr: float) -> tuple[_Morph, bool, float]:
    """QRS width (bundle branch block, pacing), QT (rate-corrected) and gains; returns the morphology,
    whether the ventricles are paced and the P-wave gain."""
    width = {"CLBBB": rng.uniform(1.4, 1.6), "CRBBB": rng.uniform(1.3, 1.55), "IRBBB": rng.uniform(1.15, 1.3)}
    qrs_width = next((width[c] for c in ("CLBBB", "CRBBB", "IRBBB") if c in codes), rng.uniform(0.9, 1.12))
    paced = "PACE" in codes and rng.random() < 0.3  # ventricular pacing widens the QRS
    if paced:
        qrs_width = max(qrs_width, rng.uniform(1.2, 1.45))
    qt = float(np.clip(np.sqrt(mean_rr), 0.7, 1.2)) * rng.uniform(0.92, 1.08)
    p_gain = rng.uniform(0.6, 1.3)
    qrs_gain, t_gain = rng.uniform(0.92, 1.08, 8), rng.uniform(0.85, 1.15, 8)
    return _Morph(qrs_width, qt, qrs_gain, t_gain), paced, p_gain


def _lvh(rng: np.random.Generator, m: _Morph) -> None:
    """Left ventricular hypertrophy: high chest (and lead I) voltage, sometimes a lateral strain pattern."""
    m.qrs_gain[2:] *= rng.uniform(1.2, 1.8)
    m.qrs_gain[_I] *= rng.uniform(1.0, 1.3)
    if rng.random() < 0.3:  # strain pattern
        m.extra[_LATERAL] -= rng.uniform(0.02, 0.08) * m.st(100, 260)


def _infarcts(rng: np.random.Generator, codes: set[str], m: _Morph) -> None:
    """Anterior, anteroseptal and inferior infarcts: (sub)acute with ST elevation and Q waves in some, or
    old with Q waves and R loss, T inversion in some."""
    q_wave = gauss(_T_BEAT, -50 * m.width + 18, 9)
    for code, group in (("AMI", ("V2", "V3", "V4")), ("ASMI", ("V1", "V2", "V3")), ("IMI", ())):
        if code not in codes:
            continue
        acute = rng.random() < 0.55
        st = rng.uniform(0.1, 0.3) if acute else 0.0
        q = rng.uniform(0.15, 0.35) if not acute or rng.random() < 0.7 else 0.0
        t_inv = rng.uniform(0.1, 0.5) if rng.random() < 0.35 else 0.0
        if code == "IMI":  # along the inferior axis: II, III, aVF
            axis = frontal_weights(rng.uniform(60, 110))[:, None]
            m.extra[:2] += axis * (st * m.st(120, 320) - q * q_wave)
            m.extra[:2] -= axis * t_inv * m.st(180, 330)
            continue
        idx = _some(rng, [_V[v] for v in group], 0.85)
        shape = st * m.st(120, 320) - q * q_wave
        m.extra[idx] += rng.uniform(0.6, 1.2, (len(idx), 1)) * shape
        m.qrs_gain[idx] *= 1.0 - q * rng.uniform(0.5, 1.5)
        m.t_gain[idx] *= 1.0 - 4.0 * t_inv  # flattened (small t_inv) to inverted


def _ischaemia(rng: np.random.Generator, m: _Morph) -> None:
    """ST depression and flatter T waves in some lateral leads, and a little in the limb leads."""
    depth = rng.uniform(0.03, 0.15)
    idx = _some(rng, _LATERAL, 0.6)
    m.extra[idx] -= depth * m.st(100, 260)
    limb = depth * rng.uniform(0, 1) * frontal_weights(rng.uniform(-20, 40))[:, None]
    m.extra[:2] -= limb * m.st(100, 260)
    m.t_gain[idx] *= rng.uniform(0.5, 1.0)


def _conduction(rng: np.random.Generator, codes: set[str], m: _Morph) -> None:
    """Bundle branch blocks (terminal R' in V1-V2 / broad R in the lateral leads) and pacing spikes."""
    if codes & {"CRBBB", "IRBBB"}:
        amp = rng.uniform(0.15, 0.45) if "CRBBB" in codes else rng.uniform(0.05, 0.2)
        m.extra[[_V["V1"], _V["V2"]]] += amp * gauss(_T_BEAT, 35 * m.width, 12)
        m.extra[[_I, _V["V6"]]] -= 0.4 * amp * gauss(_T_BEAT, 35 * m.width, 14)
    if "CLBBB" in codes:
        m.extra[[_I, _V["V5"], _V["V6"]]] += rng.uniform(0.1, 0.3) * gauss(_T_BEAT, 20 * m.width, 14)
        m.extra[[_V["V1"], _V["V2"]]] -= rng.uniform(0.15, 0.4) * gauss(_T_BEAT, 20 * m.width, 14)
    if "PACE" in codes:
        spike = np.concatenate([frontal_weights(rng.uniform(0, 360)), rng.uniform(-1, 1, 6)])
        m.extra += rng.uniform(1.0, 2.5) * spike[:, None] * gauss(_T_BEAT, -50 * m.width - 6, 2.0)


def _p_gains(
    rng: np.random.Generator, codes: set[str], paced: bool, p_gain: float, n_beats: int
) -> np.ndarray:
    """Per-beat atrial activity: sinus P waves; none in flutter; in AFIB occasional P-like coarse f waves."""
    if "AFIB" in codes:
        p_like = rng.uniform(0.15, 0.45) if rng.random() < 0.3 else 0.0
        return p_like * (rng.random(n_beats) < 0.5) * rng.uniform(0.5, 1.0, n_beats)
    if "AFLT" in codes or (paced and rng.random() < 0.5):
        return np.zeros(n_beats)
    return p_gain * (1.0 + rng.normal(0.0, 0.05, n_beats))


def _place_beats(
    rng: np.random.Generator,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    m: _Morph,
    beat_times: np.ndarray,
    p_gains: np.ndarray,
    n: int,
) -> np.ndarray:
    """(8, n): one beat (slightly varying amplitude) at each R-peak time, with its P wave."""
    atrial = _beat(parts, m.width, m.qt, 1.0, np.zeros(8), np.zeros(8))
    beat = _beat(parts, m.width, m.qt, 0.0, m.qrs_gain, m.t_gain) + m.extra
    x8 = np.zeros((8, n))
    jitter = 1.0 + rng.normal(0.0, 0.03, beat_times.size)
    for r_time, gain, p_beat in zip(beat_times, jitter, p_gains, strict=True):
        r = int(round(r_time * FS))
        lo, hi = max(0, r - _R_INDEX), min(n, r - _R_INDEX + _T_BEAT.size)
        if hi > lo:
            sl = slice(lo - (r - _R_INDEX), hi - (r - _R_INDEX))
            x8[:, lo:hi] += gain * beat[:, sl] + p_beat * atrial[:, sl]
    return x8


def _fibrillation_waves(rng: np.random.Generator, t_sec: np.ndarray) -> np.ndarray:
    """(8, n) irregular f waves (three mixed sines, slowly modulated), largest in V1 and the inferior leads."""
    f = sum(
        rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * rng.uniform(4, 9) * t_sec + rng.uniform(0, 2 * np.pi))
        for _ in range(3)
    )
    f *= rng.uniform(0.015, 0.08) / 2.0 * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t_sec))
    weights = np.concatenate([frontal_weights(rng.uniform(60, 100)) * 0.6, [1.0, 0.6, 0.3, 0.2, 0.2, 0.2]])
    return weights[:, None] * f


def _flutter_waves(rng: np.random.Generator, t_sec: np.ndarray, flutter: float) -> np.ndarray:
    """(8, n) saw-tooth flutter waves every ``flutter`` s, negative in the inferior leads."""
    phase = (t_sec / flutter + rng.uniform()) % 1.0
    saw = np.where(phase < 0.8, 1 - 2 * phase / 0.8, -1 + 2 * (phase - 0.8) / 0.2)
    saw *= rng.uniform(0.05, 0.15)
    weights = np.concatenate([-frontal_weights(rng.uniform(80, 100)), [0.5, 0.3, 0.2, 0.1, 0.1, 0.1]])
    return weights[:, None] * saw


def _record_noise(rng: np.random.Generator, t_sec: np.ndarray, x8: np.ndarray) -> None:
    """In place, per record: gain, baseline wander, mains hum, white noise, muscle-noise bursts."""
    x8 *= rng.uniform(0.8, 1.2)
    wander = np.stack(
        [np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t_sec + rng.uniform(0, 2 * np.pi)) for _ in range(2)]
    )
    wander_amp = rng.uniform(0.0, 0.2) if rng.random() < 0.9 else rng.uniform(0.2, 0.5)
    x8 += rng.uniform(-1, 1, (8, 2)) * wander_amp @ wander
    if rng.random() < 0.3:
        x8 += rng.uniform(0.005, 0.03) * np.sin(2 * np.pi * 50.0 * t_sec + rng.uniform(0, 2 * np.pi))
    x8 += rng.normal(0.0, rng.uniform(0.005, 0.035), x8.shape)
    if rng.random() < 0.15:
        start, length = rng.uniform(0, SECONDS - 0.5), rng.uniform(0.5, 3.0)
        window = _ramp(t_sec, start, start + 0.1) * (1 - _ramp(t_sec, start + length, start + length + 0.1))
        scale = rng.uniform(0.02, 0.08) * rng.uniform(0.3, 1.0, (8, 1)) * window
        x8 += scale * rng.normal(0.0, 1.0, x8.shape)


def write_wfdb16(directory: Path, record_name: str, signal: np.ndarray, fs: int) -> None:
    """Write (T, 12) mV as WFDB format 16, gain 1000/mV, baseline 0: the bytes ``wfdb.wrsamp`` writes."""
    digital = np.clip(np.round(signal * 1000.0), -32767, 32767).astype("<i2")
    checksums = digital.astype(np.int64).sum(axis=0) % 65536
    lines = [f"{record_name} {digital.shape[1]} {fs} {digital.shape[0]}"]
    lines += [
        f"{record_name}.dat 16 1000.0(0)/mV 16 0 {digital[0, ch]} {checksums[ch]} 0 {name}"
        for ch, name in enumerate(LEADS)
    ]
    (directory / f"{record_name}.hea").write_text("\n".join(lines) + "\n", encoding="ascii")
    (directory / f"{record_name}.dat").write_bytes(digital.tobytes())


def _scp_codes(rng: np.random.Generator, classes: list[str]) -> dict[str, float]:
    """PTB-XL style scp_codes dict (code -> likelihood; rhythm statements have likelihood 0)."""
    if classes == ["NORM"]:
        return {"NORM": 100.0, "SR": 0.0}
    codes: dict[str, float] = {}
    for klass in classes:
        options, probs = CLASS_CODES[klass]
        if klass == "OTHER" and "AFIB" in classes:
            options, probs = ("PACE",), (1.0,)
        code = str(rng.choice(options, p=probs))
        likelihood = float(rng.choice([100.0, 80.0, 50.0], p=[0.6, 0.25, 0.15]))
        codes[code] = 0.0 if code in RHYTHM_CODES else likelihood
    diagnostic = {c: v for c, v in codes.items() if c not in RHYTHM_CODES}
    rhythm = {c: v for c, v in codes.items() if c in RHYTHM_CODES}
    if not rhythm:
        rhythm["SR"] = 0.0
    return {**diagnostic, **rhythm}


def _annotation_error(rng: np.random.Generator, codes: dict[str, float]) -> dict[str, float]:
    """The annotation of a record with one superclass wrong or missing (the signal keeps the true findings):
    a second finding missed, a finding missed (read as normal) or called as another class, a normal ECG
    over-read. NORM is never combined with another class, and every record keeps a label."""
    findings = [c for c in codes if c != "SR"]
    if findings == ["NORM"]:  # over-read normal ECG
        klass = str(rng.choice(NON_NORM, p=NON_NORM_WEIGHTS))
        return _scp_codes(rng, [klass])
    if len(findings) > 1:  # one of two findings missed
        drop = findings[int(rng.integers(len(findings)))]
        kept = {c: v for c, v in codes.items() if c != drop}
        return kept if set(kept) & (RHYTHM_CODES | {"SR"}) else {**kept, "SR": 0.0}
    if rng.random() < 0.5:  # missed: read as normal
        return _scp_codes(rng, ["NORM"])
    current = next(k for k, (options, _) in CLASS_CODES.items() if findings[0] in options)
    others = [k for k in NON_NORM if k != current]
    weights = NON_NORM_WEIGHTS[[NON_NORM.index(k) for k in others]]
    return _scp_codes(rng, [str(rng.choice(others, p=weights / weights.sum()))])


def write_ptbxl(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """Write ``n_records`` PTB-XL records (real layout) under ``root``; returns ``root``.

    Deterministic: the same arguments give byte-identical files. ``shuffle_labels`` permutes the annotation
    (``scp_codes`` and ``report``) across records after the signals are made: a negative control.
    """
    if n_records < 1:
        raise ValueError(f"n_records must be >= 1, got {n_records}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0])
    patients, folds, owners = _ptbxl_patients(rng, n_records)
    rows = []
    templates: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for i, owner in enumerate(owners):
        ecg_id = i + 1
        patient = patients[owner]
        true_codes = _scp_codes(rng, _record_classes(rng))
        codes = _annotation_error(rng, true_codes) if rng.random() < LABEL_NOISE else true_codes
        if owner not in templates:
            templates[owner] = patient_template(patient)
        signal = synthesize(
            np.random.default_rng([seed, 1, ecg_id]), templates[owner], set(true_codes), patient.early_repol
        )
        folder = _write_record(root, ecg_id, signal)
        second_record = bool(np.sum(owners[:i] == owner))
        rows.append(_database_row(rng, ecg_id, patient, second_record, codes, int(folds[owner]), folder))
    table = pd.DataFrame(rows).reindex(columns=list(DATABASE_COLUMNS))
    if shuffle_labels:
        order = np.random.default_rng([seed, 2]).permutation(len(table))
        table[["report", "scp_codes"]] = table[["report", "scp_codes"]].to_numpy()[order]
    statements = pd.DataFrame.from_dict(
        SCP_STATEMENTS,
        orient="index",
        columns=["description", "diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass"],
    )
    statements.to_csv(root / "scp_statements.csv", lineterminator="\n")
    table.to_csv(root / "ptbxl_database.csv", index=False, lineterminator="\n")
    logger.info("wrote %d PTB-XL records (%d patients) to %s", n_records, len(patients), root)
    return root


def _ptbxl_patients(
    rng: np.random.Generator, n_records: int
) -> tuple[list[EcgPatient], np.ndarray, np.ndarray]:
    """Patients (about 15% with two records), each patient's fold (1-10), and each record's patient."""
    n_pairs = int(round(0.15 * n_records)) if n_records >= 4 else 0  # patients with two records
    n_patients = n_records - n_pairs
    patient_ids = np.sort(rng.choice(np.arange(1, 21800), size=n_patients, replace=False))
    patients = [new_patient(rng, int(pid)) for pid in patient_ids]
    folds = np.empty(n_patients, dtype=int)
    folds[rng.permutation(n_patients)] = np.arange(n_patients) % 10 + 1
    second = rng.choice(n_patients, n_pairs, replace=False)  # patients with a second record
    owners = rng.permutation(np.concatenate([np.arange(n_patients), second]))
    return patients, folds, owners


def _record_classes(rng: np.random.Generator) -> list[str]:
    """A record's true superclasses: NORM, or one or two others (in NON_NORM order)."""
    if rng.random() < 0.4:
        return ["NORM"]
    k = 1 if rng.random() < 0.65 else 2
    picked = rng.choice(NON_NORM, size=k, replace=False, p=NON_NORM_WEIGHTS)
    return sorted((str(c) for c in picked), key=NON_NORM.index)


def _write_record(root: Path, ecg_id: int, signal: np.ndarray) -> str:
    """The record at 500 Hz (records500) and decimated to 100 Hz (records100); returns its folder name."""
    low_rate = signal.reshape(12, -1, FS // FS_LR).mean(axis=2)  # boxcar anti-alias + decimate
    folder = f"{ecg_id // 1000 * 1000:05d}"
    for rate, sub, suffix, x in ((FS, "records500", "hr", signal), (FS_LR, "records100", "lr", low_rate)):
        d = root / sub / folder
        d.mkdir(parents=True, exist_ok=True)
        write_wfdb16(d, f"{ecg_id:05d}_{suffix}", x.T, rate)
    return folder


def _database_row(
    rng: np.random.Generator,
    ecg_id: int,
    patient: EcgPatient,
    second_record: bool,
    codes: dict[str, float],
    fold: int,
    folder: str,
) -> dict:
    """One ptbxl_database.csv row (a patient's second record is a year older)."""
    start = datetime(1989, 1, 1)
    recorded = start + timedelta(minutes=int(rng.integers(0, 6_000_000)))
    return {
        "ecg_id": ecg_id,
        "patient_id": float(patient.patient_id),
        "age": float(patient.age + (1 if second_record else 0)),
        "sex": patient.sex,
        "device": "CS100    3",
        "recording_date": recorded.strftime("%Y-%m-%d %H:%M:%S"),
        "report": ", ".join(SCP_STATEMENTS[c][0] for c in codes),
        "scp_codes": repr(codes),
        "second_opinion": False,
        "initial_autogenerated_report": False,
        "validated_by_human": True,
        "strat_fold": fold,
        "filename_lr": f"records100/{folder}/{ecg_id:05d}_lr",
        "filename_hr": f"records500/{folder}/{ecg_id:05d}_hr",
    }
