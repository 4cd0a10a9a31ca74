"""standardize_ecg: lead order by name, polyphase resampling, fixed length, named errors."""

from __future__ import annotations

import numpy as np
import pytest

from climbflow.catalog.base import RecordError
from climbflow.modalities.ecg import standardize_ecg

LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
# a device that stores leads in another order and spells the augmented leads in mixed case
DEVICE_LEADS = ["V6", "V5", "V4", "V3", "V2", "V1", "aVF", "aVL", "aVR", "III", "II", "I"]


def _sines(rate: float, seconds: float, lead_names: list[str], freq: float = 5.0) -> np.ndarray:
    """(T, leads): lead k of LEADS is a ``freq`` Hz sine of amplitude k+1 (mV)."""
    t = np.arange(int(round(rate * seconds))) / rate
    amp = {name.upper(): LEADS.index(name.upper()) + 1.0 for name in lead_names}
    return np.stack([amp[name.upper()] * np.sin(2 * np.pi * freq * t) for name in lead_names], axis=1)


def test_resample_1000_to_500_reorders_leads_by_name() -> None:
    signal = _sines(1000.0, 10.0, DEVICE_LEADS)
    out = standardize_ecg(signal, 1000.0, DEVICE_LEADS, 500, 10.0, LEADS)
    assert out.shape == (12, 5000) and out.dtype == np.float32
    expected = np.sin(2 * np.pi * 5.0 * np.arange(5000) / 500.0)
    for k in range(12):  # amplitude k+1 identifies the lead; no normalization
        np.testing.assert_allclose(out[k, 100:-100], (k + 1) * expected[100:-100], atol=1e-2 * (k + 1))


def test_lead_names_case_insensitive_and_subset() -> None:
    signal = _sines(500.0, 10.0, DEVICE_LEADS)
    out = standardize_ecg(signal, 500, DEVICE_LEADS, 500, 10.0, ["aVR", "V1", "ii"])
    assert out.shape == (3, 5000)
    np.testing.assert_allclose(out[0], signal[:, DEVICE_LEADS.index("aVR")], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[2], signal[:, DEVICE_LEADS.index("II")], rtol=1e-6, atol=1e-6)


def test_non_integer_ratio_360_hz() -> None:
    signal = _sines(360.0, 10.0, LEADS)
    out = standardize_ecg(signal, 360.0, LEADS, 500, 10.0, LEADS)
    assert out.shape == (12, 5000)
    assert abs(float(np.abs(out[0, 200:-200]).max()) - 1.0) < 0.02


def test_long_record_is_cropped_short_record_zero_padded() -> None:
    long = _sines(500.0, 12.0, LEADS)
    out = standardize_ecg(long, 500, LEADS, 500, 10.0, LEADS)
    np.testing.assert_allclose(out, long[:5000].T.astype(np.float32))
    short = _sines(500.0, 6.0, LEADS)
    out = standardize_ecg(short, 500, LEADS, 500, 10.0, LEADS)
    assert out.shape == (12, 5000)
    np.testing.assert_allclose(out[:, :3000], short.T.astype(np.float32))
    assert not out[:, 3000:].any()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite(bad: float) -> None:
    signal = _sines(500.0, 10.0, LEADS)
    signal[10, 3] = bad
    with pytest.raises(RecordError) as err:
        standardize_ecg(signal, 500, LEADS, 500, 10.0, LEADS)
    assert err.value.rule == "non_finite"


def test_missing_leads_named() -> None:
    names = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4"]
    with pytest.raises(RecordError) as err:
        standardize_ecg(_sines(500.0, 10.0, names), 500, names, 500, 10.0, LEADS)
    assert err.value.rule == "missing_leads"
    assert "V5" in err.value.message and "V6" in err.value.message


@pytest.mark.parametrize("rate", [0.0, -500.0, 20.0, float("nan")])
def test_bad_sampling_rate(rate: float) -> None:
    with pytest.raises(RecordError) as err:
        standardize_ecg(_sines(500.0, 10.0, LEADS), rate, LEADS, 500, 10.0, LEADS)
    assert err.value.rule == "bad_sampling_rate"


def test_too_short() -> None:
    with pytest.raises(RecordError) as err:
        standardize_ecg(_sines(500.0, 4.0, LEADS), 500, LEADS, 500, 10.0, LEADS)
    assert err.value.rule == "too_short"
    # exactly half the target duration is still accepted
    assert standardize_ecg(_sines(500.0, 5.0, LEADS), 500, LEADS, 500, 10.0, LEADS).shape == (12, 5000)


def test_shape_must_match_lead_names() -> None:
    with pytest.raises(RecordError) as err:
        standardize_ecg(_sines(500.0, 10.0, LEADS).T, 500, LEADS, 500, 10.0, LEADS)
    assert err.value.rule == "bad_shape"
