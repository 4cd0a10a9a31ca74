"""Regression metrics (EchoNet EF, MIMIC-IV length of stay): MAE first, as CLIMB reports it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """``{"task": "regression", "n", "mae", "rmse", "r2", "pearson_r"}`` over rows whose truth is known.

    ``y_true`` / ``y_pred``: ``(n,)`` or ``(n, 1)``; NaN truth rows are skipped. Values are NaN when no
    row (or, for r2 / pearson_r, no variance) is left.
    """
    yt = np.asarray(y_true, dtype=float).reshape(len(y_true), -1)
    yp = np.asarray(y_pred, dtype=float).reshape(len(y_pred), -1)
    if yt.shape != yp.shape or yt.shape[1:] not in ((1,), ()):
        raise ValueError(f"y_true {yt.shape} and y_pred {yp.shape} must be the same (n,) or (n, 1) shape")
    yt, yp = yt[:, 0], yp[:, 0]
    known = ~np.isnan(yt)
    yt, yp = yt[known], yp[known]
    n = int(yt.size)
    if n == 0:
        return {
            "task": "regression",
            "n": 0,
            "mae": math.nan,
            "rmse": math.nan,
            "r2": math.nan,
            "pearson_r": math.nan,
        }
    err = yp - yt
    ss_tot = float(((yt - yt.mean()) ** 2).sum())
    r2 = 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else math.nan
    sd = float(yt.std()) * float(yp.std())
    r = float(((yt - yt.mean()) * (yp - yp.mean())).mean()) / sd if sd > 0 else math.nan
    return {
        "task": "regression",
        "n": n,
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "r2": r2,
        "pearson_r": r,
    }
