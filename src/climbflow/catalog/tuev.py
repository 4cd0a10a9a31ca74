"""TUH EEG Events Corpus (TUEV v2) in its real layout: EDF recordings with ``.rec`` event annotations.

``edf/{train,eval}/<subject>/<file>.edf`` (in the given folder or in the version folder below it,
``v2.0.1/edf/...``) with ``<file>.rec`` next to it: CSV lines
``channel,start_s,end_s,label_code`` (channel = index of the TCP montage channel the event is marked on; codes
1..6 = spsw, gped, pled, eyem, artf, bckg). Multiclass over those 6 classes.

One record per annotated event: the rows of a ``.rec`` with the same (start, end, code) on several channels
are one event (their channels are kept in meta), so identical windows are not stored twice. The record is a
``window_seconds`` window centred on the event (shifted inside the recording near its edges), id
``<file stem>#<k>`` (k-th event of the file by start time). A code outside 1..6 is rejected
(``unknown_event_code``), as are malformed lines (``bad_annotation``) and events outside the recording
(``bad_event_time``). Official split: ``eval`` -> test; ``train`` gets no split (standardize carves a
validation set out of it by patient).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from climbflow.catalog import units
from climbflow.catalog.base import (
    CatalogError,
    DatasetSpec,
    RawRecord,
    RecordError,
    Rejected,
    Split,
    TaskType,
)
from climbflow.catalog.tuh_edf import (
    EDF_DIR,
    EdfHeader,
    EegWindowOptions,
    counted,
    decode_window,
    edf_files,
    edf_root,
    read_header,
    window_meta,
)

logger = logging.getLogger(__name__)

SPLITS: dict[str, Split | None] = {"train": None, "eval": "test"}
CLASSES: tuple[str, ...] = ("spsw", "gped", "pled", "eyem", "artf", "bckg")
CODES: dict[int, str] = {i + 1: name for i, name in enumerate(CLASSES)}


class TUEVOptions(EegWindowOptions):
    pass


class TUEV(DatasetSpec):
    name: ClassVar[str] = "tuev"
    title: ClassVar[str] = "TUH EEG Events Corpus v2 (TUEV), 6 event classes, windows centred on events"
    modality: ClassVar[str] = "eeg"
    task: ClassVar[TaskType] = "multiclass"
    classes: ClassVar[tuple[str, ...]] = CLASSES
    license: ClassVar[str] = "TUH EEG Corpus data use agreement (Temple University, application required)"
    layout: ClassVar[str] = (
        "<root>[/<version>]/edf/{train,eval}/<subject>/<file>.edf + <file>.rec "
        "(CSV lines channel,start_s,end_s,code; codes 1-6 = spsw,gped,pled,eyem,artf,bckg)"
    )
    official_split: ClassVar[bool] = True
    Options: ClassVar[type[BaseModel]] = TUEVOptions

    options: TUEVOptions

    def cache_token(self) -> str | None:
        return units.SIGNAL_VERSION  # stores decoded by an older EDF reader are not reused

    def detect(self, root: Path) -> bool:
        base = edf_root(root) / EDF_DIR
        return any((base / split).is_dir() for split in SPLITS) and any(
            next((base / split).glob("*/*.rec"), None) is not None for split in SPLITS
        )

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        base = edf_root(root) / EDF_DIR
        if not any((base / split).is_dir() for split in SPLITS):
            raise CatalogError(f"{root}: no edf/train or edf/eval folder (expected {self.layout})")
        files = edf_files(root, (".edf", ".rec"))
        items = (item for rel, parts in files for item in self._file(root, rel, parts))
        yield from counted(items, logger, f"tuev {root}")

    def _file(self, root: Path, rel: str, parts: tuple[str, ...]) -> Iterator[RawRecord | Rejected]:
        """The records of an EDF file; a ``.rec`` file gives nothing, or ``missing_file`` without its EDF."""
        path = root / rel
        if path.suffix.lower() != ".rec":
            yield from self._recording(root, rel, parts)
        elif not path.with_suffix(".edf").is_file():
            yield Rejected(path.stem, rel, "missing_file", f"{rel}: no EDF file {path.stem}.edf")

    def _recording(self, root: Path, rel: str, parts: tuple[str, ...]) -> Iterator[RawRecord | Rejected]:
        stem = parts[-1].rsplit(".", 1)[0]
        if len(parts) != 3 or parts[0] not in SPLITS:
            yield Rejected(stem, rel, "unexpected_path", f"{rel}: expected {self.layout}")
            return
        split_dir, subject, _ = parts
        rec = rel[: -len(".edf")] + ".rec"
        if not (root / rec).is_file():
            yield Rejected(stem, rel, "missing_annotation", f"{rel}: annotation file {rec} not found")
            return
        try:
            header = read_header(root, rel)
        except RecordError as exc:
            yield Rejected(stem, rel, exc.rule, exc.message)
            return
        window = self.options.window_seconds
        if header.duration + 1e-6 < window:
            message = f"{rel}: {header.duration:.2f} s recorded, shorter than one {window:g} s window"
            yield Rejected(stem, rel, "too_short", message)
            return
        events: dict[tuple[float, float, int], list[int]] = {}
        for item in _read_rec(root / rec, rec, stem, header):
            if isinstance(item, Rejected):
                yield item
            else:
                channel, start, end, code = item
                events.setdefault((start, end, code), []).append(channel)
        for k, ((start, end, code), channels) in enumerate(sorted(events.items())):
            centre = (start + end) / 2
            window_start = min(max(0.0, centre - window / 2), header.duration - window)
            target = tuple(1.0 if c == code else 0.0 for c in CODES)
            yield RawRecord(
                record_id=f"{stem}#{k}",
                patient_id=subject,
                files=(rel, rec),
                target=target,
                source_labels=str(code),
                split=SPLITS[split_dir],
                meta=window_meta(header, round(window_start, 6), window)
                | {
                    "event": CODES[code],
                    "event_start_s": start,
                    "event_end_s": end,
                    "channels": sorted(set(channels)),
                },
            )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """float32 (channels, samples) µV around the event window; see :func:`tuh_edf.read_window`."""
        return decode_window(root, record, "event")


def _read_rec(
    path: Path, rec: str, stem: str, header: EdfHeader
) -> Iterator[tuple[int, float, float, int] | Rejected]:
    """(channel, start, end, code) per line of a ``.rec`` file, or a Rejected naming the line and the rule."""
    text = path.read_bytes().decode("latin-1")
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where, rid = f"{rec} line {line_no}", f"{stem}:line{line_no}"
        fields = [f.strip() for f in line.split(",")]
        try:
            if len(fields) != 4:
                raise ValueError
            channel, start, end, raw_code = (
                int(float(fields[0])),
                float(fields[1]),
                float(fields[2]),
                float(fields[3]),
            )
        except ValueError:
            yield Rejected(rid, rec, "bad_annotation", f"{where}: {line!r} is not channel,start,end,code")
            continue
        if not raw_code.is_integer() or int(raw_code) not in CODES:
            message = (
                f"{where}: event code {fields[3]!r} is not one of {sorted(CODES)} ({', '.join(CLASSES)})"
            )
            yield Rejected(rid, rec, "unknown_event_code", message)
            continue
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end <= header.duration + 1e-6):
            message = f"{where}: event {start}-{end} s not inside the {header.duration:.2f} s recording"
            yield Rejected(rid, rec, "bad_event_time", message)
            continue
        yield channel, start, end, int(raw_code)
