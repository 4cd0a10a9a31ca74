"""The standardized-dataset format (DESIGN §3): manifest.parquet + few large .npy shards + labels.json.

Shards are plain ``.npy`` files of shape ``(n, *sample_shape)``: any tool can read them, and
``np.load(mmap_mode="r")`` gives random access and streaming without loading a whole shard.
Shard ``k`` holds the accepted records of source index range ``[k*shard_size, (k+1)*shard_size)``, so the
output does not depend on how many workers wrote it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.parquet"
QUARANTINE = "quarantine.parquet"
LABELS = "labels.json"
REPORT = "report.json"
SHARDS = "shards"

MANIFEST_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("patient_id", pa.string()),
        ("dataset", pa.string()),
        ("modality", pa.string()),
        ("split", pa.string()),
        ("source_labels", pa.string()),
        ("target", pa.list_(pa.float32())),
        ("source_uri", pa.string()),
        ("source_sha256", pa.string()),
        ("shard", pa.int32()),
        ("offset", pa.int32()),
        ("shape", pa.list_(pa.int32())),
        ("sampling_rate", pa.float32()),
        ("orig_sampling_rate", pa.float32()),
        ("age", pa.float32()),
        ("sex", pa.string()),
        ("meta", pa.string()),  # JSON: PHI-free per-record properties (spacing, fps, montage, window, links)
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [("record_id", pa.string()), ("source", pa.string()), ("rule", pa.string()), ("message", pa.string())]
)


def shard_name(k: int) -> str:
    return f"{SHARDS}/shard-{k:05d}.npy"


def write_npy_stream(path: Path, arrays, shape: tuple[int, ...], dtype) -> int:
    """Write arrays of ``shape`` one by one as an ``(n, *shape)`` .npy at ``path``; returns n.

    Memory stays at one sample: the data go to a side file first, then header + data are streamed into
    ``path`` (the count is only known at the end). Nothing is written at ``path`` if ``arrays`` is empty.
    """
    dtype = np.dtype(dtype)
    raw = path.with_name(path.name + ".data")
    n = 0
    with raw.open("wb") as fh:
        for arr in arrays:
            fh.write(np.ascontiguousarray(arr, dtype=dtype).tobytes())
            n += 1
    try:
        if n:
            header = {
                "descr": np.lib.format.dtype_to_descr(dtype),
                "fortran_order": False,
                "shape": (n, *shape),
            }
            with path.open("wb") as out, raw.open("rb") as src:
                np.lib.format.write_array_header_1_0(out, header)
                shutil.copyfileobj(src, out, 16 << 20)
    finally:
        raw.unlink(missing_ok=True)
    return n


def write_table(rows: list[dict[str, Any]], schema: pa.Schema, path: Path) -> None:
    """Write rows as parquet deterministically (no timestamps; same rows -> same bytes)."""
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path, compression="zstd", write_statistics=False)


def write_json(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def labels_of(store: str) -> dict[str, Any]:
    """A standardized store's ``labels.json`` (dataset, modality, task, classes, sample shape), local or on S3."""
    from climbflow.store import uri as uris

    return json.loads(uris.read_text(uris.join(store, LABELS)))


@dataclass
class StoreReader:
    """Read a standardized dataset: manifest, label space and memory-mapped samples."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self._shards: dict[int, np.ndarray] = {}

    @cached_property
    def manifest(self) -> pd.DataFrame:
        return pd.read_parquet(self.root / MANIFEST)

    @cached_property
    def labels(self) -> dict[str, Any]:
        return json.loads((self.root / LABELS).read_text())

    @cached_property
    def quarantine(self) -> pd.DataFrame:
        return pd.read_parquet(self.root / QUARANTINE)

    @cached_property
    def report(self) -> dict[str, Any]:
        return json.loads((self.root / REPORT).read_text())

    def shard(self, k: int) -> np.ndarray:
        if k not in self._shards:
            self._shards[k] = np.load(self.root / shard_name(k), mmap_mode="r")
        return self._shards[k]

    def sample(self, i: int) -> np.ndarray:
        """Row ``i`` of the manifest as an array (a view into the memory-mapped shard)."""
        row = self.manifest.iloc[i]
        return self.shard(int(row["shard"]))[int(row["offset"])]

    def targets(self) -> np.ndarray:
        return np.stack(self.manifest["target"].to_numpy()).astype(np.float32)

    def split_indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.manifest["split"].to_numpy() == split)

    def __len__(self) -> int:
        return len(self.manifest)
