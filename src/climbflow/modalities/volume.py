"""CT volume standardization: HU window -> 0..255, resample to ``(depth, size, size)``, uint8 ``(1, D, S, S)``.

The window maps ``level - width/2 .. level + width/2`` HU linearly to 0..255 (clipped). The scan axis (D) is
resampled to exactly ``depth`` slices whatever the scan length. In-plane, the physical field of view keeps its
aspect (from the pixel spacing in ``props["spacing"]``): its longer side is resized to ``size`` and the other
side is zero-padded symmetrically (0 = below the window, i.e. air). Large reductions first average integer
blocks (anti-aliasing, and far less memory than interpolating a 512x512xN volume), then
:func:`scipy.ndimage.zoom` (linear) hits the exact shape. The original shape and spacing are recorded by the
dataset's ``decode`` in the manifest's meta.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import zoom

from climbflow.catalog.base import RecordError


def window(hu: np.ndarray, level: float, width: float) -> np.ndarray:
    """HU -> float32 0..255 through the window (``level``, ``width``)."""
    if width <= 0:
        raise ValueError(f"window width must be > 0, got {width}")
    lo = level - width / 2.0
    out = (np.asarray(hu, dtype=np.float32) - np.float32(lo)) * np.float32(255.0 / width)
    return np.clip(out, 0.0, 255.0, out=out)


def _block_mean(vol: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Average non-overlapping blocks of ``factors`` voxels (the remainder at each far edge is dropped)."""
    if factors == (1, 1, 1):
        return vol
    d, h, w = (n // f * f for n, f in zip(vol.shape, factors, strict=True))
    cut = vol[:d, :h, :w]
    fd, fh, fw = factors
    return cut.reshape(d // fd, fd, h // fh, fh, w // fw, fw).mean(axis=(1, 3, 5), dtype=np.float32)


def _resize(vol: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    factors = tuple(max(1, n // m) for n, m in zip(vol.shape, shape, strict=True))
    vol = _block_mean(vol, factors)  # type: ignore[arg-type]
    if vol.shape == shape:
        return vol
    ratios = [m / n for m, n in zip(shape, vol.shape, strict=True)]
    out = zoom(vol, ratios, order=1, mode="nearest", prefilter=False, grid_mode=True)
    if out.shape != shape:  # zoom rounds the output shape; fix any off-by-one
        fixed = np.zeros(shape, np.float32)
        d, h, w = (min(a, b) for a, b in zip(shape, out.shape, strict=True))
        fixed[:d, :h, :w] = out[:d, :h, :w]
        out = fixed
    return out


def standardize_volume(
    hu: np.ndarray,
    spacing: tuple[float, float, float] | None,
    depth: int,
    size: int,
    level: float,
    width: float,
) -> np.ndarray:
    """``(D, H, W)`` HU volume -> uint8 ``(1, depth, size, size)``; ``spacing`` (mm, D/H/W) or None = isotropic.

    Raises :class:`RecordError` ``bad_shape`` (not 3D, empty) or ``nonfinite``.
    """
    vol = np.asarray(hu)
    if vol.ndim != 3 or min(vol.shape) < 1:
        raise RecordError("bad_shape", f"volume of shape {vol.shape}; expected (D, H, W)")
    if not np.isfinite(vol).all():
        raise RecordError("nonfinite", f"{int((~np.isfinite(vol)).sum())} NaN/inf voxels")
    sy, sx = (1.0, 1.0) if spacing is None else (float(spacing[1]), float(spacing[2]))
    if not (math.isfinite(sy) and math.isfinite(sx) and sy > 0 and sx > 0):
        raise RecordError("bad_spacing", f"pixel spacing {spacing} is not positive")
    h_mm, w_mm = vol.shape[1] * sy, vol.shape[2] * sx
    scale = size / max(h_mm, w_mm)
    new_h = min(size, max(1, round(h_mm * scale)))
    new_w = min(size, max(1, round(w_mm * scale)))
    resized = _resize(window(vol, level, width), (depth, new_h, new_w))
    out = np.zeros((1, depth, size, size), dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[0, :, top : top + new_h, left : left + new_w] = np.clip(resized.round(), 0, 255).astype(np.uint8)
    return out


# --- modality interface (see climbflow.modalities) ---
EXPECTED_RAW = {"ndim": 3, "min_dim": 2}  # (D, H, W) HU
DTYPE = np.uint8


def sample_shape(cfg) -> tuple[int, ...]:
    return (1, cfg.depth, cfg.size, cfg.size)


def standardize(raw: np.ndarray, props: dict, cfg) -> np.ndarray:
    return standardize_volume(
        raw, props.get("spacing"), cfg.depth, cfg.size, cfg.window_level, cfg.window_width
    )


def output_rate(cfg) -> None:
    return None
