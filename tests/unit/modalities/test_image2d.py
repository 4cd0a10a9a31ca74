"""2D image standardization: grayscale, aspect-preserving resize, symmetric zero padding, bad shapes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from climbflow.catalog.base import RecordError
from climbflow.modalities.image2d import standardize_image, to_uint8_gray


def test_wide_image_is_padded_top_and_bottom():
    img = np.full((100, 200), 200, np.uint8)
    out = standardize_image(img, 64)
    assert out.shape == (1, 64, 64) and out.dtype == np.uint8
    rows = np.nonzero(out[0].any(axis=1))[0]
    assert (rows.min(), rows.max()) == (16, 47)  # 32 content rows, 16 padded above and below
    assert out[0, 16:48].min() == 200 and out[0, :16].max() == 0 and out[0, 48:].max() == 0


def test_tall_image_is_padded_left_and_right_symmetrically():
    img = np.full((90, 30), 255, np.uint8)
    out = standardize_image(img, 60)[0]
    cols = np.nonzero(out.any(axis=0))[0]
    assert (cols.min(), cols.max()) == (20, 39)
    assert out[:, :20].max() == 0 and out[:, 40:].max() == 0


def test_odd_padding_puts_the_extra_pixel_after():
    out = standardize_image(np.full((10, 21), 9, np.uint8), 21)[0]
    rows = np.nonzero(out.any(axis=1))[0]
    assert (rows.min(), rows.max()) == (5, 14)  # 10 rows: 5 above, 6 below


def test_aspect_is_preserved_for_content():
    # a left-right gradient keeps its orientation and monotonicity after resize
    img = np.tile(np.linspace(0, 255, 320).astype(np.uint8), (240, 1))
    out = standardize_image(img, 128)[0]
    row = out[64].astype(int)
    assert row[0] < 10 and row[-1] > 245 and np.all(np.diff(row) >= 0)
    assert np.count_nonzero(out.any(axis=1)) == 96  # 240 * 128 / 320


def test_square_same_size_is_unchanged_and_upscale_works():
    img = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    np.testing.assert_array_equal(standardize_image(img, 32)[0], img)
    up = standardize_image(np.full((8, 16), 100, np.uint8), 64)[0]
    assert up[16:48].min() == 100 and up[:16].max() == 0


def test_rgb_is_converted_like_pil():
    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    expected = np.asarray(Image.fromarray(rgb).convert("L"))
    np.testing.assert_array_equal(to_uint8_gray(rgb), expected)
    assert standardize_image(rgb, 20).shape == (1, 20, 20)
    np.testing.assert_array_equal(to_uint8_gray(rgb[..., :1]), rgb[..., 0])


def test_non_uint8_is_min_max_scaled():
    img = np.linspace(-1.0, 3.0, 50 * 40).reshape(50, 40)
    gray = to_uint8_gray(img)
    assert gray.dtype == np.uint8 and gray.min() == 0 and gray.max() == 255
    assert to_uint8_gray(np.full((5, 5), 7.0)).max() == 0  # constant image -> zeros, no division by zero
    assert standardize_image(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64), 16).max() > 200


@pytest.mark.parametrize("shape", [(1, 1), (0, 5), (5, 1), (1, 50), (4, 4, 2), (2, 3, 4, 5), (7,)])
def test_bad_shapes_raise_record_error(shape):
    with pytest.raises(RecordError) as err:
        standardize_image(np.zeros(shape, np.uint8), 32)
    assert err.value.rule == "bad_shape" and str(shape) in err.value.message
