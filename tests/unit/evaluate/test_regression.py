"""Regression metrics against scikit-learn / numpy on the same predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from climbflow.evaluate.regression import regression_metrics


def test_matches_sklearn_and_skips_unknown_truth() -> None:
    rng = np.random.default_rng(0)
    y = rng.uniform(20, 75, 200)
    pred = y + rng.normal(0, 5, 200)
    y_with_nan = y.copy()
    y_with_nan[:10] = np.nan
    m = regression_metrics(y_with_nan, pred.reshape(-1, 1))
    assert m["n"] == 190
    assert m["mae"] == pytest.approx(mean_absolute_error(y[10:], pred[10:]))
    assert m["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y[10:], pred[10:])))
    assert m["r2"] == pytest.approx(r2_score(y[10:], pred[10:]))
    assert m["pearson_r"] == pytest.approx(np.corrcoef(y[10:], pred[10:])[0, 1])


def test_degenerate_inputs_give_nan_not_errors() -> None:
    assert math.isnan(regression_metrics([np.nan, np.nan], [1.0, 2.0])["mae"])
    constant = regression_metrics([3.0, 3.0, 3.0], [1.0, 2.0, 3.0])
    assert constant["mae"] == pytest.approx(1.0) and math.isnan(constant["r2"])
    with pytest.raises(ValueError, match="shape"):
        regression_metrics(np.zeros((3, 2)), np.zeros((3, 2)))
