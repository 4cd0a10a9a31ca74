"""Graph standardization: correlation matrix -> float16 Fisher-z node features."""

from __future__ import annotations

import numpy as np
import pytest

from climbflow import modalities
from climbflow.catalog.base import RecordError
from climbflow.config import GraphStandardizeConfig, StandardizeConfig


def _corr(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(80, n)) + rng.normal(size=(80, 1))
    return np.corrcoef(x, rowvar=False)


def _cfg(nodes: int) -> StandardizeConfig:
    return StandardizeConfig(graph=GraphStandardizeConfig(nodes=nodes))


def test_fisher_z_shape_dtype_and_diagonal():
    r = _corr(8)
    out = modalities.standardize("graph", r, {}, _cfg(8))
    assert out.shape == (8, 8) == modalities.sample_shape("graph", _cfg(8)) and out.dtype == np.float16
    np.testing.assert_allclose(
        out.astype(float), np.where(np.eye(8, dtype=bool), 0.0, np.arctanh(r)), atol=2e-3
    )
    np.testing.assert_array_equal(out, out.T)
    assert modalities.target_sampling_rate("graph", _cfg(8)) is None


def test_perfect_correlation_is_clipped_not_infinite():
    r = np.ones((4, 4))
    out = modalities.standardize(
        "graph", r, {}, StandardizeConfig(graph=GraphStandardizeConfig(nodes=4, max_abs_r=0.99))
    )
    off = out[~np.eye(4, dtype=bool)].astype(float)
    assert np.isfinite(out).all() and np.allclose(off, np.arctanh(0.99), atol=1e-2)


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda r: r[:7, :7], "wrong_node_count"),
        (lambda r: r[:, :7], "bad_shape"),
        (lambda r: np.where(np.arange(8) == 3, np.nan, r), "nonfinite"),
        (lambda r: r * 3.0, "not_a_correlation"),
        (lambda r: r + _asym(), "not_symmetric"),
    ],
)
def test_bad_matrices_raise(mutate, rule):
    with pytest.raises(RecordError) as err:
        modalities.standardize("graph", mutate(_corr(8) * 0.6), {}, _cfg(8))
    assert err.value.rule == rule


def _asym() -> np.ndarray:
    a = np.zeros((8, 8))
    a[0, 5] = 0.2
    return a
