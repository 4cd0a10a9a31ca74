"""Patient-level bootstrap confidence intervals.

Samples of one patient are correlated, so resampling is by patient (cluster bootstrap): each replicate
draws patients with replacement and takes all of their samples. ``paired_delta`` resamples the same
patients for two models scored on the same test split, which is what a "model A beats model B" claim needs.
Replicates in which a metric is undefined (e.g. no positive left) are skipped and counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MetricFn = Callable[[np.ndarray], dict[str, float]]  # rows of the test set -> {metric: value}


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n_valid: int  # replicates where the metric was defined

    def to_dict(self) -> dict[str, float | int]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n_valid": self.n_valid}


def _clusters(groups: Sequence[Any]) -> list[np.ndarray]:
    _, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def _replicates(groups: Sequence[Any], n_boot: int, seed: int) -> list[np.ndarray]:
    clusters = _clusters(groups)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(clusters), size=(n_boot, len(clusters)))
    return [np.concatenate([clusters[i] for i in row]) for row in picks]


def _interval(point: float, values: list[float], level: float) -> Interval:
    finite = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if finite.size == 0 or math.isnan(point):
        return Interval(point, math.nan, math.nan, int(finite.size))
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return Interval(point, float(low), float(high), int(finite.size))


def bootstrap_ci(
    metric_fn: MetricFn,
    n_rows: int,
    groups: Sequence[Any],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Percentile CIs of every metric ``metric_fn(rows)`` returns, resampling the ``groups`` (patients)."""
    if len(groups) != n_rows:
        raise ValueError(f"{len(groups)} group ids for {n_rows} rows")
    point = metric_fn(np.arange(n_rows))
    samples: dict[str, list[float]] = {k: [] for k in point}
    for rows in _replicates(groups, n_boot, seed):
        for k, v in metric_fn(rows).items():
            samples[k].append(v)
    return {k: _interval(point[k], samples[k], level) for k in point}


def paired_delta(
    metric_a: MetricFn,
    metric_b: MetricFn,
    n_rows: int,
    groups: Sequence[Any],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """CIs of ``metric_a - metric_b`` on the same rows, both resampled with the same patients."""
    if len(groups) != n_rows:
        raise ValueError(f"{len(groups)} group ids for {n_rows} rows")
    everything = np.arange(n_rows)
    a0, b0 = metric_a(everything), metric_b(everything)
    keys = [k for k in a0 if k in b0]
    samples: dict[str, list[float]] = {k: [] for k in keys}
    for rows in _replicates(groups, n_boot, seed):
        a, b = metric_a(rows), metric_b(rows)
        for k in keys:
            samples[k].append(a[k] - b[k])
    return {k: _interval(a0[k] - b0[k], samples[k], level) for k in keys}
