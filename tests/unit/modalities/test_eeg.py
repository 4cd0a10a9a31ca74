"""EEG standardization: channel picking, band-pass + notch, resampling, window cut, named refusals."""

from __future__ import annotations

import numpy as np
import pytest

from climbflow import modalities
from climbflow.catalog.base import RecordError
from climbflow.config import EegStandardizeConfig, StandardizeConfig
from climbflow.modalities import eeg

CFG = EegStandardizeConfig()
CHANNELS = list(CFG.channels)


def sines(rate: float, seconds: float, freqs: dict[float, float], n: int = 19, seed: int = 0) -> np.ndarray:
    """(n, T) sum of sines {frequency: amplitude µV} with per-channel phases plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(rate * seconds))) / rate
    x = np.zeros((n, t.size))
    for f, a in freqs.items():
        x += a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    return x + rng.normal(0, 0.5, x.shape)


def amplitude_at(x: np.ndarray, rate: float, f: float) -> float:
    """Mean over channels of the amplitude of the ``f`` Hz component (a whole number of cycles in x)."""
    t = np.arange(x.shape[1]) / rate
    return float(np.mean(2 * np.abs((x * np.exp(-2j * np.pi * f * t)).mean(axis=1))))


def test_interface() -> None:
    assert eeg.sample_shape(CFG) == (19, 2000)
    assert eeg.output_rate(CFG) == 200.0
    assert eeg.EXPECTED_RAW["ndim"] == 2 and eeg.EXPECTED_RAW["min_sampling_rate"] >= 100
    raw = sines(250, 10, {10: 20})
    out = modalities.standardize(
        "eeg", raw, {"sampling_rate": 250, "channel_names": CHANNELS}, StandardizeConfig()
    )
    assert out.shape == (19, 2000) and out.dtype == np.float16


@pytest.mark.parametrize("rate", [250.0, 256.0, 512.0, 1000.0])
def test_filters_and_resampling(rate: float) -> None:
    """Alpha passes at its amplitude; DC offset, slow drift and 60 Hz mains are removed; output at 200 Hz."""
    t = np.arange(int(rate * 15)) / rate
    raw = sines(rate, 15, {10.0: 20.0, 60.0: 30.0}) + 300.0 + 80.0 * np.sin(2 * np.pi * 0.05 * t)
    out = eeg.standardize_eeg(raw, rate, CHANNELS, CFG, window_offset=2.5)
    assert out.shape == (19, 2000) and out.dtype == np.float32
    assert abs(out.mean()) < 2.0  # DC and drift gone
    assert amplitude_at(out, 200, 10.0) == pytest.approx(20.0, rel=0.15)
    assert amplitude_at(out, 200, 60.0) < 1.0
    residual = out - eeg.standardize_eeg(
        sines(rate, 15, {10.0: 20.0}), rate, CHANNELS, CFG, window_offset=2.5
    )
    assert np.abs(residual).mean() < 2.0  # mains + drift removed almost entirely


def test_notch_and_band_edges() -> None:
    cfg = EegStandardizeConfig(notch=None, bandpass=(0.5, 80.0))
    raw = sines(500, 12, {60.0: 30.0})
    kept = eeg.standardize_eeg(raw, 500, CHANNELS, cfg, window_offset=1.0)
    assert np.abs(kept).max() > 20.0  # no notch, band up to 80 Hz: mains stays
    notched = eeg.standardize_eeg(
        raw, 500, CHANNELS, cfg.model_copy(update={"notch": 60.0}), window_offset=1.0
    )
    assert np.abs(notched[:, 200:-200]).max() < 3.0
    high = eeg.standardize_eeg(
        sines(250, 12, {45.0: 20.0, 90.0: 20.0}), 250, CHANNELS, CFG, window_offset=1.0
    )
    assert amplitude_at(high, 200, 90.0) < 0.5  # above the band (and above the new Nyquist)


def test_channels_by_name_and_window_cut() -> None:
    """Channels are picked by name (any case, 10-10 aliases) in the config's order; the window starts at
    ``window_offset``."""
    rate, n_extra = 250.0, 2
    names = [*reversed(CHANNELS), "EKG1", "A1"]
    names = ["T7" if c == "T3" else c.lower() for c in names]
    raw = sines(rate, 20, {10.0: 5.0}, n=19 + n_extra)
    level = np.array([10.0 * (i + 1) for i in range(19 + n_extra)])
    marker = np.zeros(raw.shape[1])
    marker[int(7.0 * rate) : int(7.5 * rate)] = 1.0  # a 0.5 s pulse starting 2 s into a window at 5 s
    raw = raw + level[:, None] * marker
    out = eeg.standardize_eeg(raw, rate, names, CFG, window_offset=5.0)
    pulse = out[:, 400:500].mean(axis=1) - out[:, 300:380].mean(axis=1)
    expected = np.array([level[names.index("T7" if c == "T3" else c.lower())] for c in CHANNELS])
    # channel k of the output is CHANNELS[k] (the high-pass shrinks the pulse alike on every channel)
    np.testing.assert_allclose(pulse / pulse.max(), expected / expected.max(), rtol=0.05)
    assert np.argmax(np.diff(out[0])) == pytest.approx(400, abs=5)  # pulse onset 2 s into the window


def test_output_is_deterministic_and_window_fits_exactly() -> None:
    raw = sines(250, 10, {8.0: 15.0})
    a = eeg.standardize_eeg(raw, 250, CHANNELS, CFG)
    np.testing.assert_array_equal(a, eeg.standardize_eeg(raw.copy(), 250, CHANNELS, CFG))
    assert np.abs(a[:, -10:]).max() > 0  # not zero padded at the end


@pytest.mark.parametrize(
    ("mutate", "props", "rule"),
    [
        (lambda x: np.where(np.arange(x.shape[1]) == 100, np.nan, x), {}, "nonfinite"),
        (lambda x: np.where(np.arange(x.shape[0])[:, None] == 3, np.inf, x), {}, "nonfinite"),
        (lambda x: np.where(np.arange(x.shape[0])[:, None] == 5, 12.0, x), {}, "flat_signal"),
        (lambda x: x, {"sampling_rate": 80.0}, "bad_sampling_rate"),
        (lambda x: x, {"sampling_rate": float("nan")}, "bad_sampling_rate"),
        (lambda x: x, {"sampling_rate": None}, "bad_sampling_rate"),
        (lambda x: x, {"channel_names": CHANNELS[:-1] + ["X1"]}, "missing_channel"),
        (lambda x: x, {"window_seconds": 5.0}, "window_mismatch"),
        (lambda x: x[:, :1000], {}, "too_short"),
        (lambda x: x[:5], {}, "bad_shape"),
        (lambda x: x[0], {}, "bad_shape"),
    ],
)
def test_refusals(mutate, props: dict, rule: str) -> None:
    raw = mutate(sines(250, 12, {10.0: 20.0}))
    base = {"sampling_rate": 250.0, "channel_names": CHANNELS, "window_offset": 1.0, "window_seconds": 10.0}
    with pytest.raises(RecordError) as err:
        eeg.standardize(raw, base | props, CFG)
    assert err.value.rule == rule


def test_missing_channel_message_names_channel() -> None:
    raw = sines(250, 10, {10.0: 20.0})
    names = [("X" if c == "PZ" else c) for c in CHANNELS]
    with pytest.raises(RecordError, match="PZ"):
        eeg.standardize_eeg(raw, 250, names, CFG)


def test_config_changes_shape() -> None:
    cfg = EegStandardizeConfig(
        sampling_rate=100, window_seconds=4.0, channels=["O1", "O2"], bandpass=(1.0, 30.0)
    )
    out = eeg.standardize_eeg(sines(250, 4, {10.0: 20.0}), 250, CHANNELS, cfg)
    assert out.shape == eeg.sample_shape(cfg) == (2, 400)
