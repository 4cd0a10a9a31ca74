"""What every dataset module in the catalog provides.

A dataset module reads the dataset's *real* on-disk layout. Indexing (:meth:`DatasetSpec.index`) reads only
metadata files and yields one :class:`RawRecord` per sample, or a :class:`Rejected` with a named rule for a
record that cannot be used (unknown label code, missing file, ...). Decoding (:meth:`DatasetSpec.decode`) reads
one record's signal/image and raises :class:`RecordError` with a rule name when the file is bad.
A dataset-level problem (missing metadata file or column) raises :class:`CatalogError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

TaskType = Literal["binary", "multiclass", "multilabel", "regression"]
Split = Literal["train", "val", "test"]


class CatalogError(ValueError):
    """The dataset copy as a whole is unusable (e.g. a metadata file or column is missing)."""


class RecordError(ValueError):
    """One record is unusable; ``rule`` is a short stable name (``corrupt_wfdb``, ``empty_file``...)."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class RawRecord:
    """One sample as the dataset's metadata describes it (nothing decoded yet)."""

    record_id: str
    patient_id: str
    files: tuple[str, ...]  # paths relative to the dataset root; files[0] is the primary file
    target: tuple[float, ...]  # over the spec's unified ``classes``; NaN = unknown / ignored
    source_labels: str  # the dataset's own labels, verbatim (e.g. the scp_codes dict string)
    split: Split | None = None  # official split if the dataset has one, else None (hash split)
    meta: dict[str, Any] = field(default_factory=dict)  # age, sex, view, sampling_rate, ...
    split_key: str | None = None  # salt-free split key if patient_id is a salted pseudonym (never stored)


@dataclass(frozen=True)
class Rejected:
    """A record refused at indexing time, with the rule it broke."""

    record_id: str
    source: str  # the file (relative to the dataset root) the problem was found in
    rule: str
    message: str


@dataclass(frozen=True)
class Excluded(Rejected):
    """A valid record left out by the dataset's cohort definition (e.g. an admission that ended before the
    prediction time). Listed in the quarantine table with its rule, but not counted as bad input."""


def unsafe_path(rel: str) -> str | None:
    """Why a metadata-derived path (meant relative to the dataset root) could reach outside the root, else None.

    Absolute paths, ``..`` components and NUL bytes are refused (rule ``unsafe_path``); the check is lexical, so
    symlinks inside a dataset copy (e.g. a DVC cache link) keep working.
    """
    if "\0" in rel:
        return f"path {rel!r} contains a NUL byte"
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts:
        return f"path {rel!r} escapes the dataset root"
    return None


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec:
    """Base class of a catalog entry. Subclasses set the class attributes and implement index/decode."""

    name: ClassVar[str]
    title: ClassVar[str]
    modality: ClassVar[str]  # "ecg" | "image2d" | ...
    task: ClassVar[TaskType]
    classes: ClassVar[tuple[str, ...]]  # unified label space of the modality, in order
    license: ClassVar[str]
    layout: ClassVar[str]  # human description of the expected on-disk layout
    official_split: ClassVar[bool] = False
    # datasets whose patient ids name the same people share a namespace (None: the dataset's own name)
    patient_namespace: ClassVar[str | None] = None
    Options: ClassVar[type[BaseModel]] = NoOptions
    decode_size: int | None = (
        None  # set by standardize for images: the side they are resized to (decode hint)
    )

    def __init__(self, options: BaseModel | None = None):
        self.options = options if options is not None else self.Options()

    def bind_workspace(self, workspace: Path) -> None:
        """Called by the stages with the workspace root (e.g. where a de-identification salt lives)."""

    def cache_token(self) -> str | None:
        """Anything besides options and files that changes this dataset's outputs (e.g. a salt's fingerprint)."""
        return None

    def detect(self, root: Path) -> bool:
        """True if ``root`` looks like a copy of this dataset (cheap, metadata only)."""
        raise NotImplementedError

    def index(self, root: Path) -> Iterator[RawRecord | Rejected]:
        raise NotImplementedError

    def decode(self, root: Path, record: RawRecord) -> tuple[np.ndarray, dict[str, Any]]:
        """Return the raw array and its properties (``sampling_rate`` + ``lead_names`` for ECG)."""
        raise NotImplementedError
