"""Video standardization: ``frames`` frames sampled uniformly over the clip, each resized to a square.

Frame ``i`` of ``T`` is the source frame at the centre of the ``i``-th of ``T`` equal segments of the clip
(``floor((i + 0.5) * n / T)``), so the first and last frames are not favoured (CLIMB samples uniformly,
ends excluded, at evaluation). A clip shorter than ``T`` frames is repeat-padded: it is played in a loop
(``i % n``), which keeps its frame rate and never produces blank frames. Each frame then goes through
:func:`climbflow.modalities.image2d.standardize_image` (aspect-preserving resize, symmetric zero pad).
Non-uint8 clips are min-max scaled to 0..255 over the whole clip (not per frame) first.
"""

from __future__ import annotations

import numpy as np

from climbflow.catalog.base import RecordError
from climbflow.modalities.image2d import standardize_image


def frame_indices(n_frames: int, frames: int) -> np.ndarray:
    """Source frame index of each of ``frames`` output frames for a clip of ``n_frames`` frames."""
    if n_frames < 1 or frames < 1:
        raise ValueError(f"need at least one frame, got n_frames={n_frames}, frames={frames}")
    if n_frames < frames:
        return np.arange(frames) % n_frames
    return np.floor((np.arange(frames) + 0.5) * n_frames / frames).astype(np.int64)


def _as_uint8(clip: np.ndarray) -> np.ndarray:
    if clip.dtype == np.uint8:
        return clip
    if not np.isfinite(clip).all():
        raise RecordError("non_finite", f"{int((~np.isfinite(clip)).sum())} NaN/inf values in the clip")
    data = clip.astype(np.float64)
    lo, hi = float(data.min()), float(data.max())
    if hi <= lo:
        return np.zeros(clip.shape, np.uint8)
    return ((data - lo) / (hi - lo) * 255.0).round().astype(np.uint8)


def standardize_video(clip: np.ndarray, frames: int, size: int, channels: int = 1) -> np.ndarray:
    """``(T, H, W)`` or ``(T, H, W, C)`` clip (C = 1, 3 or 4) -> uint8 ``(frames, channels, size, size)``.

    Raises :class:`RecordError` ``bad_shape`` (wrong rank, no frames, frames under 2x2) or ``non_finite``.
    """
    arr = np.asarray(clip)
    if arr.ndim == 4 and arr.shape[3] not in (1, 3, 4):
        raise RecordError("bad_shape", f"clip of shape {arr.shape}; expected (T, H, W) or (T, H, W, 1|3|4)")
    if arr.ndim not in (3, 4):
        raise RecordError("bad_shape", f"clip of shape {arr.shape}; expected (T, H, W) or (T, H, W, C)")
    if arr.shape[0] == 0:
        raise RecordError("bad_shape", f"clip of shape {arr.shape} has no frames")
    if arr.shape[1] < 2 or arr.shape[2] < 2:
        raise RecordError("bad_shape", f"clip of shape {arr.shape}: frames smaller than 2x2")
    picked = _as_uint8(arr)[frame_indices(arr.shape[0], frames)]
    return np.stack([standardize_image(frame, size, channels) for frame in picked])


# --- modality interface (see climbflow.modalities) ---
EXPECTED_RAW = {"ndim": 4, "min_dim": 2, "min_sampling_rate": 1.0}  # (T, H, W, C), fps in props
DTYPE = np.uint8


def sample_shape(cfg) -> tuple[int, ...]:
    return (cfg.frames, cfg.channels, cfg.size, cfg.size)


def standardize(raw: np.ndarray, props: dict, cfg) -> np.ndarray:
    return standardize_video(raw, cfg.frames, cfg.size, cfg.channels)


def output_rate(cfg) -> None:
    """Stored clips have no single frame rate (it depends on each clip's length), so none is declared."""
    return None
