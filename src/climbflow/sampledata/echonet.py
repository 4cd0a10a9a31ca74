"""A small, deterministic EchoNet-Dynamic copy in the real layout, with a beating left ventricle whose
contraction follows the ejection fraction.

``write_echonet(root, n)`` writes ``root/FileList.csv``, ``root/VolumeTracings.csv`` and
``root/Videos/<FileName>.avi`` (MJPG, 112x112, 30 fps, 24-32 frames, grey stored as 3 channels like the real
videos). The background of every clip is the real echo cine that pydicom ships (``examples_ybr_color.dcm``,
30 frames of an apical view): its sector is cropped, converted to grey, randomly flipped, shifted, zoomed and
played from a random start frame, so speckle and tissue motion are real. Over it a left ventricle is drawn: a
dark blood pool (an ellipse, long axis vertical) inside a bright myocardial wall, whose radii follow a
cardiac cycle (random heart rate 70-110 bpm, phase and end-diastolic size). The end-systolic radii shrink so
that the ellipsoid volume ratio is ``ESV / EDV = 1 - EF / 100`` (short axis ``(1 - EF/100) ** 0.4``, long axis
``** 0.2``), so EF is learnable from the wall motion, with noise from size, position, contrast and speckle.
EF is drawn from 20-75 % so that EF < 50 has both classes. ``shuffle_labels`` permutes EF/ESV/EDV across
videos after the videos are drawn (negative control).
"""

from __future__ import annotations

import csv
import functools
import logging
import math
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from climbflow.catalog.echonet import FILE_LIST, FILE_LIST_COLUMNS, TRACING_COLUMNS, TRACINGS, VIDEOS

logger = logging.getLogger(__name__)

SIZE = 112
FPS = 30
JPEG_QUALITY = 80
EF_RANGE = (20.0, 75.0)
SPLIT_FRACTIONS = (("TRAIN", 0.75), ("VAL", 0.125), ("TEST", 0.125))
N_CHORDS = 20  # VolumeTracings: one long-axis line, then 20 perpendicular chords per traced frame
SECTOR = (slice(18, 218), slice(60, 260))  # the imaging sector of the pydicom cine (rows, cols)


@functools.cache
def _cine() -> np.ndarray:
    """The real echo cine as float32 grey (30, 112, 112) in 0..1, sector cropped."""
    import pydicom
    from PIL import Image
    from pydicom.data import get_testdata_file

    rgb = pydicom.dcmread(get_testdata_file("examples_ybr_color.dcm")).pixel_array  # (30, 240, 320, 3)
    grey = rgb[:, SECTOR[0], SECTOR[1]].astype(np.float32).mean(axis=3)
    frames = [
        np.asarray(Image.fromarray(f).resize((SIZE + 16, SIZE + 16), Image.Resampling.BILINEAR)) for f in grey
    ]
    return np.clip(np.stack(frames) / 255.0, 0.0, 1.0).astype(np.float32)


def _background(rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """(n_frames, SIZE, SIZE) real echo texture: flipped, shifted, played from a random start, looped."""
    cine = _cine()
    if rng.random() < 0.5:
        cine = cine[:, :, ::-1]
    dy, dx = (int(v) for v in rng.integers(0, 17, size=2))
    start = int(rng.integers(len(cine)))
    order = (start + np.arange(n_frames)) % len(cine)
    return cine[order, dy : dy + SIZE, dx : dx + SIZE] * np.float32(rng.uniform(0.6, 1.0))


def _radii(ef: float, ed: tuple[float, float], phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Short- and long-axis radii over time; ``phase`` 0 = end-diastole, 1 = end-systole."""
    keep = 1.0 - ef / 100.0
    rx = ed[0] * (1.0 - (1.0 - keep**0.4) * phase)
    ry = ed[1] * (1.0 - (1.0 - keep**0.2) * phase)
    return rx, ry


def _draw(rng: np.random.Generator, ef: float, n_frames: int) -> tuple[np.ndarray, dict[str, object]]:
    """One clip (n_frames, SIZE, SIZE) uint8 and its geometry (centre, radii per frame, ES/ED frames)."""
    period = FPS * 60.0 / rng.uniform(70, 110)  # frames per beat
    t0 = rng.uniform(0, period)
    t = np.arange(n_frames, dtype=np.float64)
    cycle = ((t + t0) % period) / period
    # systole (contraction) takes ~35 % of the cycle, diastole relaxes more slowly
    phase = np.where(
        cycle < 0.35, np.sin(np.pi / 2 * cycle / 0.35), np.cos(np.pi / 2 * (cycle - 0.35) / 0.65)
    )
    phase = np.clip(phase, 0.0, 1.0) ** 1.5
    ed = (rng.uniform(13, 18), rng.uniform(26, 34))
    rx, ry = _radii(ef, ed, phase)
    cx, cy = SIZE / 2 + rng.normal(0, 5), SIZE * 0.52 + rng.normal(0, 4)
    tilt = rng.normal(0, 0.15)
    wall = rng.uniform(5, 8)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    c, s = np.float32(math.cos(tilt)), np.float32(math.sin(tilt))
    u = (xx - np.float32(cx)) * c + (yy - np.float32(cy)) * s
    v = -(xx - np.float32(cx)) * s + (yy - np.float32(cy)) * c
    frames = _background(rng, n_frames)
    speckle = gaussian_filter(rng.standard_normal((n_frames, SIZE, SIZE), dtype=np.float32), (0, 1.0, 1.0))
    speckle = np.clip(0.5 + speckle / (2.5 * speckle.std()), 0.0, 1.0)  # ~2 px grains in 0..1
    blood, muscle = rng.uniform(0.02, 0.08), rng.uniform(0.5, 0.75)
    for i in range(n_frames):
        w = np.float32(wall * (1.0 + 0.4 * phase[i]))  # the wall thickens in systole
        ax, ay = np.float32(rx[i]), np.float32(ry[i])
        r_in = np.sqrt((u / ax) ** 2 + (v / ay) ** 2)  # 1 on the endocardium
        r_out = np.sqrt((u / (ax + w)) ** 2 + (v / (ay + w)) ** 2)  # 1 on the epicardium
        cavity = 1 / (1 + np.exp((r_in - 1) * 10))
        muscle_mask = (1 - cavity) / (1 + np.exp((r_out - 1) * 10))
        img = frames[i] * (1 - cavity - muscle_mask) + np.float32(blood) * cavity * (0.5 + speckle[i])
        frames[i] = img + muscle_mask * np.float32(muscle) * (0.4 + 0.9 * speckle[i])
    noise = rng.normal(0, 2, frames.shape).astype(np.float32)
    clip = np.clip(frames * 255 + noise, 0, 255).round().astype(np.uint8)
    es, ed_frame = int(np.argmax(phase)), int(np.argmin(phase))
    geometry = {"cx": cx, "cy": cy, "tilt": tilt, "rx": rx, "ry": ry, "es": es, "ed": ed_frame}
    return clip, geometry


def _tracing_rows(name: str, geometry: dict[str, object]) -> list[list[str]]:
    """VolumeTracings rows of one video: ES frame first, then ED (as EchoNet orders them)."""
    cx, cy, tilt = float(geometry["cx"]), float(geometry["cy"]), float(geometry["tilt"])  # type: ignore[arg-type]
    rows = []
    for frame in (int(geometry["es"]), int(geometry["ed"])):  # type: ignore[call-overload]
        rx, ry = float(geometry["rx"][frame]), float(geometry["ry"][frame])  # type: ignore[index]
        c, s = math.cos(tilt), math.sin(tilt)

        def world(uu: float, vv: float, c: float = c, s: float = s) -> tuple[float, float]:
            return cx + uu * c - vv * s, cy + uu * s + vv * c

        lines = [(world(0.0, -ry), world(0.0, ry))]
        for k in range(1, N_CHORDS + 1):
            vv = -ry + 2 * ry * k / (N_CHORDS + 1)
            half = rx * math.sqrt(max(0.0, 1.0 - (vv / ry) ** 2))
            lines.append((world(-half, vv), world(half, vv)))
        for (x1, y1), (x2, y2) in lines:
            rows.append([f"{name}.avi", f"{x1:.6f}", f"{y1:.6f}", f"{x2:.6f}", f"{y2:.6f}", str(frame)])
    return rows


def _write_avi(path: Path, clip: np.ndarray) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (SIZE, SIZE))
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter cannot write MJPG AVI {path}")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, JPEG_QUALITY)
    try:
        for frame in clip:
            writer.write(np.repeat(frame[:, :, None], 3, axis=2))
    finally:
        writer.release()


def _splits(rng: np.random.Generator, n: int) -> list[str]:
    """TRAIN/VAL/TEST in the real proportions, at least one VAL and TEST when n >= 3, in random order."""
    n_val = max(1 if n >= 3 else 0, round(n * SPLIT_FRACTIONS[1][1]))
    n_test = max(1 if n >= 3 else 0, round(n * SPLIT_FRACTIONS[2][1]))
    splits = ["VAL"] * n_val + ["TEST"] * n_test
    splits += ["TRAIN"] * (n - len(splits))
    return [splits[i] for i in rng.permutation(n)]


def write_echonet(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> None:
    """Write ``n_records`` videos with FileList.csv and VolumeTracings.csv under ``root``."""
    root = Path(root)
    (root / VIDEOS).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = [f"0X{int(v):016X}" for v in rng.integers(0, 2**63, size=n_records)]
    efs = rng.uniform(*EF_RANGE, size=n_records).round(2)
    edvs = rng.uniform(70, 190, size=n_records).round(2)
    splits = _splits(rng, n_records)
    tracings: list[list[str]] = []
    n_frames = []
    for name, ef in zip(names, efs, strict=True):
        count = int(rng.integers(24, 33))
        clip, geometry = _draw(np.random.default_rng(rng.integers(2**63)), float(ef), count)
        _write_avi(root / VIDEOS / f"{name}.avi", clip)
        tracings.extend(_tracing_rows(name, geometry))
        n_frames.append(count)
    labels = np.stack([efs, edvs], axis=1)
    if shuffle_labels:
        labels = labels[rng.permutation(n_records)]
    with (root / FILE_LIST).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FILE_LIST_COLUMNS)
        for name, (ef, edv), count, split in zip(names, labels, n_frames, splits, strict=True):
            esv = edv * (1.0 - ef / 100.0)
            writer.writerow([name, f"{ef:.2f}", f"{esv:.2f}", f"{edv:.2f}", SIZE, SIZE, FPS, count, split])
    with (root / TRACINGS).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(TRACING_COLUMNS)
        writer.writerows(tracings)
    logger.info("echonet sample: %d videos in %s", n_records, root)
