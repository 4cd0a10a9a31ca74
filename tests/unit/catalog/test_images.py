"""The shared image decoder: JPEG draft decoding for the standardize size, original size kept."""

from __future__ import annotations

import numpy as np
from PIL import Image

from climbflow.catalog.images import decode_image, read_image


def test_jpeg_is_decoded_no_smaller_than_the_target_and_the_original_size_is_kept(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "big.jpg"
    Image.fromarray(rng.integers(0, 255, (600, 800), dtype=np.uint8), "L").save(path, quality=90)
    full = read_image(path, "gray")
    arr, props = decode_image(path, "gray", draft_size=64)
    assert full.shape == (600, 800)
    assert 64 <= min(arr.shape) < 600 and arr.shape[0] * 4 == arr.shape[1] * 3  # a DCT scale, aspect kept
    assert props["meta"]["orig_size"] == [600, 800]
    png = tmp_path / "big.png"
    Image.fromarray(full).save(png)
    assert decode_image(png, "gray", draft_size=64)[0].shape == (600, 800)  # only JPEG has draft decoding
