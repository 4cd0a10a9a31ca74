"""EEG standardization: 10-20 channels picked by name, band-pass + notch filtered, resampled, one window cut.

A decoded EEG record is ``(channels, samples)`` in µV with props ``sampling_rate``, ``channel_names`` and
optionally ``window_offset`` (seconds from the first sample to the window start; the samples around the
window are margin for the filters) and ``window_seconds`` (the window the dataset indexed). Filtering is
zero-phase (Butterworth band-pass as second-order sections, IIR notch at the mains frequency, both applied
forwards and backwards), resampling polyphase; the stored window is float16 µV ``(channels, rate * seconds)``.

Channel names: :func:`electrode` maps a 10-10 or 10-20 electrode name, in any case, to TUH's 10-20 spelling
(T7 -> T3, T8 -> T4, P7 -> T5, P8 -> T6: the only 10-10 names with another 10-20 name); other 10-10 names
(FC5, CPZ...) are kept as they are, and anything else is not an electrode.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from scipy.signal import butter, filtfilt, iirnotch, resample_poly, sosfiltfilt

from climbflow.catalog.base import RecordError

MIN_SAMPLING_RATE = 100.0  # Hz; TUH records at 250-1000 Hz
BANDPASS_ORDER = 4
NOTCH_Q = 30.0
FLAT_PEAK_TO_PEAK_UV = 0.5  # a channel varying less than this over the window is a dead electrode
FLOAT16_MAX = 60000.0
UNIT = "uV"  # the unit decoded EEG signals are in
ALIASES = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}  # 10-10 -> TUH's 10-20 names
_ROWS = {  # 10-10 electrode rows (midline Z); plus the 10-20 temporal names, ear/mastoid and T1/T2
    "FP": "1 Z 2", "AF": "7 3 Z 4 8", "F": "9 7 5 3 1 Z 2 4 6 8 10", "FT": "9 7 8 10",
    "FC": "5 3 1 Z 2 4 6", "T": "9 7 3 5 1 2 4 6 8 10", "C": "5 3 1 Z 2 4 6", "TP": "9 7 8 10",
    "CP": "5 3 1 Z 2 4 6", "P": "9 7 5 3 1 Z 2 4 6 8 10", "PO": "7 3 Z 4 8", "O": "1 Z 2", "I": "Z",
    "A": "1 2", "M": "1 2", "N": "Z",
}  # fmt: skip
ELECTRODES = frozenset(row + pos for row, positions in _ROWS.items() for pos in positions.split())


def electrode(name: str) -> str | None:
    """``'t7'`` -> ``'T3'``, ``'Fc5'`` -> ``'FC5'``, ``'cz'`` -> ``'CZ'``; None if not a 10-10/10-20 name."""
    key = str(name).strip().upper()
    return ALIASES.get(key, key) if key in ELECTRODES else None


def _name(channel: str) -> str:
    return electrode(channel) or str(channel).strip().upper()


def _ratio(target_rate: float, sampling_rate: float) -> tuple[int, int]:
    frac = Fraction(target_rate).limit_denominator(1000) / Fraction(sampling_rate).limit_denominator(1000)
    return frac.numerator, frac.denominator


def standardize_eeg(
    signal: np.ndarray,
    sampling_rate: float,
    channel_names: list[str],
    cfg: Any,
    window_offset: float = 0.0,
    window_seconds: float | None = None,
) -> np.ndarray:
    """(channels, T) µV -> float32 (len(cfg.channels), round(cfg.sampling_rate * cfg.window_seconds)).

    RecordError rules: ``bad_shape``, ``bad_sampling_rate`` (not finite, below MIN_SAMPLING_RATE or too low
    for the band-pass), ``nonfinite``, ``window_mismatch`` (the dataset's window differs from
    ``cfg.window_seconds``), ``missing_channel``, ``flat_signal`` (a channel is flat over the window),
    ``too_short`` (the window is not fully in the signal).
    """
    x = np.asarray(signal)
    if x.ndim != 2 or x.shape[0] != len(channel_names):
        raise RecordError(
            "bad_shape",
            f"signal of shape {x.shape} does not match {len(channel_names)} channel names (channels, T)",
        )
    low, high = (float(f) for f in cfg.bandpass)
    rate = float(sampling_rate) if sampling_rate is not None else float("nan")
    if not np.isfinite(rate) or rate < MIN_SAMPLING_RATE or rate <= 2 * high:
        message = (
            f"sampling rate {sampling_rate!r} Hz (must be >= {MIN_SAMPLING_RATE:g} and > {2 * high:g} Hz)"
        )
        raise RecordError("bad_sampling_rate", message)
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise RecordError("nonfinite", f"{bad} NaN/inf samples in a signal of shape {x.shape}")
    if window_seconds is not None and abs(float(window_seconds) - cfg.window_seconds) > 1e-6:
        message = (
            f"the dataset indexed {window_seconds:g} s windows but standardize.eeg.window_seconds is "
            f"{cfg.window_seconds:g}; set the dataset option window_seconds to match"
        )
        raise RecordError("window_mismatch", message)
    index: dict[str, int] = {}
    for i, name in enumerate(channel_names):
        index.setdefault(_name(name), i)
    missing = [ch for ch in cfg.channels if _name(ch) not in index]
    if missing:
        raise RecordError(
            "missing_channel", f"channels {missing} not in the record's channels {list(channel_names)}"
        )
    picked = x[[index[_name(ch)] for ch in cfg.channels]].astype(np.float64)

    first = int(round(window_offset * rate))
    span = int(round(cfg.window_seconds * rate))
    if first < 0 or first + span > picked.shape[1] + 1:
        message = f"window {window_offset:.2f}+{cfg.window_seconds:g} s outside {picked.shape[1] / rate:.2f} s of signal"
        raise RecordError("too_short", message)
    ptp = np.ptp(picked[:, first : first + span], axis=1)
    if (ptp < FLAT_PEAK_TO_PEAK_UV).any():
        flat = [cfg.channels[i] for i in np.flatnonzero(ptp < FLAT_PEAK_TO_PEAK_UV)]
        raise RecordError(
            "flat_signal", f"channels {flat} are flat (peak-to-peak < {FLAT_PEAK_TO_PEAK_UV} µV)"
        )

    nyquist = rate / 2
    padlen = min(picked.shape[1] - 1, int(2 * rate))
    sos = butter(BANDPASS_ORDER, [low, high], btype="bandpass", fs=rate, output="sos")
    filtered = sosfiltfilt(sos, picked, axis=1, padlen=padlen)
    if cfg.notch is not None and 0 < cfg.notch < nyquist:
        b, a = iirnotch(cfg.notch, NOTCH_Q, fs=rate)
        filtered = filtfilt(b, a, filtered, axis=1, padlen=padlen)

    target = float(cfg.sampling_rate)
    up, down = _ratio(target, rate)
    resampled = resample_poly(filtered, up, down, axis=1) if up != down else filtered
    start = int(round(window_offset * target))
    length = int(round(target * cfg.window_seconds))
    out = np.zeros((len(cfg.channels), length), dtype=np.float32)
    piece = resampled[:, start : start + length]
    out[:, : piece.shape[1]] = piece  # at most a sample short (rounding at the recording's end)
    return np.clip(out, -FLOAT16_MAX, FLOAT16_MAX)


# --- modality interface (see climbflow.modalities) ---
EXPECTED_RAW = {"ndim": 2, "min_sampling_rate": MIN_SAMPLING_RATE}
DTYPE = np.float16


def sample_shape(cfg: Any) -> tuple[int, ...]:
    return (len(cfg.channels), int(round(cfg.sampling_rate * cfg.window_seconds)))


def standardize(raw: np.ndarray, props: dict, cfg: Any) -> np.ndarray:
    return standardize_eeg(
        raw,
        props.get("sampling_rate"),
        list(props.get("channel_names") or []),
        cfg,
        window_offset=float(props.get("window_offset", 0.0)),
        window_seconds=props.get("window_seconds"),
    )


def output_rate(cfg: Any) -> float:
    return float(cfg.sampling_rate)
