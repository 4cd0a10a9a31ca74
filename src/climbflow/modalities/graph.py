"""Graph (brain connectivity) standardization: (N, N) correlation matrix -> float16 (N, N) Fisher-z features.

Row ``i`` of the stored matrix is node ``i``'s feature vector (its Fisher-z connectivity to every ROI); the
encoder builds edges from the same matrix (see :mod:`climbflow.models.graph`). ``|r|`` is clipped to
``cfg.max_abs_r`` before ``arctanh`` so the values stay finite, and the diagonal (self-correlation) is 0.
"""

from __future__ import annotations

import numpy as np

from climbflow.catalog.base import RecordError

SYMMETRY_TOL = 1e-3
RANGE_TOL = 1e-3


def standardize_graph(matrix: np.ndarray, nodes: int, max_abs_r: float) -> np.ndarray:
    """Validate an (N, N) correlation matrix and return float16 Fisher-z values with a zero diagonal.

    Raises :class:`RecordError`: ``bad_shape`` (not square), ``wrong_node_count`` (N != ``nodes``),
    ``nonfinite`` (NaN/inf), ``not_a_correlation`` (|r| > 1) or ``not_symmetric``.
    """
    r = np.asarray(matrix, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != r.shape[1]:
        raise RecordError("bad_shape", f"connectivity matrix of shape {r.shape}; expected square (N, N)")
    if r.shape[0] != nodes:
        raise RecordError(
            "wrong_node_count", f"{r.shape[0]} nodes; standardize.graph.nodes is {nodes} (atlas mismatch)"
        )
    finite = np.isfinite(r)
    if not finite.all():
        rows = sorted({int(i) for i in np.nonzero(~finite)[0]})
        raise RecordError("nonfinite", f"{int((~finite).sum())} NaN/inf entries (ROIs {rows[:10]})")
    if np.abs(r).max() > 1 + RANGE_TOL:
        raise RecordError("not_a_correlation", f"max |r| is {np.abs(r).max():.3f} (> 1)")
    asym = float(np.abs(r - r.T).max())
    if asym > SYMMETRY_TOL:
        raise RecordError("not_symmetric", f"max |r_ij - r_ji| is {asym:.4f}")
    z = np.arctanh(np.clip((r + r.T) / 2, -max_abs_r, max_abs_r))
    np.fill_diagonal(z, 0.0)
    return z.astype(np.float16)


# --- modality interface (see climbflow.modalities) ---
EXPECTED_RAW = {"ndim": 2, "min_dim": 2}
DTYPE = np.float16


def sample_shape(cfg) -> tuple[int, ...]:
    return (cfg.nodes, cfg.nodes)


def standardize(raw: np.ndarray, props: dict, cfg) -> np.ndarray:
    return standardize_graph(raw, cfg.nodes, cfg.max_abs_r)


def output_rate(cfg) -> None:
    return None
