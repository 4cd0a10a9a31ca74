"""EchoNet-Dynamic (Stanford) in its real layout: ``FileList.csv`` + ``VolumeTracings.csv`` + ``Videos/*.avi``.

``FileList.csv`` has one row per apical-4-chamber echo video: ``FileName`` (without ``.avi`` in the real
release; a name with the extension is accepted too), ``EF`` (%), ``ESV``, ``EDV`` (mL), ``FrameHeight``,
``FrameWidth``, ``FPS``, ``NumberOfFrames`` and ``Split`` (``TRAIN``/``VAL``/``TEST``, the official split).
``VolumeTracings.csv`` (``FileName`` *with* ``.avi``, ``X1, Y1, X2, Y2, Frame``) holds the expert LV tracings
of two frames per video; the first traced frame is end-systole, the last end-diastole (as in EchoNet's own
loader). They are not needed for the labels and only give ``es_frame``/``ed_frame`` in the record meta.

Two catalog entries share this reader: :class:`EchoNetLowEF` (binary, EF < 50 %) and :class:`EchoNetEF`
(regression on EF in %). EchoNet has no patient id; each video comes from a different patient, so the
video name is the patient id.

CLIMB's loader upper-cases ``split='valid'`` to ``VALID`` although the file says ``VAL`` (climb.md, bug 9);
here any ``Split`` value other than TRAIN/VAL/TEST (any case) is rejected (``unknown_split``), never guessed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from climbflow.catalog.base import (
    CatalogError,
    DatasetSpec,
    RawRecord,
    RecordError,
    Rejected,
    Split,
    TaskType,
    unsafe_path,
)
from climbflow.catalog.values import finite_float, whole_number

logger = logging.getLogger(__name__)

FILE_LIST = "FileList.csv"
TRACINGS = "VolumeTracings.csv"
VIDEOS = "Videos"
FILE_LIST_COLUMNS: tuple[str, ...] = (
    "FileName",
    "EF",
    "ESV",
    "EDV",
    "FrameHeight",
    "FrameWidth",
    "FPS",
    "NumberOfFrames",
    "Split",
)
TRACING_COLUMNS: tuple[str, ...] = ("FileName", "X1", "Y1", "X2", "Y2", "Frame")
SPLITS: dict[str, Split] = {"TRAIN": "train", "VAL": "val", "TEST": "test"}
MAX_FRAME_PIXELS = 4096 * 4096  # decompression-bomb guard: EchoNet frames are 112 x 112
MAX_VIDEO_VALUES = 1_000_000_000  # frames x height x width x 3 bytes held in memory at most
LOW_EF_THRESHOLD = 50.0  # EF < 50 %: reduced ejection fraction (EchoNet-Dynamic's cardiomyopathy cut-off)


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot be parsed as CSV: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in required:
        if column not in frame.columns:
            raise CatalogError(f"{path}: required column {column!r} missing (columns: {list(frame.columns)})")
    return frame


def traced_frames(root: Path) -> dict[str, list[int]]:
    """Video stem -> traced frame numbers in file order ([ES, ..., ED]); {} when the file is absent."""
    path = Path(root) / TRACINGS
    if not path.is_file() or path.stat().st_size == 0:  # an empty optional table counts as an absent one
        logger.warning(
            "%s: %s; records get no es_frame/ed_frame", path, "empty" if path.is_file() else "not found"
        )
        return {}
    table = _read_csv(path, TRACING_COLUMNS)
    frames: dict[str, list[int]] = {}
    for name, frame in zip(table["FileName"], table["Frame"], strict=True):
        number = finite_float(frame)
        if number is None:
            continue
        stem = _stem(name)
        seen = frames.setdefault(stem, [])
        if int(number) not in seen:
            seen.append(int(number))
    return frames


def _stem(name: str) -> str:
    name = str(name).strip()
    return name[: -len(".avi")] if name.lower().endswith(".avi") else name


class _EchoNet(DatasetSpec):
    """What both EchoNet entries share: index of FileList.csv, AVI decoding; subclasses map EF to a target."""

    title: ClassVar[str]
    modality: ClassVar[str] = "video"
    license: ClassVar[str] = (
        "Stanford University School of Medicine EchoNet-Dynamic Dataset Research Use Agreement"
    )
    layout: ClassVar[str] = (
        "<root>/FileList.csv (FileName, EF, ESV, EDV, FrameHeight, FrameWidth, FPS, NumberOfFrames, "
        "Split in TRAIN/VAL/TEST) + <root>/VolumeTracings.csv (FileName, X1, Y1, X2, Y2, Frame) + "
        "<root>/Videos/<FileName>.avi (112x112 apical-4-chamber echo cines)"
    )
    official_split: ClassVar[bool] = True

    def target(self, ef: float) -> tuple[float, ...]:
        raise NotImplementedError

    def detect(self, root: Path) -> bool:
        path = Path(root) / FILE_LIST
        if not path.is_file() or not (Path(root) / VIDEOS).is_dir():
            return False
        with path.open(encoding="utf-8-sig") as fh:
            header = [c.strip() for c in fh.readline().split(",")]
        return "FileName" in header and "EF" in header

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        path = root / FILE_LIST
        if not path.is_file():
            raise CatalogError(f"{path}: metadata file missing (expected {self.layout})")
        table = _read_csv(path, FILE_LIST_COLUMNS)
        tracings = traced_frames(root)
        seen: set[str] = set()
        counts: dict[str, int] = {}
        for line, row in enumerate(table.to_dict("records"), start=2):  # line 1 is the header
            item = self._record(root, line, row, tracings, seen)
            key = item.rule if isinstance(item, Rejected) else "ok"
            counts[key] = counts.get(key, 0) + 1
            yield item
        logger.info("%s %s: %s", self.name, root, counts)

    def _record(
        self, root: Path, line: int, row: dict[str, str], tracings: dict[str, list[int]], seen: set[str]
    ) -> RawRecord | Rejected:
        where = f"{FILE_LIST} line {line}"
        stem = _stem(row["FileName"])
        if not stem:
            return Rejected(f"line{line}", FILE_LIST, "bad_filename", f"{where}: FileName is empty")
        where = f"{where} ({stem})"
        if stem in seen:
            return Rejected(stem, FILE_LIST, "duplicate_record", f"{where}: FileName {stem!r} repeated")
        seen.add(stem)
        raw_split = row["Split"].strip()
        split = SPLITS.get(raw_split.upper())
        if split is None:
            message = f"{where}: Split {raw_split!r} is not one of {sorted(SPLITS)}"
            return Rejected(stem, FILE_LIST, "unknown_split", message)
        ef = finite_float(row["EF"])
        if ef is None or not 0.0 <= ef <= 100.0:
            return Rejected(stem, FILE_LIST, "bad_ef", f"{where}: EF {row['EF']!r} is not a number in 0-100")
        problem = unsafe_path(stem)
        if problem:
            return Rejected(stem, FILE_LIST, "unsafe_path", f"{where}: FileName {problem}")
        rel = f"{VIDEOS}/{stem}.avi"
        if not (root / rel).is_file():
            return Rejected(stem, rel, "missing_file", f"{where}: video {rel} not found")
        frames = tracings.get(stem, [])
        return RawRecord(
            record_id=stem,
            patient_id=stem,
            files=(rel,),
            target=self.target(ef),
            source_labels=f"EF={row['EF'].strip()}",
            split=split,
            meta={
                "ef": ef,
                "esv": finite_float(row["ESV"]),
                "edv": finite_float(row["EDV"]),
                "filelist_fps": finite_float(row["FPS"]),
                "filelist_frames": whole_number(row["NumberOfFrames"]),
                "filelist_size": [whole_number(row["FrameHeight"]), whole_number(row["FrameWidth"])],
                "es_frame": frames[0] if len(frames) >= 2 else None,
                "ed_frame": frames[-1] if len(frames) >= 2 else None,
            },
        )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """uint8 RGB frames ``(T, H, W, 3)`` + ``sampling_rate`` (fps) and ``meta`` (fps, frames, size).

        The fps is the container's, else FileList's ``FPS``. Errors: ``missing_file``, ``empty_file``,
        ``corrupt_video`` (cannot be opened, no frames, or fewer frames than the container declares, which
        EchoNet's own loader also refuses), ``video_too_large`` (decompression-bomb guard), ``bad_sampling_rate`` (no usable fps anywhere).
        """
        import cv2

        path = Path(root) / record.files[0]
        if not path.is_file():
            raise RecordError("missing_file", f"{path} not found")
        if path.stat().st_size == 0:
            raise RecordError("empty_file", f"{path} is zero bytes")
        capture = cv2.VideoCapture(str(path))
        try:
            if not capture.isOpened():
                raise RecordError("corrupt_video", f"{path} cannot be opened as a video")
            declared = int(max(capture.get(cv2.CAP_PROP_FRAME_COUNT), 0))
            container_fps = float(capture.get(cv2.CAP_PROP_FPS))
            width, height = (
                int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            )
            if width * height > MAX_FRAME_PIXELS:
                raise RecordError(
                    "video_too_large", f"{path}: frames of {width}x{height} px (limit {MAX_FRAME_PIXELS} px)"
                )
            frames = []
            held = 0
            while True:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                held += frame.shape[0] * frame.shape[1] * 3
                if frame.shape[0] * frame.shape[1] > MAX_FRAME_PIXELS or held > MAX_VIDEO_VALUES:
                    raise RecordError(
                        "video_too_large",
                        f"{path}: frame {len(frames)} of shape {frame.shape}; {held} bytes decoded "
                        f"(limits {MAX_FRAME_PIXELS} px per frame, {MAX_VIDEO_VALUES} bytes per video)",
                    )
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if frame.ndim == 3 else frame)
        finally:
            capture.release()
        if not frames:
            raise RecordError("corrupt_video", f"{path}: no frame could be decoded")
        if declared and len(frames) < declared:
            raise RecordError(
                "corrupt_video", f"{path}: truncated, {len(frames)} of {declared} frames decoded"
            )
        if any(f.shape != frames[0].shape for f in frames):
            raise RecordError("corrupt_video", f"{path}: frames of different sizes")
        video = np.stack([f if f.ndim == 3 else np.repeat(f[:, :, None], 3, axis=2) for f in frames])
        fps = container_fps if math.isfinite(container_fps) and container_fps > 0 else None
        if fps is None:
            fps = record.meta.get("filelist_fps")
        if fps is None or not math.isfinite(fps) or fps <= 0:
            raise RecordError(
                "bad_sampling_rate", f"{path}: no frame rate in the container nor in {FILE_LIST}"
            )
        t, h, w = video.shape[:3]
        meta = {"fps": float(fps), "n_frames": int(t), "orig_size": [int(h), int(w)]}
        return video, {"sampling_rate": float(fps), "meta": meta}


class EchoNetLowEF(_EchoNet):
    """Reduced ejection fraction (EF < 50 %) from the echo cine, binary."""

    name: ClassVar[str] = "echonet"
    title: ClassVar[str] = "EchoNet-Dynamic echocardiography videos, reduced ejection fraction (EF < 50%)"
    task: ClassVar[TaskType] = "binary"
    classes: ClassVar[tuple[str, ...]] = ("EF below 50",)

    def target(self, ef: float) -> tuple[float, ...]:
        return (1.0 if ef < LOW_EF_THRESHOLD else 0.0,)


class EchoNetEF(_EchoNet):
    """Left-ventricular ejection fraction (%) from the echo cine, regression."""

    name: ClassVar[str] = "echonet_ef"
    title: ClassVar[str] = "EchoNet-Dynamic echocardiography videos, ejection fraction (%) regression"
    task: ClassVar[TaskType] = "regression"
    classes: ClassVar[tuple[str, ...]] = ("EF",)

    def target(self, ef: float) -> tuple[float, ...]:
        return (float(ef),)
