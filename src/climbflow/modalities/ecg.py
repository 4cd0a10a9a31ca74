"""ECG standardization: leads reordered by name, polyphase resampling, crop/zero-pad to a fixed length.

No filtering and no amplitude normalization: the stored signal keeps its physical unit, :data:`UNIT` (readers
convert to it, see :mod:`climbflow.catalog.units`).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from climbflow.catalog.base import RecordError

UNIT = "mV"  # the unit decoded ECG signals are in
MIN_SAMPLING_RATE = 50.0  # Hz; below this a 12-lead diagnostic ECG is not meaningful
MIN_DURATION_FRACTION = 0.5  # records shorter than half the target duration are refused


def _ratio(target_rate: float, sampling_rate: float) -> tuple[int, int]:
    """(up, down) for resample_poly; rates are rationalised to a denominator of at most 1000."""
    frac = Fraction(target_rate).limit_denominator(1000) / Fraction(sampling_rate).limit_denominator(1000)
    return frac.numerator, frac.denominator


def standardize_ecg(
    signal: np.ndarray,
    sampling_rate: float,
    lead_names: list[str],
    target_rate: int,
    seconds: float,
    leads: list[str],
) -> np.ndarray:
    """(T, n_leads) raw signal -> float32 (len(leads), round(target_rate * seconds)).

    Leads are picked by case-insensitive name (``aVR`` == ``AVR``), resampled with
    :func:`scipy.signal.resample_poly`, then cropped (keeping the start) or zero-padded at the end.
    Raises :class:`RecordError` with rule ``bad_shape``, ``bad_sampling_rate``, ``non_finite``,
    ``missing_leads`` or ``too_short``.
    """
    x = np.asarray(signal)
    if x.ndim != 2 or x.shape[1] != len(lead_names):
        message = (
            f"signal of shape {x.shape} does not match {len(lead_names)} lead names; expected (T, leads)"
        )
        raise RecordError("bad_shape", message)
    rate = float(sampling_rate) if sampling_rate is not None else float("nan")
    if not np.isfinite(rate) or rate <= 0 or rate < MIN_SAMPLING_RATE:
        message = f"sampling rate {sampling_rate!r} Hz (must be >= {MIN_SAMPLING_RATE} Hz)"
        raise RecordError("bad_sampling_rate", message)
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise RecordError("non_finite", f"{bad} NaN/inf samples in a signal of shape {x.shape}")
    index = {str(name).strip().upper(): i for i, name in enumerate(lead_names)}
    missing = [lead for lead in leads if lead.upper() not in index]
    if missing:
        raise RecordError("missing_leads", f"leads {missing} not in the record's leads {list(lead_names)}")
    duration = x.shape[0] / rate
    if duration < MIN_DURATION_FRACTION * seconds:
        message = f"{duration:.2f} s recorded, at least {MIN_DURATION_FRACTION * seconds:.2f} s required"
        raise RecordError("too_short", message)
    picked = x[:, [index[lead.upper()] for lead in leads]].T.astype(np.float64)
    up, down = _ratio(target_rate, rate)
    if up != down:
        picked = resample_poly(picked, up, down, axis=1)
    length = int(round(target_rate * seconds))
    out = np.zeros((len(leads), length), dtype=np.float32)
    n = min(length, picked.shape[1])
    out[:, :n] = picked[:, :n]
    return out


# --- modality interface (see climbflow.modalities) ---
EXPECTED_RAW = {"ndim": 2, "min_sampling_rate": 100}
DTYPE = np.float16


def sample_shape(cfg) -> tuple[int, ...]:
    return (len(cfg.leads), int(round(cfg.sampling_rate * cfg.seconds)))


def standardize(raw: np.ndarray, props: dict, cfg) -> np.ndarray:
    return standardize_ecg(
        raw, props["sampling_rate"], props["lead_names"], cfg.sampling_rate, cfg.seconds, cfg.leads
    )


def output_rate(cfg) -> float:
    return float(cfg.sampling_rate)
