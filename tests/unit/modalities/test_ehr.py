"""EHR standardization: fixed transform of the feature vector, one feature list."""

from __future__ import annotations

import numpy as np
import pytest

from climbflow import modalities
from climbflow.catalog.base import RecordError
from climbflow.config import EhrStandardizeConfig, StandardizeConfig
from climbflow.modalities import ehr
from climbflow.modalities.ehr import FEATURE_GROUPS, FEATURES, MEASUREMENTS, STATIC


def _normal_vector() -> np.ndarray:
    values = {"age": 60.0}
    for m in MEASUREMENTS:
        values |= {f"{m.name}_{s}": m.normal for s in ("last", "mean", "min", "max")}
    return np.array([values.get(name, 0.0) for name in FEATURES])


def test_feature_list_and_groups():
    assert len(set(FEATURES)) == len(FEATURES) == len(STATIC) + 5 * len(MEASUREMENTS)
    flat = sorted(i for g in FEATURE_GROUPS for i in g)
    assert flat == list(range(len(FEATURES))), "groups partition the features"
    assert all(
        FEATURES[i].startswith(m.name)
        for m, g in zip(MEASUREMENTS, FEATURE_GROUPS[1:], strict=True)
        for i in g
    )
    itemids = [i for m in MEASUREMENTS for i in m.itemids]
    assert len(itemids) == len(set(itemids))
    assert modalities.sample_shape("ehr", StandardizeConfig()) == (len(FEATURES),)


def test_normal_patient_maps_to_zero_and_shape_dtype():
    out = modalities.standardize("ehr", _normal_vector(), {}, StandardizeConfig())
    assert out.shape == (len(FEATURES),) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.0, atol=1e-6)
    assert modalities.target_sampling_rate("ehr", StandardizeConfig()) is None


def test_fixed_transform_log_linear_and_clip():
    x = _normal_vector()
    i_lac, i_na, i_age = FEATURES.index("lactate_last"), FEATURES.index("sodium_last"), FEATURES.index("age")
    x[i_lac], x[i_na], x[i_age] = 4.0, 149.0, 96.0
    out = ehr.standardize_ehr(x, clip=5.0)
    assert out[i_lac] == pytest.approx((np.log1p(4.0) - np.log1p(1.2)) / 0.5, rel=1e-5)
    assert out[i_na] == pytest.approx(2.0) and out[i_age] == pytest.approx(2.0)
    x[i_lac] = 1e6  # beyond plausible: clipped to 30 mmol/L, then to +-clip
    assert ehr.standardize_ehr(x, clip=5.0)[i_lac] == pytest.approx(
        min(5.0, (np.log1p(30) - np.log1p(1.2)) / 0.5)
    )
    assert ehr.standardize_ehr(x, clip=2.0)[i_lac] == pytest.approx(2.0)
    # per-sample: the result of one vector does not depend on any other vector (nothing fitted)
    np.testing.assert_array_equal(ehr.standardize_ehr(x, 5.0), ehr.standardize_ehr(x.copy(), 5.0))


@pytest.mark.parametrize(
    ("raw", "rule"), [(np.full(len(FEATURES), np.nan), "nonfinite"), (np.zeros(3), "wrong_feature_count")]
)
def test_bad_vectors_raise(raw, rule):
    with pytest.raises(RecordError) as err:
        ehr.standardize(raw, {}, EhrStandardizeConfig())
    assert err.value.rule == rule


def test_nonfinite_message_names_the_feature():
    x = _normal_vector()
    x[FEATURES.index("spo2_min")] = np.inf
    with pytest.raises(RecordError, match="spo2_min"):
        ehr.standardize_ehr(x, 5.0)
