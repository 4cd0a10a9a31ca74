"""2D image standardization: grayscale, aspect-preserving resize, symmetric zero-pad to a square."""

from __future__ import annotations

import numpy as np
from PIL import Image

from climbflow.catalog.base import RecordError


def to_uint8_gray(img: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array of any numeric dtype -> uint8 (H, W).

    Colour is converted with PIL's ITU-R 601-2 luma; non-uint8 data is min-max scaled to 0..255.
    """
    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        pass
    elif arr.ndim != 2:
        raise RecordError("bad_shape", f"image of shape {arr.shape}; expected (H, W) or (H, W, 3)")
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise RecordError("bad_shape", f"image of shape {arr.shape} is empty or one pixel wide")
    if arr.dtype != np.uint8:
        data = np.nan_to_num(arr.astype(np.float64))
        lo, hi = float(data.min()), float(data.max())
        arr = (
            ((data - lo) / (hi - lo) * 255.0).round().astype(np.uint8)
            if hi > lo
            else np.zeros(arr.shape, np.uint8)
        )
    if arr.ndim == 3:
        if arr.shape[2] == 1:
            arr = arr[:, :, 0]
        else:
            arr = np.asarray(Image.fromarray(np.ascontiguousarray(arr[:, :, :3]), "RGB").convert("L"))
    return np.ascontiguousarray(arr)


def standardize_image(img: np.ndarray, size: int) -> np.ndarray:
    """uint8 (1, size, size): longer side resized to ``size`` (bilinear, antialiased), shorter side
    resized by the same factor and zero-padded symmetrically (extra pixel at the bottom/right)."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    gray = to_uint8_gray(img)
    h, w = gray.shape
    scale = size / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    if (new_h, new_w) != (h, w):
        gray = np.asarray(Image.fromarray(gray, "L").resize((new_w, new_h), Image.Resampling.BILINEAR))
    out = np.zeros((1, size, size), dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[0, top : top + new_h, left : left + new_w] = gray
    return out
