"""TUH Abnormal EEG Corpus (TUAB v3) in its real layout: the label is the folder a recording is in.

``edf/{train,eval}/{normal,abnormal}/01_tcp_ar/<subject>_<session>_<token>.edf`` (e.g.
``aaaaaaaq_s004_t000.edf``; the subject id is the first token), in the given folder or in the version folder
below it (``v3.0.1/edf/...``, as downloaded). Binary task, class ``abnormal``.

Each recording gives up to ``max_windows`` consecutive windows of ``window_seconds`` from its start; each
window is one record (``<file stem>#<k>``, meta ``window_start_s``). Indexing reads EDF headers only (for the
duration). The window options default to ``params.standardize.eeg``'s defaults; the EEG standardization
refuses a window whose length differs from ``standardize.eeg.window_seconds`` (rule ``window_mismatch``).

Official split: ``eval`` -> test; ``train`` recordings get no split so that standardize carves a validation
set out of them by patient (TUAB's train and eval sets are patient-disjoint).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

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
    MAX_WINDOWS_DEFAULT,
    EegWindowOptions,
    counted,
    decode_window,
    edf_files,
    edf_root,
    read_header,
    window_meta,
    window_starts,
)

logger = logging.getLogger(__name__)

SPLITS: dict[str, Split | None] = {"train": None, "eval": "test"}
LABELS: dict[str, float] = {"normal": 0.0, "abnormal": 1.0}
FILE_NAME = re.compile(r"^([a-z0-9]+)_(s\d+)_(t\d+)\.edf$", re.IGNORECASE)


class TUABOptions(EegWindowOptions):
    max_windows: int = Field(
        MAX_WINDOWS_DEFAULT,
        ge=1,
        description="windows per recording; keep equal to standardize.eeg.max_windows",
    )


class TUAB(DatasetSpec):
    name: ClassVar[str] = "tuab"
    title: ClassVar[str] = "TUH Abnormal EEG Corpus v3 (TUAB), normal vs abnormal, fixed windows"
    modality: ClassVar[str] = "eeg"
    task: ClassVar[TaskType] = "binary"
    classes: ClassVar[tuple[str, ...]] = ("abnormal",)
    license: ClassVar[str] = "TUH EEG Corpus data use agreement (Temple University, application required)"
    layout: ClassVar[str] = (
        "<root>[/<version>]/edf/{train,eval}/{normal,abnormal}/01_tcp_ar/<subject>_s<NNN>_t<NNN>.edf "
        "(EDF, signals 'EEG FP1-REF', ...; label = folder)"
    )
    official_split: ClassVar[bool] = True
    Options: ClassVar[type[BaseModel]] = TUABOptions

    options: TUABOptions

    def cache_token(self) -> str | None:
        return units.SIGNAL_VERSION  # stores decoded by an older EDF reader are not reused

    def detect(self, root: Path) -> bool:
        base = edf_root(root) / EDF_DIR
        return any((base / split / label).is_dir() for split in SPLITS for label in LABELS)

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        root = Path(root)
        if not self.detect(root):
            raise CatalogError(
                f"{root}: no edf/{{train,eval}}/{{normal,abnormal}} folders (expected {self.layout})"
            )
        seen: dict[str, str] = {}
        files = edf_files(root, (".edf",))
        items = (item for rel, parts in files for item in self._recording(root, rel, parts, seen))
        yield from counted(items, logger, f"tuab {root}")

    def _recording(
        self, root: Path, rel: str, parts: tuple[str, ...], seen: dict[str, str]
    ) -> Iterator[RawRecord | Rejected]:
        stem = parts[-1].rsplit(".", 1)[0]
        if len(parts) != 4 or parts[0] not in SPLITS:
            yield Rejected(stem, rel, "unexpected_path", f"{rel}: expected {self.layout}")
            return
        split_dir, label, montage, file_name = parts
        if label not in LABELS:
            message = f"{rel}: label folder {label!r} is not one of {sorted(LABELS)}"
            yield Rejected(stem, rel, "unknown_label", message)
            return
        match = FILE_NAME.match(file_name)
        if match is None:
            message = f"{rel}: file name is not <subject>_s<NNN>_t<NNN>.edf"
            yield Rejected(stem, rel, "bad_file_name", message)
            return
        if stem in seen:
            yield Rejected(
                stem, rel, "duplicate_record", f"{rel}: recording {stem} already indexed from {seen[stem]}"
            )
            return
        seen[stem] = rel
        try:
            header = read_header(root, rel)
        except RecordError as exc:
            yield Rejected(stem, rel, exc.rule, exc.message)
            return
        window = self.options.window_seconds
        starts = window_starts(header.duration, window, self.options.max_windows)
        if not starts:
            message = f"{rel}: {header.duration:.2f} s recorded, shorter than one {window:g} s window"
            yield Rejected(stem, rel, "too_short", message)
            return
        subject, session, token = match.group(1), match.group(2), match.group(3)
        for k, start in enumerate(starts):
            yield RawRecord(
                record_id=f"{stem}#{k}",
                patient_id=subject,
                files=(rel,),
                target=(LABELS[label],),
                source_labels=label,
                split=SPLITS[split_dir],
                meta=window_meta(header, start, window)
                | {"window": k, "montage": montage, "session": session, "token": token},
            )

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """float32 (channels, samples) µV around the record's window; see :func:`tuh_edf.read_window`."""
        return decode_window(root, record, "montage")
