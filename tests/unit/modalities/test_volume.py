"""Volume standardization: HU window, fixed depth, physical in-plane aspect with padding, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from climbflow import modalities
from climbflow.catalog.base import RecordError
from climbflow.config import StandardizeConfig, VolumeStandardizeConfig
from climbflow.modalities import volume
from climbflow.modalities.volume import standardize_volume, window


def test_window_maps_level_and_width_to_0_255():
    hu = np.array([-1000.0, -160.0, 40.0, 240.0, 3000.0])
    np.testing.assert_allclose(window(hu, 40.0, 400.0), [0.0, 0.0, 127.5, 255.0, 255.0])
    np.testing.assert_allclose(window(np.array([0.0, 50.0]), 0.0, 100.0), [127.5, 255.0])


def test_output_shape_dtype_and_windowed_values():
    hu = np.full((40, 50, 50), 40.0)  # the window level -> mid grey everywhere
    out = standardize_volume(hu, (2.0, 1.0, 1.0), depth=8, size=16, level=40.0, width=400.0)
    assert out.shape == (1, 8, 16, 16) and out.dtype == np.uint8
    assert set(np.unique(out)) == {128}


def test_depth_is_resampled_along_the_scan_axis_keeping_order():
    d = 60
    hu = np.repeat(np.linspace(-160, 240, d)[:, None, None], 12, 1).repeat(12, 2)  # ramps over slices
    out = standardize_volume(hu, (1.0, 1.0, 1.0), depth=10, size=12, level=40.0, width=400.0)
    means = out[0].mean(axis=(1, 2))
    assert np.all(np.diff(means) > 0) and means[0] < 30 and means[-1] > 225
    short = standardize_volume(hu[:5], (5.0, 1.0, 1.0), depth=10, size=12, level=40.0, width=400.0)
    assert short.shape == (1, 10, 12, 12) and np.all(np.diff(short[0].mean(axis=(1, 2))) >= 0)


def test_in_plane_aspect_follows_physical_size_with_symmetric_padding():
    hu = np.full((4, 20, 40), 240.0)  # 20 rows x 40 cols of 1 mm: twice as wide as tall
    out = standardize_volume(hu, (3.0, 1.0, 1.0), depth=4, size=32, level=40.0, width=400.0)[0]
    rows = np.nonzero(out[0].any(axis=1))[0]
    assert (rows.min(), rows.max()) == (8, 23) and out[:, :, :].min() == 0 and out[0, 8:24].min() == 255
    # the same pixels with 2 mm rows are a square field of view: no padding
    square = standardize_volume(hu, (3.0, 2.0, 1.0), depth=4, size=32, level=40.0, width=400.0)[0]
    assert square.min() == 255


def test_large_volume_is_block_averaged_not_aliased():
    rng = np.random.default_rng(0)
    hu = 40.0 + 200.0 * np.sign(rng.standard_normal((64, 256, 256)))  # +-200 HU salt and pepper
    out = standardize_volume(hu, (1.0, 1.0, 1.0), depth=8, size=16, level=40.0, width=400.0)
    assert abs(float(out.mean()) - 127.5) < 3 and out.std() < 10  # averaged to grey, not sampled pixels


@pytest.mark.parametrize(
    "hu, spacing, rule",
    [
        (np.zeros((4, 4)), None, "bad_shape"),
        (np.zeros((0, 4, 4)), None, "bad_shape"),
        (np.full((2, 4, 4), np.inf), None, "nonfinite"),
        (np.zeros((2, 4, 4)), (1.0, 0.0, 1.0), "bad_spacing"),
    ],
)
def test_bad_volumes_raise_record_errors(hu, spacing, rule):
    with pytest.raises(RecordError) as err:
        standardize_volume(hu, spacing, depth=4, size=16, level=40.0, width=400.0)
    assert err.value.rule == rule


def test_modality_interface_uses_the_config_section_and_props_spacing():
    cfg = StandardizeConfig(
        volume=VolumeStandardizeConfig(depth=6, size=20, window_level=0, window_width=200)
    )
    assert modalities.sample_shape("volume", cfg) == (1, 6, 20, 20)
    assert (
        modalities.storage_dtype("volume") == np.uint8
        and modalities.target_sampling_rate("volume", cfg) is None
    )
    hu = np.full((12, 10, 20), 100.0)
    wide = modalities.standardize("volume", hu, {"sampling_rate": None, "spacing": (2.0, 1.0, 1.0)}, cfg)
    assert wide.shape == (1, 6, 20, 20) and wide.max() == 255 and wide[0, :, 0].max() == 0  # padded rows
    square = modalities.standardize("volume", hu, {"sampling_rate": None, "spacing": (2.0, 2.0, 1.0)}, cfg)
    assert square.min() == 255
    assert volume.EXPECTED_RAW["ndim"] == hu.ndim
