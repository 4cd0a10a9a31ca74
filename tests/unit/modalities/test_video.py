"""Video standardization: uniform frame sampling, loop padding of short clips, per-frame resize, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from climbflow import modalities
from climbflow.catalog.base import RecordError
from climbflow.config import StandardizeConfig, VideoStandardizeConfig
from climbflow.modalities import video
from climbflow.modalities.video import frame_indices, standardize_video


def numbered_clip(n: int, h: int = 20, w: int = 20, channels: int | None = 3) -> np.ndarray:
    """Frame i is filled with the value i + 1 (so frames can be identified after resizing)."""
    clip = np.repeat(np.arange(1, n + 1, dtype=np.uint8)[:, None, None], h, 1).repeat(w, 2)
    return clip if channels is None else np.repeat(clip[..., None], channels, axis=3)


def test_frame_indices_uniform_segment_centres():
    assert frame_indices(100, 4).tolist() == [12, 37, 62, 87]  # neither the first nor the last frame
    assert frame_indices(8, 8).tolist() == list(range(8))
    idx = frame_indices(1000, 32)
    assert idx.min() > 0 and idx.max() < 999 and np.all(np.diff(idx) > 0)
    assert np.ptp(np.diff(idx)) <= 1  # evenly spaced


def test_short_clip_is_played_in_a_loop():
    assert frame_indices(3, 8).tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    out = standardize_video(numbered_clip(3), frames=7, size=20)
    assert out.shape == (7, 1, 20, 20)
    assert [int(f[0, 10, 10]) for f in out] == [1, 2, 3, 1, 2, 3, 1]
    assert all(f.any() for f in out)  # no blank padding frames


def test_sampled_frames_keep_their_order_and_content():
    out = standardize_video(numbered_clip(40), frames=5, size=16)
    assert out.dtype == np.uint8 and out.shape == (5, 1, 16, 16)
    assert [int(f[0, 8, 8]) for f in out] == [5, 13, 21, 29, 37]  # frames 4, 12, 20, 28, 36


def test_aspect_preserving_pad_per_frame_and_rgb():
    clip = np.zeros((4, 30, 60, 3), np.uint8)
    clip[..., 0] = 200  # red
    out = standardize_video(clip, frames=4, size=32, channels=3)
    assert out.shape == (4, 3, 32, 32)
    rows = np.nonzero(out[0, 0].any(axis=1))[0]
    assert (rows.min(), rows.max()) == (8, 23)  # 16 content rows, 8 padded above and below
    assert out[:, 0, 8:24].min() == 200 and out[:, 1:].max() == 0
    grey = standardize_video(clip, frames=4, size=32, channels=1)
    assert grey.shape == (4, 1, 32, 32) and abs(int(grey[0, 0, 16, 16]) - round(0.299 * 200)) <= 1


def test_grey_and_single_channel_input():
    a = standardize_video(numbered_clip(6, channels=None), frames=6, size=20)
    b = standardize_video(numbered_clip(6, channels=1), frames=6, size=20)
    np.testing.assert_array_equal(a, b)


def test_float_clip_is_scaled_over_the_whole_clip_not_per_frame():
    clip = np.stack([np.full((8, 8), v, np.float32) for v in (0.0, 0.5, 1.0)])
    out = standardize_video(clip, frames=3, size=8)
    assert [int(f[0, 4, 4]) for f in out] == [0, 128, 255]


@pytest.mark.parametrize(
    "clip, rule",
    [
        (np.zeros((0, 8, 8, 3), np.uint8), "bad_shape"),
        (np.zeros((8, 8), np.uint8), "bad_shape"),
        (np.zeros((4, 8, 8, 2), np.uint8), "bad_shape"),
        (np.zeros((4, 1, 8, 3), np.uint8), "bad_shape"),
        (np.full((4, 8, 8), np.nan, np.float32), "non_finite"),
    ],
)
def test_bad_clips_raise_record_errors(clip, rule):
    with pytest.raises(RecordError) as err:
        standardize_video(clip, frames=4, size=16)
    assert err.value.rule == rule


def test_modality_interface_uses_the_config_section():
    cfg = StandardizeConfig(video=VideoStandardizeConfig(frames=6, size=24, channels=1))
    assert modalities.sample_shape("video", cfg) == (6, 1, 24, 24)
    assert modalities.storage_dtype("video") == np.uint8
    assert modalities.target_sampling_rate("video", cfg) is None
    raw = numbered_clip(50, 30, 40)
    out = modalities.standardize("video", raw, {"sampling_rate": 50.0}, cfg)
    assert out.shape == (6, 1, 24, 24) and out.dtype == np.uint8
    assert video.EXPECTED_RAW["ndim"] == raw.ndim
