"""A small deterministic ABIDE I (PCP, CC200) copy: phenotype csv + per-subject connectivity / ROI time series.

Each subject's BOLD time series come from a factor model over ``nodes`` ROIs placed in a brain-shaped
ellipsoid (two hemispheres): a global signal, 7 spatially clustered resting-state networks (each spanning
both hemispheres), a few long-range factors coupling distant ROI clusters, and ROI noise. Autism subjects
have the long-range loadings reduced (by 0-50%, mean ~25%; controls vary too), i.e. lower long-range
connectivity, the best replicated ABIDE finding; sites differ in noise level and global signal (a confound),
and finite scan length adds sampling noise to every correlation. Most subjects get a precomputed
``<FILE_ID>_cc200_correlation.npy``; about one in five the PCP time series ``rois_cc200/<FILE_ID>_rois_cc200.1D``
instead; ~3% of phenotype rows have FILE_ID ``no_filename`` (as in the real table).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from climbflow.catalog.abide import NO_FILENAME, NPY_SUFFIX, PHENOTYPE, ROIS_SUFFIX

logger = logging.getLogger(__name__)

SITES: tuple[tuple[str, str], ...] = (  # SITE_ID, FILE_ID prefix (real ABIDE I names)
    ("NYU", "NYU"),
    ("UM_1", "UM_1"),
    ("USM", "USM"),
    ("PITT", "Pitt"),
    ("KKI", "KKI"),
    ("LEUVEN_1", "Leuven_1"),
    ("YALE", "Yale"),
    ("CALTECH", "Caltech"),
)
N_NETWORKS = 7
N_LONG_RANGE = 6
FIRST_SUB_ID = 50002
ROIS_FRACTION = 0.1
NO_FILENAME_FRACTION = 0.03
PHENOTYPE_COLUMNS: tuple[str, ...] = (
    "SUB_ID",
    "X",
    "subject",
    "SITE_ID",
    "FILE_ID",
    "DX_GROUP",
    "DSM_IV_TR",
    "AGE_AT_SCAN",
    "SEX",
    "HANDEDNESS_CATEGORY",
    "FIQ",
    "func_mean_fd",
)


def _atlas(rng: np.random.Generator, nodes: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """ROI centres (nodes, 3) in mm, network of each ROI, and the ROI sets of the long-range factors."""
    pts = rng.normal(size=(nodes, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    pts *= rng.uniform(0.3, 1.0, (nodes, 1)) ** (1 / 3)
    pts *= np.array([70.0, 95.0, 65.0])  # x left-right, y anterior-posterior, z
    centres = np.abs(pts[rng.choice(nodes, N_NETWORKS, replace=False)])
    dist = np.linalg.norm(np.abs(pts)[:, None] - centres[None], axis=2)  # mirror: networks span hemispheres
    network = dist.argmin(axis=1)
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    k = max(4, nodes // 15)
    long_range = []
    for _ in range(N_LONG_RANGE):
        a = int(rng.integers(nodes))
        b = int(rng.choice(np.flatnonzero(d[a] >= np.quantile(d[a], 0.8))))
        long_range.append(np.concatenate([np.argsort(d[a])[:k], np.argsort(d[b])[:k]]))
    return pts, network, long_range


def _time_series(
    rng: np.random.Generator,
    network: np.ndarray,
    long_range: list[np.ndarray],
    reduction: float,
    site_noise: float,
    site_global: float,
    timepoints: int,
) -> np.ndarray:
    """(timepoints, nodes) BOLD-like series of one subject."""
    nodes = network.size
    loadings = [site_global * rng.uniform(0.6, 1.4) * rng.uniform(0.5, 1.0, nodes)]
    for net in range(N_NETWORKS):
        member = network == net
        loadings.append(np.where(member, rng.uniform(0.5, 1.1, nodes), rng.normal(0, 0.05, nodes)))
    for rois in long_range:
        lam = np.zeros(nodes)
        lam[rois] = rng.uniform(0.6, 1.1, rois.size) * (1.0 - reduction)
        loadings.append(lam)
    lam = np.stack(loadings, axis=1)  # (nodes, factors)
    factors = rng.normal(size=(timepoints, lam.shape[1]))
    kernel = np.exp(-np.arange(6) / 2.0)  # slow haemodynamics: smooth the latent factors in time
    factors = np.apply_along_axis(lambda f: np.convolve(f, kernel, mode="same"), 0, factors)
    noise = rng.normal(size=(timepoints, nodes)) * site_noise * rng.uniform(0.8, 1.25, nodes)
    return (factors @ lam.T + noise) * rng.uniform(50, 150, nodes) + rng.uniform(-5, 5, nodes)


def write_abide(
    root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False, nodes: int = 200
) -> Path:
    """Write ``n_records`` phenotype rows (and their connectivity files) under ``root``; returns ``root``.

    ``nodes`` is the atlas size (200 for CC200; tests use fewer). ``shuffle_labels`` permutes DX_GROUP
    across subjects after the data are made (negative control). Same arguments -> byte-identical files.
    """
    if n_records < 2:
        raise ValueError(f"n_records must be >= 2, got {n_records}")
    root = Path(root)
    (root / "rois_cc200").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0])
    _, network, long_range = _atlas(np.random.default_rng([seed, 1]), nodes)
    site_params = {s: (rng.uniform(0.5, 1.0), rng.uniform(0.3, 0.7)) for s, _ in SITES}
    rows = []
    per_site: dict[str, int] = {}
    for i in range(n_records):
        site, prefix = SITES[int(rng.integers(len(SITES)))]
        sub_id = FIRST_SUB_ID + i
        autism = rng.random() < 0.48
        male = rng.random() < (0.87 if autism else 0.8)
        per_site[site] = per_site.get(site, 0) + 1
        file_id = f"{prefix}_{sub_id:07d}"
        kind = rng.random()
        if kind < NO_FILENAME_FRACTION and i > 0:
            file_id = NO_FILENAME
        else:
            reduction = float(
                np.clip(rng.normal(0.25, 0.12), 0.0, 0.5)
                if autism
                else np.clip(rng.normal(0.02, 0.08), 0, 0.3)
            )
            noise, glob = site_params[site]
            srng = np.random.default_rng([seed, 2, sub_id])
            series = _time_series(
                srng, network, long_range, reduction, noise, glob, int(srng.integers(120, 200))
            )
            if kind < NO_FILENAME_FRACTION + ROIS_FRACTION:
                header = "\t".join(f"#{k + 1}" for k in range(nodes))
                np.savetxt(
                    root / "rois_cc200" / f"{file_id}{ROIS_SUFFIX}",
                    series,
                    fmt="%.3f",
                    delimiter="\t",
                    header=header,
                    comments="",
                )
            else:
                np.save(root / f"{file_id}{NPY_SUFFIX}", np.corrcoef(series, rowvar=False).astype(np.float32))
        rows.append(
            {
                "SUB_ID": sub_id,
                "X": i + 1,
                "subject": sub_id,
                "SITE_ID": site,
                "FILE_ID": file_id,
                "DX_GROUP": 1 if autism else 2,
                "DSM_IV_TR": int(rng.integers(1, 4)) if autism else 0,
                "AGE_AT_SCAN": round(float(np.clip(rng.lognormal(np.log(15), 0.35), 6.5, 58)), 2),
                "SEX": 1 if male else 2,
                "HANDEDNESS_CATEGORY": "R" if rng.random() < 0.88 else "L",
                "FIQ": int(np.clip(rng.normal(104 if autism else 111, 15), 60, 150)),
                "func_mean_fd": round(float(rng.gamma(2.0, 0.05)), 6),
            }
        )
    table = pd.DataFrame(rows, columns=list(PHENOTYPE_COLUMNS))
    if shuffle_labels:
        order = np.random.default_rng([seed, 3]).permutation(len(table))
        table[["DX_GROUP", "DSM_IV_TR"]] = table[["DX_GROUP", "DSM_IV_TR"]].to_numpy()[order]
    table.index += 1
    table.to_csv(root / PHENOTYPE, index_label="", lineterminator="\n")
    logger.info("wrote %d ABIDE subjects (%d nodes) to %s", n_records, nodes, root)
    return root
