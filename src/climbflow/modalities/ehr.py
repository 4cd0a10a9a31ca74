"""EHR standardization: one admission's feature vector (physical units) -> float32 (F,) on a fixed scale.

This module is the one source of truth of the feature list (:data:`FEATURES`): the MIMIC-IV catalog builds
its vectors in this order, the EHR encoder groups them into tokens with :data:`FEATURE_GROUPS`. Every
transform is fixed (clinical reference values, not statistics fitted on the data, which would leak the test
split into training): values are clipped to a plausible range, skewed labs are log1p-transformed, then
``(x - normal) / scale`` and clipped to ``+-cfg.clip``. The catalog imputes a missing measurement with its
normal value (so the stored value is 0) and sets the measurement's ``_missing`` indicator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from climbflow.catalog.base import RecordError

STATS: tuple[str, ...] = ("last", "mean", "min", "max")


@dataclass(frozen=True)
class Measurement:
    """A lab (``labevents``/``d_labitems``) or vital sign (``chartevents``/``d_items``) of the feature list.

    ``itemids`` maps each MIMIC-IV item id to a (scale, offset) converting its unit into ``unit``;
    values outside ``plausible`` after conversion are charting errors and dropped.
    """

    name: str
    label: str  # for the text summary
    source: Literal["lab", "vital"]
    itemids: dict[int, tuple[float, float]]
    unit: str
    normal: float
    scale: float  # in log1p units when ``log``
    plausible: tuple[float, float]
    log: bool = False

    def convert(self, itemid: int, value: float) -> float:
        mul, add = self.itemids[itemid]
        return value * mul + add


_ID = (1.0, 0.0)
MEASUREMENTS: tuple[Measurement, ...] = (
    Measurement("lactate", "lactate", "lab", {50813: _ID}, "mmol/L", 1.2, 0.5, (0.1, 30.0), log=True),
    Measurement("creatinine", "creatinine", "lab", {50912: _ID}, "mg/dL", 0.9, 0.5, (0.1, 25.0), log=True),
    Measurement("bun", "urea nitrogen", "lab", {51006: _ID}, "mg/dL", 15.0, 0.5, (1.0, 250.0), log=True),
    Measurement("potassium", "potassium", "lab", {50971: _ID}, "mEq/L", 4.2, 0.6, (1.5, 10.0)),
    Measurement("sodium", "sodium", "lab", {50983: _ID}, "mEq/L", 139.0, 5.0, (100.0, 180.0)),
    Measurement("bicarbonate", "bicarbonate", "lab", {50882: _ID}, "mEq/L", 24.0, 4.0, (2.0, 60.0)),
    Measurement("glucose", "glucose", "lab", {50931: _ID}, "mg/dL", 110.0, 0.4, (10.0, 2000.0), log=True),
    Measurement("wbc", "white blood cells", "lab", {51301: _ID}, "K/uL", 8.0, 0.5, (0.1, 200.0), log=True),
    Measurement("hemoglobin", "hemoglobin", "lab", {51222: _ID}, "g/dL", 12.0, 2.0, (2.0, 25.0)),
    Measurement("platelets", "platelets", "lab", {51265: _ID}, "K/uL", 220.0, 0.6, (2.0, 2000.0), log=True),
    Measurement("heart_rate", "heart rate", "vital", {220045: _ID}, "bpm", 80.0, 15.0, (20.0, 300.0)),
    Measurement(
        "sbp", "systolic BP", "vital", {220050: _ID, 220179: _ID}, "mmHg", 120.0, 20.0, (30.0, 300.0)
    ),
    Measurement("resp_rate", "respiratory rate", "vital", {220210: _ID}, "/min", 16.0, 5.0, (2.0, 80.0)),
    Measurement("spo2", "SpO2", "vital", {220277: _ID}, "%", 97.0, 3.0, (40.0, 100.0)),
    Measurement(
        "temperature",
        "temperature",
        "vital",
        {223762: _ID, 223761: (5.0 / 9.0, -32.0 * 5.0 / 9.0)},  # Celsius; Fahrenheit converted
        "C",
        37.0,
        0.7,
        (30.0, 45.0),
    ),
)
ADMISSION_GROUPS: dict[str, tuple[str, ...]] = {
    "emergency": ("EW EMER.", "DIRECT EMER.", "EMERGENCY"),
    "urgent": ("URGENT",),
    "elective": ("ELECTIVE", "SURGICAL SAME DAY ADMISSION"),
    "observation": ("OBSERVATION ADMIT", "EU OBSERVATION", "DIRECT OBSERVATION", "AMBULATORY OBSERVATION"),
}
STATIC: tuple[str, ...] = ("age", "female", *(f"admission_{g}" for g in ADMISSION_GROUPS), "icu")
FEATURES: tuple[str, ...] = STATIC + tuple(f"{m.name}_{s}" for m in MEASUREMENTS for s in (*STATS, "missing"))
# token groups of the EHR encoder: the static features, then one group per measurement
FEATURE_GROUPS: tuple[tuple[int, ...], ...] = (tuple(range(len(STATIC))),) + tuple(
    tuple(range(len(STATIC) + 5 * k, len(STATIC) + 5 * k + 5)) for k in range(len(MEASUREMENTS))
)
AGE_CENTRE, AGE_SCALE, AGE_RANGE = 60.0, 18.0, (0.0, 100.0)


def admission_group(admission_type: str) -> str | None:
    """MIMIC-IV ``admission_type`` -> one of :data:`ADMISSION_GROUPS` (None when unknown)."""
    value = admission_type.strip().upper()
    return next((g for g, members in ADMISSION_GROUPS.items() if value in members), None)


def _transform_table() -> tuple[np.ndarray, ...]:
    """Per-feature (lo, hi, log, centre, scale) of the fixed transform."""
    lo, hi, log, centre, scale = [], [], [], [], []

    def add(a: float, b: float, is_log: bool, c: float, s: float) -> None:
        lo.append(a), hi.append(b), log.append(is_log), centre.append(c), scale.append(s)

    add(*AGE_RANGE, False, AGE_CENTRE, AGE_SCALE)
    for _ in STATIC[1:]:
        add(0.0, 1.0, False, 0.0, 1.0)
    for m in MEASUREMENTS:
        c = float(np.log1p(m.normal)) if m.log else m.normal
        for _ in STATS:
            add(*m.plausible, m.log, c, m.scale)
        add(0.0, 1.0, False, 0.0, 1.0)
    return tuple(np.asarray(v, dtype=np.float64) for v in (lo, hi, log, centre, scale))


_LO, _HI, _LOG, _CENTRE, _SCALE = _transform_table()
_LOG = _LOG.astype(bool)


def standardize_ehr(features: np.ndarray, clip: float) -> np.ndarray:
    """(F,) physical-unit vector in :data:`FEATURES` order -> float32 (F,) on the fixed scale."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 1 or x.shape[0] != len(FEATURES):
        raise RecordError(
            "wrong_feature_count", f"feature vector of shape {x.shape}; expected ({len(FEATURES)},)"
        )
    if not np.isfinite(x).all():
        bad = [FEATURES[i] for i in np.flatnonzero(~np.isfinite(x))]
        raise RecordError("nonfinite", f"NaN/inf in features {bad[:10]}")
    x = np.clip(x, _LO, _HI)
    x = np.where(_LOG, np.log1p(x), x)
    return np.clip((x - _CENTRE) / _SCALE, -clip, clip).astype(np.float32)


# --- modality interface (see climbflow.modalities) ---
EXPECTED_RAW = {"ndim": 1}
DTYPE = np.float32


def sample_shape(cfg) -> tuple[int, ...]:
    return (len(FEATURES),)


def standardize(raw: np.ndarray, props: dict, cfg) -> np.ndarray:
    return standardize_ehr(raw, cfg.clip)


def output_rate(cfg) -> None:
    return None
