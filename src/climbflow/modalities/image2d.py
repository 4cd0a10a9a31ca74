"""2D image standardization: RGB (or luma), aspect-preserving resize, symmetric zero-pad to a square."""

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


def to_uint8_rgb(img: np.ndarray) -> np.ndarray:
    """Like :func:`to_uint8_gray` but keeps colour: -> uint8 (H, W, 3); grayscale is replicated."""
    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] in (3, 4) and arr.shape[0] >= 2 and arr.shape[1] >= 2:
        rgb = arr[:, :, :3]
        if rgb.dtype != np.uint8:
            data = np.nan_to_num(rgb.astype(np.float64))
            lo, hi = float(data.min()), float(data.max())
            rgb = ((data - lo) / (hi - lo) * 255.0).round() if hi > lo else np.zeros(rgb.shape)
        return np.ascontiguousarray(rgb.astype(np.uint8))
    return np.repeat(to_uint8_gray(arr)[:, :, None], 3, axis=2)


def standardize_image(img: np.ndarray, size: int, channels: int = 1) -> np.ndarray:
    """uint8 (channels, size, size): longer side resized to ``size`` (bilinear, antialiased), shorter side
    resized by the same factor and zero-padded symmetrically (extra pixel at the bottom/right).
    ``channels`` 1 = luma, 3 = RGB (grayscale inputs replicated)."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    arr = np.asarray(img)
    colour = channels == 3 and arr.ndim == 3 and arr.shape[2] in (3, 4)
    # grayscale is resized once and replicated afterwards (3x less work than resizing an RGB copy)
    pixels = to_uint8_rgb(arr) if colour else to_uint8_gray(arr)
    h, w = pixels.shape[:2]
    scale = size / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    if (new_h, new_w) != (h, w):
        image = Image.fromarray(pixels, "RGB" if colour else "L")
        pixels = np.asarray(image.resize((new_w, new_h), Image.Resampling.BILINEAR))
    planes = pixels.transpose(2, 0, 1) if colour else pixels[None]
    out = np.zeros((channels, size, size), dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[:, top : top + new_h, left : left + new_w] = planes
    return out


# --- modality interface (see climbflow.modalities) ---
EXPECTED_RAW = {"min_dim": 32}  # (H, W) or (H, W, 3)
DTYPE = np.uint8


def sample_shape(cfg) -> tuple[int, ...]:
    return (cfg.channels, cfg.size, cfg.size)


def standardize(raw: np.ndarray, props: dict, cfg) -> np.ndarray:
    return standardize_image(raw, cfg.size, cfg.channels)


def output_rate(cfg) -> None:
    return None
