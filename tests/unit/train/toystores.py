"""Tiny stores in the standardized format with a learnable signal, shared by the training tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from climbflow.config import EncoderConfig
from climbflow.store.format import LABELS, MANIFEST, MANIFEST_SCHEMA, shard_name

T = 500  # ECG samples per lead in the toy stores
S = 32  # image side
FREQS = [3.0, 9.0, 21.0, 33.0, 45.0]  # cycles per window, one per class
ENC = EncoderConfig(width=8, depth=3, dropout=0.0)


def write_store(
    root: Path,
    name: str,
    modality: str,
    classes: list[str],
    task: str,
    splits: dict[str, int],
    seed: int = 0,
    shuffle_labels: bool = False,
    nan_fraction: float = 0.0,
    shard_size: int = 100,
    signal: dict[str, int] | None = None,
) -> Path:
    """Write a tiny store in the standardized format with a learnable signal.

    ECG: each positive class adds a sine at its own frequency (``signal`` maps class name to a FREQS
    index) to every lead. image2d: each positive class draws a bright square at its own position.
    regression: the target (uniform 20..80) scales the sine (ECG only).
    ``shuffle_labels`` permutes the targets across records after the signal is made (negative control).
    """
    rng = np.random.default_rng(seed)
    signal = signal or {c: i for i, c in enumerate(classes)}
    n = sum(splits.values())
    C = len(classes)
    if task == "multiclass":
        y = np.eye(C, dtype=np.float32)[rng.integers(0, C, n)]
    elif task == "regression":  # the value sets the amplitude of the signal (ECG sine / image square)
        y = rng.uniform(20.0, 80.0, (n, C)).astype(np.float32)
    else:
        y = (rng.random((n, C)) < 0.4).astype(np.float32)
    if modality == "ecg":
        t = np.arange(T) / T
        x = 0.5 * rng.standard_normal((n, 12, T))
        for c, cls in enumerate(classes):
            phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
            amp = y[:, c, None, None] / 60.0 if task == "regression" else y[:, c, None, None]
            x += amp * np.sin(2 * np.pi * FREQS[signal[cls]] * t + phase)
        x = x.astype(np.float16)
        sample_shape, dtype = [12, T], "float16"
    else:
        x = rng.normal(80, 25, (n, 1, S, S))
        for c, cls in enumerate(classes):
            k = signal[cls]
            r, q = 4 + 12 * (k // 2), 4 + 12 * (k % 2)
            x[y[:, c] > 0, :, r : r + 8, q : q + 8] += 120
        x = np.clip(x, 0, 255).astype(np.uint8)
        sample_shape, dtype = [1, S, S], "uint8"
    if shuffle_labels:
        y = y[rng.permutation(n)]
    if nan_fraction:
        y[rng.random(y.shape) < nan_fraction] = np.nan
    split_of = np.concatenate([[s] * k for s, k in splits.items()])
    root.mkdir(parents=True)
    (root / "shards").mkdir()
    for k in range(math.ceil(n / shard_size)):
        np.save(root / shard_name(k), x[k * shard_size : (k + 1) * shard_size])
    rows = [
        {
            "sample_id": f"{name}-{i:05d}",
            "patient_id": f"p{i}",
            "dataset": name,
            "modality": modality,
            "split": str(split_of[i]),
            "source_labels": json.dumps([c for c, v in zip(classes, y[i], strict=True) if v == 1]),
            "target": [float(v) for v in y[i]],
            "source_uri": f"toy://{name}/{i}",
            "source_sha256": "0" * 64,
            "shard": i // shard_size,
            "offset": i % shard_size,
            "shape": sample_shape,
            "sampling_rate": 500.0 if modality == "ecg" else None,
            "orig_sampling_rate": 500.0 if modality == "ecg" else None,
            "age": 50.0,
            "sex": "F",
        }
        for i in range(n)
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), root / MANIFEST)
    labels = {
        "dataset": name,
        "modality": modality,
        "task": task,
        "classes": classes,
        "sample_shape": sample_shape,
        "dtype": dtype,
    }
    (root / LABELS).write_text(json.dumps(labels))
    return root
