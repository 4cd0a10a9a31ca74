"""What the JPG/PNG image catalog entries share: a guarded image decoder and small label/metadata parsers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from climbflow.catalog.base import RecordError

MAX_PIXELS = 64_000_000  # decompression-bomb guard


def one_hot(classes: tuple[str, ...], name: str) -> tuple[float, ...]:
    return tuple(1.0 if c == name else 0.0 for c in classes)


def parse_age(raw: str) -> int | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return int(value) if 0 <= value < 130 else None


def decode_image(
    path: Path, color: Literal["rgb", "gray", "keep"], draft_size: int | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`read_image` plus the props the catalog returns (original size in ``meta``)."""
    sizes: list[tuple[int, int]] = []
    arr = read_image(path, color, draft_size=draft_size, original=sizes)
    height, width = sizes[0] if sizes else arr.shape[:2]
    return arr, {"sampling_rate": None, "meta": {"orig_size": [int(height), int(width)]}}


def read_image(
    path: Path,
    color: Literal["rgb", "gray", "keep"] = "rgb",
    max_pixels: int = MAX_PIXELS,
    draft_size: int | None = None,
    original: list[tuple[int, int]] | None = None,
) -> np.ndarray:
    """Decode an image file to uint8: ``rgb`` -> (H, W, 3), ``gray`` -> (H, W), ``keep`` -> (H, W) for
    single-channel files and (H, W, 3) for colour ones. Raises :class:`RecordError` naming the file and the rule
    (missing_file, empty_file, image_too_large, corrupt_image).

    ``draft_size``: the side the caller will resize to; a JPEG is then decoded at the smallest DCT scale (1/2,
    1/4, 1/8) that keeps both sides >= it, which is much faster. ``original`` receives the file's (H, W)."""
    if not path.is_file():
        raise RecordError("missing_file", f"{path} not found")
    if path.stat().st_size == 0:
        raise RecordError("empty_file", f"{path} is zero bytes")
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > limit:
                raise RecordError("image_too_large", f"{path} is {width}x{height} px (limit {limit} px)")
            if original is not None:
                original.append((height, width))
            if draft_size and img.format == "JPEG":
                img.draft(img.mode, (draft_size, draft_size))
            img.load()
            arr = _convert(img, color)
    except RecordError:
        raise
    except Image.DecompressionBombError as exc:
        raise RecordError("image_too_large", f"{path}: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise RecordError("corrupt_image", f"{path} cannot be decoded: {exc}") from None
    if min(arr.shape[:2]) < 2:
        raise RecordError("corrupt_image", f"{path} decodes to shape {arr.shape}")
    return arr


def _convert(img: Image.Image, color: str) -> np.ndarray:
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float: min-max scale to 8 bits
        data = np.asarray(img, dtype=np.float64)
        lo, hi = float(data.min()), float(data.max())
        gray = ((data - lo) / (hi - lo) * 255.0).round() if hi > lo else np.zeros_like(data)
        gray = gray.astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2) if color == "rgb" else gray)
    single = img.mode in ("1", "L", "LA", "P") and not (img.mode == "P" and _palette_is_color(img))
    if color == "gray" or (color == "keep" and single):
        return np.ascontiguousarray(np.asarray(img.convert("L"), dtype=np.uint8))
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _palette_is_color(img: Image.Image) -> bool:
    rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    return bool((rgb[:, :, 0] != rgb[:, :, 1]).any() or (rgb[:, :, 1] != rgb[:, :, 2]).any())


def image_props(arr: np.ndarray) -> dict[str, Any]:
    return {"sampling_rate": None, "meta": {"orig_size": [int(arr.shape[0]), int(arr.shape[1])]}}
