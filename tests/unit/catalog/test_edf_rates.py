"""EDF signals at a second sampling rate: resampled to the record's rate (not dropped), or refused by name.

Oracle: every signal carries a known sine, so the decoded samples are checked against the formula at the
returned rate's time stamps, whatever rate the signal was written at.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from pyedflib import highlevel

from climbflow import modalities
from climbflow.catalog.base import RecordError, Rejected
from climbflow.catalog.tuab import TUAB
from climbflow.config import StandardizeConfig

FS = 250
SECONDS = 30
ELECTRODES = [
    "FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T3", "C3", "CZ", "C4", "T4", "T5", "P3", "PZ", "P4", "T6",
    "O1", "O2", "A1", "A2",
]  # fmt: skip
REL = "edf/train/normal/01_tcp_ar/aaaaaaaq_s001_t000.edf"


def wave(c: int, t: np.ndarray) -> np.ndarray:
    """Signal of electrode ``c`` (µV): a sine of 1 + c/4 Hz (well below every Nyquist) plus an offset."""
    return 40.0 * np.sin(2 * np.pi * (1.0 + c / 4) * t) + 10.0 * c


def write(root: Path, rates: dict[str, float]) -> Path:
    labels = [f"EEG {e}-REF" for e in ELECTRODES]
    fs = [rates.get(e, FS) for e in ELECTRODES]
    signals = [wave(c, np.arange(int(SECONDS * f)) / f) for c, f in enumerate(fs)]
    headers = [
        highlevel.make_signal_header(
            label, dimension="uV", sample_frequency=f, physical_min=-500, physical_max=500
        )
        for label, f in zip(labels, fs, strict=True)
    ]
    header = {
        "patientname": "aaaaaaaq",
        "sex": "F",
        "patient_additional": "Age:50",
        "startdate": datetime(2010, 1, 1),
    }
    path = root / REL
    path.parent.mkdir(parents=True)
    highlevel.write_edf(str(path), signals, headers, header, file_type=pyedflib.FILETYPE_EDF)
    return root


def _decode(root: Path, window: int = 1):
    records = [r for r in TUAB().index(root) if not isinstance(r, Rejected)]
    record = next(r for r in records if r.record_id.endswith(f"#{window}"))
    return record, TUAB().decode(root, record)


@pytest.mark.parametrize("other", [500.0, 256.0, 128.0])
def test_second_rate_resampled_not_dropped(tmp_path: Path, other: float) -> None:
    root = write(tmp_path, {"O1": other, "O2": other})
    _, (raw, props) = _decode(root)
    assert props["channel_names"] == ELECTRODES and props["sampling_rate"] == FS
    assert props["meta"]["resampled_channels"] == f"O1@{other:g}Hz,O2@{other:g}Hz"
    t = (10.0 - props["window_offset"]) + np.arange(raw.shape[1]) / FS  # time stamps of the returned samples
    inner = slice(FS, raw.shape[1] - FS)  # resampling edge effects stay in the filter margin
    for c, name in enumerate(ELECTRODES):
        np.testing.assert_allclose(raw[c, inner], wave(c, t[inner]), atol=0.5, err_msg=name)
    out = modalities.standardize("eeg", raw, props, StandardizeConfig())  # no missing_channel
    assert out.shape == (19, 2000) and np.isfinite(out).all()


def test_first_window_from_recording_start(tmp_path: Path) -> None:
    root = write(tmp_path, {"O1": 500.0})
    _, (raw, props) = _decode(root, window=0)
    assert props["window_offset"] == 0.0
    t = np.arange(raw.shape[1]) / FS
    inner = slice(FS // 2, raw.shape[1] - FS)
    np.testing.assert_allclose(raw[17, inner], wave(17, t[inner]), atol=0.5)


def test_channel_below_min_rate_refused_by_name(tmp_path: Path) -> None:
    root = write(tmp_path, {"CZ": 50.0})
    record = next(r for r in TUAB().index(root) if not isinstance(r, Rejected))
    with pytest.raises(RecordError) as err:
        TUAB().decode(root, record)
    assert err.value.rule == "bad_sampling_rate"
    assert "'EEG CZ-REF' at 50 Hz" in err.value.message and REL in err.value.message
