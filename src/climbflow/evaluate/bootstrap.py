"""Patient-level bootstrap confidence intervals.

Samples of one patient are correlated, so resampling is by patient (cluster bootstrap): each replicate
draws patients with replacement and takes all of their samples. ``paired_delta`` resamples the same
patients for two models scored on the same test split, which is what a "model A beats model B" claim needs.
Replicates in which a metric is undefined (e.g. a class kept by the point estimate has no positive left) are
invalid: they are left out of the percentiles and counted (``n_valid`` of ``n_boot``). A CI resting on fewer than
``MIN_VALID_FRACTION`` valid replicates is conditional on an unusual subset of resamples and is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MetricFn = Callable[[np.ndarray], dict[str, float]]  # rows of the test set -> {metric: value}
MIN_VALID_FRACTION = 0.8  # below this share of valid replicates a CI is flagged as unreliable


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n_valid: int  # replicates where the metric was defined
    n_boot: int = 0  # replicates drawn

    @property
    def valid_fraction(self) -> float:
        return self.n_valid / self.n_boot if self.n_boot else math.nan

    def to_dict(self) -> dict[str, float | int]:
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "n_valid": self.n_valid,
            "n_boot": self.n_boot,
        }


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
        return Interval(point, math.nan, math.nan, int(finite.size), len(values))
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return Interval(point, float(low), float(high), int(finite.size), len(values))


def valid_fraction(ci: dict[str, dict[str, float | int]] | None) -> float | None:
    """The smallest share of valid replicates over the CIs of a result (``None`` without CIs / counts)."""
    shares = [float(c["n_valid"]) / float(c["n_boot"]) for c in (ci or {}).values() if c.get("n_boot")]
    return min(shares) if shares else None


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
